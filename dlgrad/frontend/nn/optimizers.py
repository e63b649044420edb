"""adamupdate, sgdmupdate, rmspropupdate with MATLAB's signatures, defaults and formulas.

Parameters may be a dlnetwork (its Learnables are updated), a Learnables table, a dlarray
or any nested structure of them; gradients and optimizer state have the same structure
(state starts as None, MATLAB's []). Every update is one compiled call over all
parameters: the step functions below are dlaccelerate'd, with the hyperparameters as
runtime inputs so that a learning-rate schedule never retraces. Called inside a function
given to dlfeval, they are traced into it instead.

Where parameters, gradients and state are Learnables tables (or the networks holding them) with
learnables, their value lists go straight to the compiled step: its native call path checks them
against a signature that only checked, normalized arguments create (_compiled).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import tree
from ..accelerate import dlaccelerate
from ..dispatch import asdlarray, cast
from ..dlarray import dlarray
from ..functions import sqrt
from ..formats import FormatError
from .factors import leaf_factors, nonnegative
from .network import Learnables, dlnetwork

Leaves = list[dlarray]


def _leaves(x: Any, what: str) -> tuple[Leaves, Any]:
    leaves, treedef = tree.flatten(x)
    for leaf in leaves:
        if not isinstance(leaf, (dlarray, np.ndarray)):
            raise TypeError(f"{what} must hold dlarrays or numpy arrays, got {type(leaf).__name__}")
    return [asdlarray(leaf) for leaf in leaves], treedef  # one signature for numpy and dlarray leaves


def _prepare(params: Any, grad: Any, *states: Any) -> list[Any]:
    """(parameter leaves, their structure, gradient leaves, state leaves (zeros for None))."""
    target = params.Learnables if isinstance(params, dlnetwork) else params
    grad = grad.Learnables if isinstance(grad, dlnetwork) else grad
    p, treedef = _leaves(target, "parameters")
    return [p, treedef, *_checked(p, grad, states)[1:]]


def _checked(p: Any, grad: Any, states: Any) -> list[Leaves]:
    """[parameter leaves, gradient leaves, state leaves (zeros for None)] of these structures,
    as dlarrays, the gradients' number and shapes and the states' number checked."""
    p, _ = _leaves(p, "parameters")
    g, _ = _leaves(grad, "gradients")
    if len(g) != len(p):
        raise FormatError(f"the gradients have {len(g)} arrays but the parameters {len(p)}: pass the "
                          "gradients dlgradient returned for these parameters")
    for i, (a, b) in enumerate(zip(p, g)):
        if a.shape != b.shape:
            raise FormatError(f"gradient {i} has shape {b.shape} but its parameter has shape {a.shape}")
    out = [p, g]
    for state in states:
        if state is None or _matlab_empty(state):   # MATLAB starts the state as []
            out.append([asdlarray(np.zeros(a.shape, a.dtype)) for a in p])
        else:
            s, _ = _leaves(state, "optimizer state")
            if len(s) != len(p):
                raise FormatError(f"the optimizer state has {len(s)} arrays but the parameters "
                                  f"{len(p)}: pass the state returned by the previous call (None at first)")
            out.append(s)
    return out


def _matlab_empty(state: Any) -> bool:
    """MATLAB's [] (an empty list or an empty array) as a first optimizer state."""
    return (isinstance(state, list) and not state) or (isinstance(state, (np.ndarray, dlarray)) and state.size == 0)


def _finish(params: Any, treedef: Any, new_params: Leaves, *states: Leaves) -> tuple[Any, ...]:
    new = tree.unflatten(treedef, new_params)
    result = params.with_learnables(new) if isinstance(params, dlnetwork) else new
    return (result, *(tree.unflatten(treedef, s) for s in states))


def _tables(params: Any, grad: Any, states: tuple[Any, ...]) -> tuple[Any, list[Leaves]] | None:
    """(keys, value lists) when params and grad (or the networks holding them) and the states
    are Learnables tables with rows: the value lists are their leaves. Else None."""
    target: Any = params.Learnables if type(params) is dlnetwork else params
    grad = grad.Learnables if type(grad) is dlnetwork else grad
    tables = (target, grad, *states)
    for table in tables:
        if type(table) is not Learnables:
            return None
    if not target._values:
        return None
    return target._keys, [table._values for table in tables]


_BASES: dict[Any, Any] = {}   # (id(architecture), id(keys), count, width, l2 on) -> (architecture, keys, base)


