"""dlfeval: evaluate a function on dlarrays, traced and compiled once per signature; and lower.

The signature is the structure of the arguments, the shape and dtype of each array leaf
(dlarrays and numpy arrays, which are runtime inputs) and the values of the other
leaves (numbers, strings, None: static). On a hit the Python body never runs again.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from . import backend
from .accelerate import AcceleratedFunction
from .cache import MISS, cache_for, sorted_keywords
from .capture import capture

Result = TypeVar("Result")


def dlfeval(fn: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """fn(*args, **kwargs) with every dlarray (and numpy array) leaf traced; returns untraced dlarrays.

    Call dlgradient inside fn to get gradients. The first call with a new signature traces fn
    and compiles it; later calls with the same signature run only the compiled code. Keyword
    arguments are part of the signature like positional ones (arrays traced, other values
    static). Scalars and small arrays fn reads from closures or globals are guarded (a change
    retraces); larger arrays are frozen at trace time, with a warning: pass changing values as
    arguments. A new function object with the same code, closure cells and defaults (a lambda
    written in a loop) uses the same cache.
    """
    if isinstance(fn, AcceleratedFunction):
        return fn(*args, **kwargs)
    cache = cache_for(fn)
    fast = cache.__call__   # the fast slot (read directly: one lookup less than calling the cache)
    result = fast(*args, **kwargs) if kwargs else fast(*args)
    if result is MISS:
        return cache.dispatch(fn, args, kwargs)
    return result


def lower(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> backend.Lowered:
    """Trace fn on args like dlfeval and return what it compiles to (.graph_text, .c_source)."""
    if isinstance(fn, AcceleratedFunction):
        fn = fn.function
    captured = capture(fn, args, sorted_keywords(kwargs)) if kwargs else capture(fn, args)
    return backend.lower_outputs(captured.outputs, captured.specs)
