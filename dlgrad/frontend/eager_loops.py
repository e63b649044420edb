"""Eager recurrences run compiled: outside dlfeval, scan, lstm and gru trace their loop once per
signature and run the compiled program (the path of dlfeval's cache) instead of stepping in Python.

A Python loop over T steps costs T times the dispatch of every op in the step (seconds for a
long sequence); the compiled loop costs one call. `compiled_when_eager(fn)` gives fn its own
signature cache, used when fn is called outside any trace. `run_scan` does the same for a scan
step, one cache per step function (by code, globals, closure cells and defaults, as dlfeval
shares a cache between the lambdas written in a loop); a step that cannot be traced (Python
control flow on its values, numpy calls on them, dlgradient, which needs dlfeval) keeps the
Python loop, as before: its values and its errors are the eager ones.
"""
from __future__ import annotations

import functools
import types
from typing import Any, Callable, TypeVar

from . import trace as tracing
from .cache import SignatureCache, _defaults_token
from .dlarray import dlarray

Fn = TypeVar("Fn", bound=Callable[..., Any])
MAX_STEPS = 64   # scan steps whose caches are kept, least recently used first out

programs: dict[Callable[..., Any], SignatureCache] = {}   # fn of compiled_when_eager -> its cache
_steps: dict[Any, tuple[Any, SignatureCache]] = {}        # step key -> (what the key names, cache)
_untraceable: set[Any] = set()                            # step keys whose trace raised a TraceError


def _traced(values: Any) -> bool:
    return any(isinstance(v, dlarray) and v._node is not None for v in values)


def compiled_when_eager(fn: Fn) -> Fn:
    """fn, run through its own signature cache (traced and compiled once per signature of its
    arguments: arrays by shape, dtype and format, other arguments by value or identity) when it
    is called outside dlfeval on untraced arrays; called as it is inside a trace."""
    cache = programs[fn] = SignatureCache()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if tracing.current() is not None or _traced(args) or _traced(kwargs.values()):
            return fn(*args, **kwargs)
        return cache.dispatch(fn, args, kwargs)
    return run  # type: ignore[return-value]


def _step_key(step: Callable[..., Any]) -> tuple[Any, Any]:
    """(key, what it names by identity) of a scan step: functions with the same code, globals,
    closure cells and defaults share a key (their traces read the same captured values)."""
    if isinstance(step, types.FunctionType):
        keep = (step.__code__, step.__globals__, step.__closure__, step.__defaults__, step.__kwdefaults__)
        return (step.__code__, id(step.__globals__), tuple(id(c) for c in step.__closure__ or ()),
                _defaults_token(step.__defaults__), _defaults_token(step.__kwdefaults__)), keep
    if isinstance(step, types.MethodType):
        return ("method", id(step.__func__), id(step.__self__)), (step.__func__, step.__self__)
    return ("object", id(step)), step


def _cache(key: Any, keep: Any) -> SignatureCache:
    item = _steps.pop(key, None)
    if item is None:
        item = (keep, SignatureCache())
        if len(_steps) >= MAX_STEPS:
            old = next(iter(_steps))
            del _steps[old]
            _untraceable.discard(old)
    _steps[key] = item   # most recently used last
    return item[1]


def run_scan(scan: Callable[..., Any], step: Callable[..., Any], init: Any, xs: Any, length: int,
             reverse: bool, loop: Callable[[], Any]) -> Any:
    """scan(step, init, xs, length=length, reverse=reverse) traced and compiled once per step and
    signature, or loop() (the Python loop) for a step that cannot be traced."""
    key, keep = _step_key(step)
    if key in _untraceable:
        return loop()

    def program(init: Any, xs: Any, length: int, reverse: bool) -> Any:
        return scan(step, init, xs, length=length, reverse=reverse)
    program.__dlgrad_wraps__ = step   # type: ignore[attr-defined]  # captured values: the step's
    program.__qualname__ = f"scan step {getattr(step, '__qualname__', type(step).__name__)}"   # in warnings
    cache = _cache(key, keep)
    misses = cache.misses
    try:
        with tracing.stepping_eagerly():
            return cache.dispatch(program, (init, xs, length, reverse))
    except Exception:
        # the step cannot be traced (Python control flow or numpy on its values, a random draw,
        # dlgradient outside dlfeval) or the program failed: the Python loop gives the eager
        # result or raises the eager error
        if cache.misses != misses:
            _untraceable.add(key)
        return loop()
