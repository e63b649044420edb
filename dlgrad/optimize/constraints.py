"""Constraints for scipy.optimize.minimize with functions of dlarrays: compiled, with their Jacobians.

A constraint given as scipy's dict ({"type": "ineq", "fun": c}) or as a NonlinearConstraint has
its function compiled like the objective (same parameters layout; its own static `args`), and
gets its compiled Jacobian (dljacobian) unless one was given; a NonlinearConstraint given no
derivatives also gets its compiled Hessian (sum_i v_i H_i, what trust-constr asks for).
LinearConstraint and Bounds pass through unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .objective import Compiled


class ConstraintFunction(Compiled):
    """A constraint c(params, *args) compiled: c(x) -> values, c.jac(x) -> (m, n), c.hess(x, v)."""

    def __call__(self, x: Any) -> np.ndarray:
        """The constraint's values at x, a vector."""
        return self._call("constraint", x)._data

    def jac(self, x: Any) -> np.ndarray:
        """The constraint's Jacobian at x, (m, n)."""
        return self._call("constraint_jacobian", x)._data

    def hess(self, x: Any, v: Any) -> np.ndarray:
        """sum_i v_i times the Hessian of c_i at x, (n, n) (what trust-constr asks for)."""
        return self._call("constraint_hessian", x, self.box(v, "v"))._data


def compile_constraints(constraints: Any, layout, sample=None) -> Any:
    """scipy's `constraints` argument with every function of dlarrays compiled; their random
    draws use the objective's key (`sample`, its Sample), so all see one sample."""
    if constraints is None:
        return ()
    single = isinstance(constraints, dict) or not isinstance(constraints, (list, tuple))
    items = [constraints] if single else list(constraints)
    compiled = [_one(c, layout, i, sample) for i, c in enumerate(items)]
    return compiled[0] if single else compiled


def _compiled(fun: Callable, args, layout, where: str, sample) -> ConstraintFunction:
    if not callable(fun):
        raise TypeError(f"{where}: 'fun' must be a function of the parameters, got {type(fun).__name__}")
    c = ConstraintFunction(fun, tuple(args))
    c.layout = layout
    if sample is not None:
        c.sample = sample
    return c


def _one(constraint, layout, index, sample):
    from scipy.optimize import LinearConstraint, NonlinearConstraint
    where = f"constraints[{index}]"
    if isinstance(constraint, dict):
        if "fun" not in constraint or constraint.get("type") not in ("eq", "ineq"):
            raise ValueError(f"{where}: expected a dict with 'type' ('eq' or 'ineq') and 'fun', got keys "
                             f"{sorted(constraint)}")
        c = _compiled(constraint["fun"], constraint.get("args", ()), layout, where, sample)
        new = {"type": constraint["type"], "fun": c, "jac": constraint.get("jac") or c.jac}
        return new
    if isinstance(constraint, NonlinearConstraint):
        c = _compiled(constraint.fun, (), layout, where, sample)
        given = not isinstance(constraint.jac, str)
        return NonlinearConstraint(c, constraint.lb, constraint.ub,
                                   jac=constraint.jac if given else c.jac,
                                   hess=constraint.hess if given else c.hess,
                                   keep_feasible=constraint.keep_feasible,
                                   finite_diff_rel_step=constraint.finite_diff_rel_step,
                                   finite_diff_jac_sparsity=constraint.finite_diff_jac_sparsity)
    if isinstance(constraint, LinearConstraint):
        return constraint
    raise TypeError(f"{where}: expected a dict, a NonlinearConstraint or a LinearConstraint, got "
                    f"{type(constraint).__name__}")
