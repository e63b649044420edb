"""lbfgsupdate and lbfgsState: limited-memory BFGS with a line search, in MATLAB's form (R2023a).

    lossFcn = lambda net: dlfeval(model_loss, net, X, T)    # returns (loss, gradients)
    solverState = lbfgsState()                              # or None (MATLAB's [])
    for i in range(maxIterations):
        net, solverState = lbfgsupdate(net, lossFcn, solverState)
        if solverState.LineSearchStatus == "failed": break

The parameters (a dlnetwork's Learnables, a Learnables table, a dlarray or a nested structure
of them) are flattened into one float64 vector. The update is

    W_{k+1} = W_k - eta_k * H_k g_k,

H_k the L-BFGS inverse-Hessian approximation built by the two-loop recursion from the last
HistorySize pairs (s = W_{k+1} - W_k, y = g_{k+1} - g_k), with initial matrix lambda_k * I:
lambda_0 = InitialInverseHessianFactor (or InitialStepSize / ||g_0||_inf when InitialStepSize
is given), then lambda_k = s'y / y'y of the newest pair. eta_k comes from the line search,
which tries eta = 1 first. A pair joins the history only when s'y > 0 (the curvature condition),
which keeps H_k positive definite.

The two-loop recursion and the line search are numpy on the flat vector: they run once per
iteration and cost a few dot products over the history, while every evaluation of lossFcn is a
compiled dlfeval call. The loss and gradients at the new point are kept in the state, so each
iteration evaluates lossFcn only inside its line search (the first call also evaluates it once
at the starting point).
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from .. import tree
from ..dlarray import dlarray
from ..formats import labelled
from .network import dlnetwork
from ..namevalue import name_value

Vector = npt.NDArray[np.float64]
Point = tuple[Any, ...]          # (loss, parameters, flat gradient, loss, gradients, extra, slope)
Phi = Callable[[float], Point]
SearchResult = tuple[Any, Any, bool]   # (step, point, success): (None, None, False) on failure

_METHODS = ("weak-wolfe", "strong-wolfe", "backtracking")
_C1, _C2 = 1e-4, 0.9          # sufficient decrease (Armijo) and curvature constants


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _positive_real(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if isinstance(value, bool) or not math.isfinite(out) or out <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return out


def _method(value: Any) -> str:
    method = str(value).lower() if isinstance(value, str) else value
    if method not in _METHODS:
        raise ValueError(f"LineSearchMethod must be one of {', '.join(map(repr, _METHODS))}, "
                         f"got {value!r}")
    return method


class lbfgsState:
    """The state of an L-BFGS solver: lbfgsState(HistorySize=10, InitialInverseHessianFactor=1,
    InitialStepSize=None).

    InitialStepSize: None (the default) uses InitialInverseHessianFactor for the first step;
    a positive number s0 uses lambda_0 = s0 / ||g_0||_inf; "auto" uses
    s0 = 0.1 * ||W_0||_inf (InitialInverseHessianFactor when W_0 is all zeros).

    Fields updated by lbfgsupdate:
      Iteration              the number of lbfgsupdate calls so far
      Loss, Gradients        lossFcn's outputs at the current parameters (Gradients in the
                             parameters' structure); None before the first call
      AdditionalLossFunctionOutputs  lossFcn's outputs after the first two, if any
      StepSize               the step eta accepted by the last line search (0 if it moved nothing)
      LineSearchStatus       "" before the first call, then "completed" or "failed"
      LineSearchMethod, MaximumNumLineSearchIterations   the options of the last call
      StepHistory, GradientsDifferenceHistory   the stored pairs s and y as flat float64 vectors
                             (all parameters concatenated in leaf order), oldest first
      HistoryIndices         the positions of the stored pairs, oldest first
    """

    StepHistory: list[Vector]
    GradientsDifferenceHistory: list[Vector]
    InitialStepSize: Any          # None, "auto" or a positive number
    Loss: Any
    Gradients: Any
    StepSize: Any
    _f: Any
    _g: Any

    @name_value(0)   # MATLAB's lbfgsState takes name-value pairs only
    def __init__(self, HistorySize: int = 10, InitialInverseHessianFactor: float = 1,
                 InitialStepSize: float | str | None = None) -> None:
        self.HistorySize = _positive_int(HistorySize, "HistorySize")
        self.InitialInverseHessianFactor = _positive_real(InitialInverseHessianFactor,
                                                          "InitialInverseHessianFactor")
        if InitialStepSize is not None and not (isinstance(InitialStepSize, str)
                                                and InitialStepSize.lower() == "auto"):
            InitialStepSize = _positive_real(InitialStepSize, 'InitialStepSize (None, "auto" or a number)')
        self.InitialStepSize = InitialStepSize.lower() if isinstance(InitialStepSize, str) else InitialStepSize
        self.StepHistory, self.GradientsDifferenceHistory = [], []
        self.Iteration = 0
        self.Loss = self.Gradients = None
        self.AdditionalLossFunctionOutputs = ()
        self.StepSize = None
        self.LineSearchStatus = ""
        self.LineSearchMethod = "weak-wolfe"
        self.MaximumNumLineSearchIterations = 20
        self._f = self._g = None      # Loss and Gradients as a float and a flat vector

    @property
    def HistoryIndices(self) -> list[int]:
        return list(range(len(self.StepHistory)))

    def _copy(self) -> lbfgsState:
        new = copy.copy(self)
        new.StepHistory, new.GradientsDifferenceHistory = list(self.StepHistory), list(self.GradientsDifferenceHistory)
        return new

    def __repr__(self) -> str:
        loss = "[]" if self._f is None else f"{self._f:.6g}"
        return (f"lbfgsState(Iteration={self.Iteration}, Loss={loss}, StepSize={self.StepSize}, "
                f"LineSearchStatus={self.LineSearchStatus!r}, history {len(self.StepHistory)}/"
                f"{self.HistorySize})")


# --- parameters as one flat vector ---------------------------------------------------------------

class _Flat:
    """The parameter leaves of net_or_params and the way back from a flat vector."""

    def __init__(self, params: Any) -> None:
        self.params = params
        target = params.Learnables if isinstance(params, dlnetwork) else params
        leaves, self.treedef = tree.flatten(target)
        if not leaves:
            raise ValueError("lbfgsupdate: there are no parameters to update")
        for leaf in leaves:
            if not isinstance(leaf, (dlarray, np.ndarray)):
                raise TypeError(f"lbfgsupdate: parameters must hold dlarrays or numpy arrays, "
                                f"got {type(leaf).__name__}")
            if getattr(leaf, "_node", None) is not None:
                raise TypeError("lbfgsupdate runs its own evaluations of lossFcn: call it outside "
                                "dlfeval, with lossFcn calling dlfeval")
        arrays = [np.asarray(leaf) for leaf in leaves]
        for a in arrays:
            if a.dtype.kind != "f":
                raise TypeError(f"lbfgsupdate: parameters must be floating point, got {a.dtype}")
        self.fmts = [leaf._fmt if isinstance(leaf, dlarray) else None for leaf in leaves]
        self.shapes = [a.shape for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        self.sizes = [a.size for a in arrays]
        self.x = np.concatenate([a.astype(np.float64).ravel() for a in arrays])

    def rebuild(self, x: Vector) -> Any:
        leaves, start = [], 0
        for shape, dtype, size, fmt in zip(self.shapes, self.dtypes, self.sizes, self.fmts):
            a = x[start:start + size].reshape(shape).astype(dtype)
            leaves.append(labelled(a, fmt) if fmt else dlarray(a))
            start += size
        new = tree.unflatten(self.treedef, leaves)
        return self.params.with_learnables(new) if isinstance(self.params, dlnetwork) else new

    def evaluate(self, lossFcn: Callable[[Any], Any], params: Any) -> tuple[float, Vector, Any, Any, tuple[Any, ...]]:
        """(loss as a float, flat gradient, loss as returned, gradients as returned, extra outputs)."""
        out = lossFcn(params)
        if not isinstance(out, (tuple, list)) or len(out) < 2:
            raise TypeError("lbfgsupdate: lossFcn must return (loss, gradients), for example "
                            "lambda net: dlfeval(model_loss, net, X, T) with model_loss returning "
                            f"loss, dlgradient(loss, net.Learnables); got {type(out).__name__}")
        loss, grads, extra = out[0], out[1], tuple(out[2:])
        value = np.asarray(loss, dtype=np.float64)
        if value.size != 1:
            raise ValueError(f"lbfgsupdate: lossFcn's loss must be a scalar, got shape {value.shape}")
        target = grads.Learnables if isinstance(grads, dlnetwork) else grads
        leaves, _ = tree.flatten(target)
        if len(leaves) != len(self.sizes):
            raise ValueError(f"lbfgsupdate: lossFcn returned {len(leaves)} gradient arrays but there "
                             f"are {len(self.sizes)} parameters: return the gradients with respect "
                             "to the parameters lbfgsupdate was given")
        flat = []
        for i, (leaf, shape) in enumerate(zip(leaves, self.shapes)):
            g = np.asarray(leaf, dtype=np.float64)
            if g.shape != shape:
                raise ValueError(f"lbfgsupdate: gradient {i} has shape {g.shape} but its parameter "
                                 f"has shape {shape}")
            flat.append(g.ravel())
        return float(value.reshape(())), np.concatenate(flat), loss, grads, extra


# --- the search direction -----------------------------------------------------------------------

def _initial_factor(state: lbfgsState, x: Vector, g: Vector) -> float:
    if state.InitialStepSize is None:
        return state.InitialInverseHessianFactor
    gmax = float(np.max(np.abs(g)))
    s0 = 0.1 * float(np.max(np.abs(x))) if state.InitialStepSize == "auto" else state.InitialStepSize
    if s0 == 0 or gmax == 0:
        return state.InitialInverseHessianFactor
    return s0 / gmax


def _direction(state: lbfgsState, x: Vector, g: Vector) -> Vector:
    """-H g by the two-loop recursion over the stored pairs (oldest first in the state)."""
    pairs = list(zip(state.StepHistory, state.GradientsDifferenceHistory))
    if not pairs:
        return -_initial_factor(state, x, g) * g
    q, alphas = g.copy(), []
    for s, y in reversed(pairs):
        a = (s @ q) / (y @ s)
        q -= a * y
        alphas.append(a)
    s, y = pairs[-1]
    r = ((s @ y) / (y @ y)) * q
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = (y @ r) / (y @ s)
        r += (a - b) * s
    return -r


# --- line searches: each returns (step, point) with point = evaluate(x + step d) or None ----------

def _weak_wolfe(phi: Phi, f0: float, dg0: float, budget: int) -> SearchResult:
    """Bracketing by bisection/doubling until the weak Wolfe conditions hold."""
    lo, hi, a = 0.0, math.inf, 1.0
    for _ in range(budget):
        point = phi(a)
        f, dg = point[0], point[-1]
        if not math.isfinite(f) or f > f0 + _C1 * a * dg0:
            hi = a
        elif dg < _C2 * dg0:
            lo = a
        else:
            return a, point, True
        a = (lo + hi) / 2 if hi < math.inf else 2 * lo
    return None, None, False


def _cubic_min(a1: float, f1: float, d1: float, a2: float, f2: float, d2: float) -> float:
    """The minimiser of the cubic through (a1, f1, d1), (a2, f2, d2), kept inside the interval."""
    lo, hi = min(a1, a2), max(a1, a2)
    t1 = d1 + d2 - 3 * (f1 - f2) / (a1 - a2)
    disc = t1 * t1 - d1 * d2
    if math.isfinite(disc) and disc >= 0:
        t2 = math.copysign(math.sqrt(disc), a2 - a1)
        denom = d2 - d1 + 2 * t2
        if denom != 0:
            a = a2 - (a2 - a1) * (d2 + t2 - t1) / denom
            width = hi - lo
            if math.isfinite(a):
                return min(max(a, lo + 0.1 * width), hi - 0.1 * width)
    return (lo + hi) / 2


def _strong_wolfe(phi: Phi, f0: float, dg0: float, budget: int) -> SearchResult:
    """Nocedal and Wright's bracketing and zoom (algorithms 3.5 and 3.6), cubic interpolation."""
    evaluations = 0
    prev = (0.0, f0, dg0)
    a = 1.0

    def zoom(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> SearchResult:
        nonlocal evaluations
        while evaluations < budget:
            a = _cubic_min(*lo, *hi) if all(map(math.isfinite, lo + hi)) else (lo[0] + hi[0]) / 2
            point = phi(a)
            evaluations += 1
            f, dg = point[0], point[-1]
            if not math.isfinite(f) or f > f0 + _C1 * a * dg0 or f >= lo[1]:
                hi = (a, f, dg)
            else:
                if abs(dg) <= -_C2 * dg0:
                    return a, point, True
                if dg * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = (a, f, dg)
        return None, None, False

    while evaluations < budget:
        point = phi(a)
        evaluations += 1
        f, dg = point[0], point[-1]
        if not math.isfinite(f) or f > f0 + _C1 * a * dg0 or (evaluations > 1 and f >= prev[1]):
            return zoom(prev, (a, f, dg))
        if abs(dg) <= -_C2 * dg0:
            return a, point, True
        if dg >= 0:
            return zoom((a, f, dg), prev)
        prev, a = (a, f, dg), 2 * a
    return None, None, False


def _backtracking(phi: Phi, f0: float, dg0: float, budget: int) -> SearchResult:
    """Halve the step from 1 until the sufficient-decrease (Armijo) condition holds."""
    a = 1.0
    for _ in range(budget):
        point = phi(a)
        f = point[0]
        if math.isfinite(f) and f <= f0 + _C1 * a * dg0:
            return a, point, True
        a /= 2
    return None, None, False


_SEARCHES = {"weak-wolfe": _weak_wolfe, "strong-wolfe": _strong_wolfe, "backtracking": _backtracking}


@name_value(2, ("solverState",))
def lbfgsupdate(net: Any, lossFcn: Callable[[Any], Any], solverState: lbfgsState | None = None,
                LineSearchMethod: str = "weak-wolfe", MaximumNumLineSearchIterations: int = 20,
                **stateOptions: Any) -> tuple[Any, lbfgsState]:
    """One L-BFGS iteration: (updated net or parameters, updated solverState).

    net: a dlnetwork (its Learnables are updated), a Learnables table, a dlarray or a nested
    structure of them. lossFcn(net) returns (loss, gradients, ...) for parameters of the same kind,
    usually lambda net: dlfeval(model_loss, net, X, T). solverState: an lbfgsState, or None for a
    new one (HistorySize, InitialInverseHessianFactor and InitialStepSize may then be passed here).
    LineSearchMethod: "weak-wolfe" (default), "strong-wolfe" or "backtracking";
    MaximumNumLineSearchIterations: the most lossFcn evaluations one line search may make (20).

    When the line search fails (LineSearchStatus "failed") the parameters move to the best point it
    found if that lowered the loss, else stay; the history is cleared either way, so the next
    iteration starts again from the initial inverse-Hessian factor.
    """
    method = _method(LineSearchMethod)
    budget = _positive_int(MaximumNumLineSearchIterations, "MaximumNumLineSearchIterations")
    if not callable(lossFcn):
        raise TypeError(f"lbfgsupdate: lossFcn must be a function of the parameters, got "
                        f"{type(lossFcn).__name__}")
    if solverState is None:
        state = lbfgsState(**stateOptions)
    elif isinstance(solverState, lbfgsState):
        if stateOptions:
            raise ValueError(f"lbfgsupdate: {', '.join(stateOptions)} belong to lbfgsState; they can be "
                             "passed to lbfgsupdate only when solverState is None")
        state = solverState._copy()
    else:
        raise TypeError(f"lbfgsupdate: solverState must be an lbfgsState or None, got "
                        f"{type(solverState).__name__}")
    state.LineSearchMethod, state.MaximumNumLineSearchIterations = method, budget
    flat = _Flat(net)
    x = flat.x
    if state._g is None or state._g.shape != x.shape:
        state._f, state._g, state.Loss, state.Gradients, state.AdditionalLossFunctionOutputs = \
            flat.evaluate(lossFcn, net)
        state.StepHistory, state.GradientsDifferenceHistory = [], []
    f0, g0 = state._f, state._g
    state.Iteration += 1
    if not math.isfinite(f0):
        raise ValueError(f"lbfgsupdate: the loss at the current parameters is {f0}")

    d = _direction(state, x, g0)
    dg0 = float(d @ g0)
    if not dg0 < 0:           # not a descent direction (rounding): restart from steepest descent
        state.StepHistory, state.GradientsDifferenceHistory = [], []
        d = -_initial_factor(state, x, g0) * g0
        dg0 = float(d @ g0)
    if dg0 == 0:              # zero gradient: a stationary point, nothing to do
        state.StepSize, state.LineSearchStatus = 0.0, "completed"
        return net, state

    best: list[Any] = [None, None]       # (step, point) of the lowest loss seen

    def phi(a: float) -> Point:
        params = flat.rebuild(x + a * d)
        f, g, loss, grads, extra = flat.evaluate(lossFcn, params)
        point = (f, params, g, loss, grads, extra, float(g @ d))
        if math.isfinite(f) and (best[1] is None or f < best[1][0]):
            best[0], best[1] = a, point
        return point

    step, point, ok = _SEARCHES[method](phi, f0, dg0, budget)
    if not ok:
        state.StepHistory, state.GradientsDifferenceHistory = [], []
        if best[1] is None or not best[1][0] < f0:
            state.StepSize, state.LineSearchStatus = 0.0, "failed"
            return net, state
        step, point = best
    f, params, g, loss, grads, extra, _ = point
    s, y = step * d, g - g0
    if ok and s @ y > 1e-12 * (y @ y):
        state.StepHistory.append(s)
        state.GradientsDifferenceHistory.append(y)
        del state.StepHistory[:-state.HistorySize]
        del state.GradientsDifferenceHistory[:-state.HistorySize]
    state._f, state._g = f, g
    state.Loss, state.Gradients, state.AdditionalLossFunctionOutputs = loss, grads, extra
    state.StepSize, state.LineSearchStatus = step, "completed" if ok else "failed"
    return params, state
