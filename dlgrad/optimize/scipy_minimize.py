"""minimize(fn, x0, ...): scipy.optimize.minimize with fn compiled and the derivatives each method uses.

Every gradient-based method gets jac=True (value and gradient from one native call); the
methods that use second derivatives get the compiled Hessian-vector product (Newton-CG,
trust-ncg, trust-krylov, trust-constr) or the compiled Hessian (dogleg, trust-exact, which need
the matrix); methods without derivatives (Nelder-Mead, Powell, COBYLA, COBYQA) get the value
alone. Bounds pass through; constraints are compiled with their Jacobians (constraints.py).
"""
from __future__ import annotations

from typing import Any, Callable

from .constraints import compile_constraints
from .objective import Objective

_NO_DERIVATIVES = {"nelder-mead", "powell", "cobyla", "cobyqa"}
_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_HESS = {"dogleg", "trust-exact"}


def minimize(fn: Callable, x0: Any, *static: Any, method: str | None = None, constraints: Any = None,
             **options: Any) -> Any:
    """scipy.optimize.minimize of fn(params, *static) from x0 (an array or a dict/list of arrays).

    Passes `jac`, `hessp` or `hess` as `method` needs them, compiled from fn; `options` (bounds,
    tol, callback, options, ...) go to scipy as they are, and `constraints` with their functions
    compiled. The result is scipy's OptimizeResult (x, jac: flat vectors) with `params`, the
    solution in x0's shape or structure.
    """
    try:
        import scipy.optimize
    except ImportError as exc:
        raise ImportError("dlgrad.optimize.minimize needs scipy: pip install 'dlgrad[scipy]'") from exc
    if not isinstance(method, (str, type(None))):
        raise TypeError(f"method: expected a scipy.optimize.minimize method name, got {type(method).__name__}"
                        f" (pass your own callable method to scipy.optimize.minimize with objective(fn))")
    obj = Objective(fn, static, x0)
    x = obj.x0(x0)
    name = (method or "").lower()
    for given in ("jac", "hess", "hessp"):
        if given in options:
            raise TypeError(f"minimize computes {given!r} from fn; to pass your own, call "
                            f"scipy.optimize.minimize(dlgrad.optimize.objective(fn), ...) instead")
    if name in _NO_DERIVATIVES:
        derivatives = {}
        fun = obj.value
    else:
        fun, derivatives = obj, {"jac": True}
        if name in _HESSP:
            derivatives["hessp"] = obj.hessp
        elif name in _HESS:
            derivatives["hess"] = obj.hess
    if constraints is not None:
        options["constraints"] = compile_constraints(constraints, obj.layout, obj.sample)
    result = scipy.optimize.minimize(fun, x, method=method, **derivatives, **options)
    result.params = obj.params(result.x)
    return result