def _table_hyper(params: Any, keys: Any, count: int, first: Any, rest: tuple[Any, ...],
                 l2: float) -> npt.NDArray[np.float64]:
    """_hyper(_rows(...)) for a table's (or network's) leaves: a cached base of factors
    (learn-rate, 1, ..., L2) times the row (first, *rest, l2), which gives the same numbers
    (first * 1 is first; products commute)."""
    arch = params._arch if type(params) is dlnetwork else None
    width = 1 + len(rest) + (1 if l2 else 0)
    key = (id(arch), id(keys), count, width, bool(l2))
    found = _BASES.get(key)
    if found is None or found[0] is not arch or found[1] is not keys:
        lr, decay = leaf_factors(params, count)
        base = np.ones((count, width))
        base[:, 0] = lr
        if l2:
            base[:, -1] = decay
        if len(_BASES) >= 64:
            _BASES.clear()
        found = _BASES[key] = (arch, keys, base)
    return found[2] * np.array([first, *rest, l2] if l2 else [first, *rest], dtype=np.float64)


def _apply(compiled: Any, params: Any, grad: Any, states: tuple[Any, ...], first: Any,
           rest: tuple[Any, ...], l2: float) -> tuple[Any, ...]:
    """compiled(p, g, *states, hyperparameters) on the leaves of the arguments, results in their
    structure: tables go straight in (see _compiled), other structures through _prepare."""
    fast = _tables(params, grad, states)
    if fast is not None:
        keys, lists = fast
        new = compiled(*lists, _table_hyper(params, keys, len(lists[0]), first, rest, l2))
        tables = [Learnables._make(keys, values) for values in new]
        return (params.with_learnables(tables[0]) if isinstance(params, dlnetwork) else tables[0], *tables[1:])
    p, treedef, g, *s = _prepare(params, grad, *states)
    rows = _rows(params, p, first, rest, l2)
    return _finish(params, treedef, *compiled(p, g, *s, _hyper(rows)))


def _rows(params: Any, p: Leaves, first: Any, rest: tuple[Any, ...], l2: float) -> list[tuple[Any, ...]]:
    """One row of hyperparameters per parameter leaf: (first * its learn-rate factor, *rest),
    then l2 * its L2 factor when L2 regularization is on (see factors.py)."""
    lr, decay = leaf_factors(params, len(p))
    rows: list[tuple[Any, ...]] = []
    for f, d in zip(lr, decay):
        row = (first if f == 1 else first * f, *rest)
        rows.append(row + (l2 * d,) if l2 else row)
    return rows


def _hyper(rows: list[tuple[Any, ...]]) -> npt.NDArray[np.float64]:
    return np.array(rows, dtype=np.float64)


def _scalars(row: Any, like: dlarray) -> Leaves:
    n = row.shape[0] if hasattr(row, "shape") else len(row)
    return [cast(row[i], like.dtype) for i in range(n)]


def _regularized(gi: dlarray, pi: dlarray, l2: Leaves) -> dlarray:
    """The gradient of loss + l2/2 |p|^2 when L2 regularization is on (a fourth or later hyperparameter)."""
    return gi + l2[0] * pi if l2 else gi


def _adam_step(p: Leaves, g: Leaves, m: Leaves, v: Leaves, h: Any) -> tuple[Leaves, Leaves, Leaves]:
    new_p, new_m, new_v = [], [], []
    for i, (pi, gi, mi, vi) in enumerate(zip(p, g, m, v)):
        step, b1, b2, eps, *l2 = _scalars(h[i], pi)
        gi = _regularized(gi, pi, l2)
        mi = b1 * mi + (1 - b1) * gi
        vi = b2 * vi + (1 - b2) * (gi * gi)
        new_p.append(pi - step * mi / (sqrt(vi) + eps))
        new_m.append(mi)
        new_v.append(vi)
    return new_p, new_m, new_v


def _sgdm_step(p: Leaves, g: Leaves, vel: Leaves, h: Any) -> tuple[Leaves, Leaves]:
    new_p, new_vel = [], []
    for i, (pi, gi, vi) in enumerate(zip(p, g, vel)):
        lr, momentum, *l2 = _scalars(h[i], pi)
        vi = momentum * vi - lr * _regularized(gi, pi, l2)
        new_p.append(pi + vi)
        new_vel.append(vi)
    return new_p, new_vel


def _rmsprop_step(p: Leaves, g: Leaves, v: Leaves, h: Any) -> tuple[Leaves, Leaves]:
    new_p, new_v = [], []
    for i, (pi, gi, vi) in enumerate(zip(p, g, v)):
        lr, b2, eps, *l2 = _scalars(h[i], pi)
        gi = _regularized(gi, pi, l2)
        vi = b2 * vi + (1 - b2) * (gi * gi)
        new_p.append(pi - lr * gi / (sqrt(vi) + eps))
        new_v.append(vi)
    return new_p, new_v


