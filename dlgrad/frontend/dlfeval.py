"""dlfeval: evaluate a function on dlarrays, traced and compiled once per signature; and lower.

The signature is the structure of the arguments, the shape and dtype of each array leaf
(dlarrays and numpy arrays, which are runtime inputs) and the values of the other
leaves (numbers, strings, None: static). On a hit the Python body never runs again.
"""
from __future__ import annotations

from . import backend
from .accelerate import AcceleratedFunction
from .cache import MISS, cache_for, compile_call, generated_call, native_call
from .capture import Stale, capture
from .tree import TracedArgument, signature


def dlfeval(fn, *args):
    """fn(*args) with every dlarray (and numpy array) leaf of args traced; returns untraced dlarrays.

    Call dlgradient inside fn to get gradients. The first call with a new signature traces fn
    and compiles it; later calls with the same signature run only the compiled code. Scalars and
    small arrays fn reads from closures or globals are guarded (a change retraces); larger arrays
    are frozen at trace time, with a warning: pass changing values as arguments.
    """
    if isinstance(fn, AcceleratedFunction):
        return fn(*args)
    cache = cache_for(fn)
    if cache is not None and cache.fast is not None:   # the signature hit last, unrolled
        result = cache.fast(*args)
        if result is not MISS:
            return result
    try:
        key, arrays = signature(args)
    except TracedArgument:
        return fn(*args)  # inside another dlfeval: record into its trace
    if cache is None:
        return compile_call(fn, args).unguarded(arrays)
    call = cache.entries.get(key)
    if call is None:
        call = cache.miss(fn, args, key)
    else:
        cache.hits += 1
        if key == cache.last:
            fast = call.fast_args
            if fast is None:   # built once per entry; False when its arguments do not allow it
                fast = call.fast_args = (native_call(call, args, cache, _missed)
                                         or generated_call(call, args, cache, "*args") or False)
            cache.fast = fast or None
    cache.last = key
    try:
        return call(arrays)
    except Stale:   # a scalar or small array fn reads from a closure or a global changed
        cache.hits -= 1
        return cache.stale(fn, args, key, call)(arrays)


def _missed(*args):
    return MISS


def lower(fn, *args) -> backend.Lowered:
    """Trace fn on args like dlfeval and return what it compiles to (.graph_text, .c_source)."""
    if isinstance(fn, AcceleratedFunction):
        fn = fn.function
    captured = capture(fn, args)
    return backend.lower_outputs(captured.outputs, captured.specs)
