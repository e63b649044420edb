"""MATLAB's CheckMode="tolerance" for accelerated functions: each call is also evaluated afresh
(the Python body traced again, the graph run by the numpy interpreter, no cache) and a
difference beyond CheckTolerance is reported, which catches a cached trace that no longer
matches what the function computes (a value it reads changed in a way no guard sees)."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from . import tree
from .dlarray import dlarray
from .retrace import label

MODES = ("none", "tolerance")


class AccelerationCheckWarning(UserWarning):
    """An accelerated function's result differs from the uncompiled evaluation."""


def check_mode(value: Any) -> str:
    """The validated CheckMode, lower case."""
    mode = str(value).lower() if isinstance(value, str) else value
    if mode not in MODES:
        raise ValueError(f"CheckMode must be 'none' or 'tolerance', got {value!r}")
    return mode


def check_tolerance(value: Any) -> float:
    """The validated CheckTolerance, a positive finite float."""
    try:
        tol = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"CheckTolerance must be a positive number, got {value!r}") from None
    if not tol > 0 or not np.isfinite(tol):
        raise ValueError(f"CheckTolerance must be a positive finite number, got {value!r}")
    return tol


def _array(x: Any) -> np.ndarray[Any, Any]:
    return np.asarray(x._data if isinstance(x, dlarray) else x)


def reference(fn: Any, args: Any, kwargs: Any) -> Any:
    """fn evaluated uncompiled on args (None when called inside another trace). Run it before the
    compiled call: that call may overwrite donated arguments in place."""
    from .cache import call_signature, compile_call
    from .random import replaying
    from .tree import TracedArgument
    try:
        _, arrays = call_signature(args, kwargs)
    except TracedArgument:   # called inside another trace: nothing is evaluated to compare
        return None
    with replaying():   # random draws read the key the compiled call then draws with
        return (compile_call(fn, args, kwargs, reference=True)(arrays),)


def compare(fn: Any, result: Any, expected: Any, tolerance: Any) -> Any:
    """Warn when `result` differs from `expected` (reference's answer): |a - b| > tol * (1 + |b|)."""
    if expected is None:
        return
    expected = expected[0]
    got, want = tree.flatten(result)[0], tree.flatten(expected)[0]
    if len(got) != len(want):
        warnings.warn(f"AcceleratedFunction {label(fn)}: the uncompiled evaluation returns "
                      f"{len(want)} values, the cached one {len(got)}", AccelerationCheckWarning, stacklevel=3)
        return
    for k, (a, b) in enumerate(zip(got, want)):
        if not isinstance(b, (dlarray, np.ndarray)):
            continue
        a, b = _array(a), _array(b)
        if a.shape != b.shape:
            warnings.warn(f"AcceleratedFunction {label(fn)}: output {k} has shape {a.shape}, the "
                          f"uncompiled evaluation {b.shape}", AccelerationCheckWarning, stacklevel=3)
            continue
        with np.errstate(invalid="ignore"):
            bad = ~((np.abs(a - b) <= tolerance * (1 + np.abs(b))) | ((a == b) | (np.isnan(a) & np.isnan(b))))
        if bad.any():
            i = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
            warnings.warn(f"AcceleratedFunction {label(fn)}: output {k} differs from the uncompiled "
                          f"evaluation beyond CheckTolerance {tolerance:g} at {bad.sum()} elements "
                          f"(at {i}: {a[i]!r} vs {b[i]!r}); a value the function reads may have changed "
                          f"without a retrace: clearCache() or pass it as an argument",
                          AccelerationCheckWarning, stacklevel=3)
