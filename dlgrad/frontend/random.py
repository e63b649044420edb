"""rng, rand, randn and randi: MATLAB's random number functions, usable inside traced functions.

The numbers come from Philox4x32-10 (graph/ops/random.py), keyed by the global stream's
(seed, counter). Eagerly each call draws with the current key and advances the counter by one.
Inside dlfeval or an accelerated function, the key is an implicit runtime input of the compiled
function: every call of it reads the stream's key then and advances the counter by one, so
each call draws new numbers, and the draws of one call use consecutive element ranges of its
key (two draws of a call differ). The C and the numpy interpreter give the same numbers
(uniforms bit for bit; float64 normals within a few ulp, libm's log and cos against numpy's).
Every call path takes the key from the one stream (STREAM): eager draws and the Python call
path through next_key, the native dispatcher (runtime/c/fastcall.c) in C holding the GIL.
dlgrad.optimize gives its objectives a fixed key instead (common_key).

Conventions: sizes as MATLAB's (rand(n) is n-by-n, rand(m, n, ...) or rand((m, n)));
randi(imax) draws whole numbers 1..imax as MATLAB's does (values, not 0-based indices), and
randi((imin, imax)) draws imin..imax. The result is a dlarray of float64 unless dtype says
"single"/float32 (MATLAB's default is double).
"""
from __future__ import annotations

import sysconfig
import threading
import weakref
from typing import Any, NamedTuple, Optional

import numpy as np

from ..graph.ops.random import normal_numpy, random_normal, random_uniform, uniform_numpy
from ..graph.registry import input_node
from . import trace as tracing
from .dispatch import apply, cast
from .dlarray import dlarray, wrap_traced

__all__ = ["RandomState", "rng", "rand", "randn", "randi"]

_MAX_SEED = 2 ** 63


class RandomState(NamedTuple):
    """The global stream: the seed and how many calls have drawn from it since rng(seed)."""
    Seed: int
    Counter: int


_lock = threading.Lock()
# seed, counter (MATLAB starts from seed 0 too), busy. The native dispatcher (runtime/c/fastcall.c)
# takes keys from this array holding the GIL but not _lock: Python's reads and writes set busy
# while they run, and a native call that finds it set takes the Python path (which waits for _lock).
STREAM = np.zeros(3, dtype=np.int64)
_cells = STREAM.data   # its elements as Python ints, without numpy's scalar overhead
# trace -> [key node, elements drawn, whether the key was given (common_key) rather than the stream's]
_draws: "weakref.WeakKeyDictionary[Any, list[Any]]" = weakref.WeakKeyDictionary()
_given: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()   # trace -> key dlarray or None