def _compiled(step: Any) -> Any:
    """step accelerated; every call its fast slot does not serve (a miss, or arguments that need
    converting or checking) is checked and normalized by _checked before it reaches the cache, so
    each signature it holds is one of checked lists of dlarrays (and a hit needs no checks)."""
    accfun = dlaccelerate(step)
    dispatch = accfun._dispatch

    def checked(p: Any, g: Any, *rest: Any) -> Any:
        *states, h = rest
        return dispatch(*_checked(p, g, states), h)
    accfun.slow = accfun.__call__ = checked
    return accfun


_adam, _sgdm, _rmsprop = _compiled(_adam_step), _compiled(_sgdm_step), _compiled(_rmsprop_step)


def adamupdate(net: Any, grad: Any, averageGrad: Any, averageSqGrad: Any, iteration: float | dlarray,
               learnRate: float = 0.001, gradDecay: float = 0.9, sqGradDecay: float = 0.999,
               epsilon: float = 1e-8, *, L2Regularization: float = 0.0) -> tuple[Any, ...]:
    """Adam: (updated net, averageGrad, averageSqGrad).

    m = gradDecay m + (1 - gradDecay) g;  v = sqGradDecay v + (1 - sqGradDecay) g^2;
    p -= learnRate sqrt(1 - sqGradDecay^t) / (1 - gradDecay^t) * m / (sqrt(v) + epsilon)
    (bias correction folded into the step size, epsilon added to the uncorrected root).
    Inside a compiled training step pass `iteration` as a dlarray (an argument of the step):
    a Python number is part of the traced signature, so each new value would retrace.
    A dlnetwork's learn-rate factors scale learnRate per parameter; L2Regularization=λ adds
    λ * L2Factor * p to each gradient (MATLAB's trainingOptions semantics; see factors.py).
    """
    if isinstance(iteration, dlarray) and iteration._node is None:
        if iteration.size != 1:
            raise ValueError(f"adamupdate: iteration must be a scalar, got shape {iteration.shape}")
        iteration = iteration._data.item()
    if not isinstance(iteration, dlarray) and (isinstance(iteration, (str, bool, np.bool_))
                                               or not isinstance(iteration, (int, float, np.number))):
        raise TypeError(f"adamupdate: iteration must be a positive integer (1 at the first call), "
                        f"got {iteration!r}")
    if isinstance(iteration, dlarray):
        # traced (a training step compiled once for every iteration): the bias corrections
        # in double, as 1 - 0.999^t in float32 would lose three of its digits
        p, treedef, g, m, v = _prepare(net, grad, averageGrad, averageSqGrad)
        if iteration.size != 1:
            raise ValueError(f"adamupdate: iteration must be a scalar, got shape {iteration.shape}")
        t = cast(iteration, np.float64)
        step = learnRate * sqrt(1 - sqGradDecay ** t) / (1 - gradDecay ** t)
        rows = _rows(net, p, step, (gradDecay, sqGradDecay, epsilon), _l2(L2Regularization))
        new_p, new_m, new_v = _adam_step(p, g, m, v, rows)
        return _finish(net, treedef, new_p, new_m, new_v)
    if not iteration >= 1:
        raise ValueError(f"adamupdate: iteration must be a positive integer (1 at the first call), got {iteration}")
    step = learnRate * math.sqrt(1 - sqGradDecay ** iteration) / (1 - gradDecay ** iteration)
    return _apply(_adam, net, grad, (averageGrad, averageSqGrad), step, (gradDecay, sqGradDecay, epsilon),
                  _l2(L2Regularization))


def sgdmupdate(net: Any, grad: Any, vel: Any, learnRate: float = 0.01, momentum: float = 0.9, *,
               L2Regularization: float = 0.0) -> tuple[Any, ...]:
    """SGD with momentum: vel = momentum vel - learnRate g; p += vel. Returns (net, vel).
    Learn-rate factors and L2Regularization as in adamupdate."""
    return _apply(_sgdm, net, grad, (vel,), learnRate, (momentum,), _l2(L2Regularization))


def rmspropupdate(net: Any, grad: Any, averageSqGrad: Any, learnRate: float = 0.001, sqGradDecay: float = 0.9,
                  epsilon: float = 1e-8, *, L2Regularization: float = 0.0) -> tuple[Any, ...]:
    """RMSProp: v = sqGradDecay v + (1 - sqGradDecay) g^2; p -= learnRate g / (sqrt(v) + epsilon).
    Learn-rate factors and L2Regularization as in adamupdate."""
    return _apply(_rmsprop, net, grad, (averageSqGrad,), learnRate, (sqGradDecay, epsilon), _l2(L2Regularization))


def _l2(value: Any) -> float:
    return nonnegative(value, "L2Regularization")