def rng(seed: "int | str | RandomState | None" = None) -> RandomState:
    """Seed the global stream (counter 0); rng("default") is rng(0), rng(state) restores a state.

    Returns the state before the call (rng() only returns it), as MATLAB's `s = rng` does."""
    with _stream() as state:
        before = RandomState(*state)
        if seed is None:
            return before
        if isinstance(seed, str):
            if seed != "default":
                raise ValueError(f"rng: seed must be a non-negative int, 'default' or a RandomState, got {seed!r}")
            seed = 0
        counter = 0
        if isinstance(seed, RandomState):
            seed, counter = seed
        for name, value in (("seed", seed), ("counter", counter)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < _MAX_SEED:
                raise ValueError(f"rng: {name} must be an int in [0, 2^63), got {value!r}")
        state[:] = [int(seed), int(counter)]
        return before


class _stream:
    """`with _stream() as state:` state is [seed, counter] as ints, written back to STREAM at the
    end; the lock and the busy flag keep other threads, native calls included, out meanwhile."""

    def __enter__(self) -> "list[int]":
        _lock.acquire()
        _cells[2] = 1
        self.state = [_cells[0], _cells[1]]
        return self.state

    def __exit__(self, *exc: object) -> None:
        _cells[0], _cells[1] = self.state
        _cells[2] = 0
        _lock.release()


_thread = threading.local()
_FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def next_key() -> np.ndarray:
    """The stream's key (seed, counter) as int64 and the counter advanced by one (thread-safe)."""
    with _lock:   # what _stream does, inline: this runs on every Python-path call that draws
        _cells[2] = 1
        try:
            seed, counter = _cells[0], _cells[1]
            if not getattr(_thread, "replaying", False):
                _cells[1] = (counter + 1) % _MAX_SEED
        finally:
            _cells[2] = 0
    return np.array((seed, counter), dtype=np.int64)


class replaying:
    """`with replaying():` draws of this thread read the stream's key without advancing it, so
    that the call after draws the same numbers (CheckMode's uncompiled evaluation)."""

    def __enter__(self) -> None:
        self.before = getattr(_thread, "replaying", False)
        _thread.replaying = True

    def __exit__(self, *exc: object) -> None:
        _thread.replaying = self.before


def trace_key_index(trace: Any) -> Optional[int]:
    """The input index of the stream's key in `trace` if the function it traced draws from the
    stream, else None (also when its draws used a key given by common_key)."""
    found = _draws.get(trace)
    return None if found is None or found[2] else found[0].attr("index")


class NeedsKey(Exception):
    """A draw in a trace under common_key(None): the caller passes a key and traces again."""


class common_key:
    """`with common_key(key):` draws in the current trace use `key`, a traced int64 (seed,
    counter) argument of it, instead of the stream's key, so every call draws the same numbers
    while the caller passes the same key (common random numbers: dlgrad.optimize). With key None,
    a draw raises NeedsKey. Outside a trace it changes nothing."""

    def __init__(self, key: Optional[dlarray]) -> None:
        self.key, self.trace = key, tracing.current()

    def __enter__(self) -> None:
        if self.trace is not None:
            if self.key is not None and (self.key._trace is not self.trace or self.key.dtype != np.int64
                                         or self.key.shape != (2,)):
                raise ValueError("common_key: the key must be an int64 (seed, counter) argument of the trace")
            self.before = _given.get(self.trace, _given)   # _given itself: none before
            _given[self.trace] = self.key

    def __exit__(self, *exc: object) -> None:
        if self.trace is not None:
            if self.before is _given:
                _given.pop(self.trace, None)
            else:
                _given[self.trace] = self.before


def _shape(size: "tuple[Any, ...]", what: str) -> "tuple[int, ...]":
    if len(size) == 1 and isinstance(size[0], (tuple, list, np.ndarray)):
        size = tuple(size[0])
    elif len(size) == 1:
        size = (size[0], size[0])   # MATLAB: rand(n) is n-by-n
    for n in size:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{what}: sizes must be non-negative ints, got {size!r}")
    return tuple(int(n) for n in size)


def _dtype(dtype: Any, what: str) -> str:
    if isinstance(dtype, str) and dtype in ("double", "single"):
        return "float64" if dtype == "double" else "float32"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise TypeError(f"{what}: dtype must be float32/'single' or float64/'double', got {dtype!r}")
    return name


def _draw(op: str, shape: "tuple[int, ...]", dtype: str) -> dlarray:
    trace = tracing.current()
    if trace is None:
        values = next_key()
        uniform = op == "random_uniform"
        return dlarray(uniform_numpy(values, shape, dtype, 0) if uniform else normal_numpy(values, shape, dtype, 0))
    found = _draws.get(trace)
    if found is None and trace in _given:
        given = _given[trace]
        if given is None:
            raise NeedsKey()
        found = _draws[trace] = [given._node, 0, True]
    elif found is None:
        key = input_node(len(trace.inputs), (2,), "int64")
        trace.inputs.append(key)
        found = _draws[trace] = [key, 0, False]
    node, offset = found[0], found[1]
    found[1] += int(np.prod(shape, dtype=np.int64))
    drawn = random_uniform(node, shape, dtype, offset) if op == "random_uniform" else \
        random_normal(node, shape, dtype, offset)
    return wrap_traced(drawn, trace)


def rand(*size: Any, dtype: Any = "double") -> dlarray:
    """Uniform numbers in [0, 1) of MATLAB's size arguments (rand() is a scalar, rand(n) n-by-n)."""
    return _draw("random_uniform", _shape(size, "rand") if size else (), _dtype(dtype, "rand"))


def randn(*size: Any, dtype: Any = "double") -> dlarray:
    """Standard normal numbers (Box-Muller) of MATLAB's size arguments."""
    return _draw("random_normal", _shape(size, "randn") if size else (), _dtype(dtype, "randn"))


def randi(imax: "int | tuple[int, int]", *size: Any, dtype: Any = "double") -> dlarray:
    """Whole numbers uniform in 1..imax (or imin..imax for a pair), MATLAB's randi, as floats."""
    low, high = (1, imax) if not isinstance(imax, (tuple, list)) else tuple(imax)
    for name, value in (("imin", low), ("imax", high)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"randi: {name} must be an int, got {value!r}")
    name = _dtype(dtype, "randi")
    count = int(high) - int(low) + 1
    limit = 2 ** 24 if name == "float32" else 2 ** 53
    if count < 1 or max(abs(int(low)), abs(int(high))) > limit:
        raise ValueError(f"randi: the range must hold at least one number and lie within +-{limit} for "
                         f"{name}, got imin={low}, imax={high}")
    u = _draw("random_uniform", _shape(size, "randi") if size else (), "float64")
    # floor(u * count) < count in exact arithmetic; the rounded product may reach count
    k = apply("minimum", apply("floor", apply("mul", u, float(count))), float(count - 1))
    return cast(apply("add", k, float(low)), name)


class Keyed:
    """run with the stream's next key inserted among its arrays at position `at` on each call."""

    def __init__(self, run: Any, at: int) -> None:
        self.run, self.at = run, at
        self.program = getattr(run, "program", None)

    def __call__(self, *arrays: np.ndarray) -> Any:
        return self.run(*arrays[:self.at], next_key(), *arrays[self.at:])


class KeyedCompiled(Keyed):
    """Keyed over a CompiledFunction, with its fast call paths drawing the key inside them: the
    generated Python call takes it from next_key, the native dispatcher (runtime/c/fastcall.c)
    from STREAM itself, so every path advances the one stream."""

    def returning(self, result_lines: "list[str]", names: "dict[str, Any]",
                  head: "Optional[tuple[str, list[str]]]" = None) -> Any:
        """CompiledFunction.returning with the key drawn; with `head` (the caller's own arguments,
        binding a0, a1, ...), the key is the last input."""
        if head is not None:
            lines = [*head[1], f"a{self.at} = _next_key()"]
            return self.run.returning(result_lines, {**names, "_next_key": next_key}, (head[0], lines))
        inner, at = self.run.returning(result_lines, names), self.at

        def run_keyed(arrays: "list[np.ndarray]") -> Any:
            return inner([*arrays[:at], next_key(), *arrays[at:]])
        return run_keyed

    def native(self, box: Any, slots: Any, formats: "tuple[Any, ...]", out_formats: "tuple[Any, ...]",
               template: Any, build: Any, miss: Any, counter: Any = None, logical: Any = None,
               out_logical: Any = None, arguments: Any = None, guard: Any = None) -> Any:
        """CompiledFunction.native taking every input but the key, which it draws from STREAM
        (None unless the key is the last input, and on Python without a GIL)."""
        if self.at != len(formats) or _FREE_THREADED:   # the dispatcher's take is atomic by the GIL
            return None
        logical = (*(logical or (False,) * len(formats)), False)
        return self.run.native(box, slots, (*formats, None), out_formats, template, build, miss, counter,
                               logical, out_logical, stream=STREAM, arguments=arguments,
                               guard=guard)


def keyed(run: Any, at: int) -> Keyed:
    """run (a compiled program or the numpy interpreter's run) drawing the stream's key per call."""
    return KeyedCompiled(run, at) if hasattr(run, "returning") else Keyed(run, at)
