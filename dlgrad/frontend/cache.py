"""Signature caches: the one hit/miss/stale path of dlfeval and dlaccelerate.

A SignatureCache maps the signature of a call (tree.signature) to its compiled entry,
`call(arrays) -> result`; on a hit the Python body never runs. `dispatch(fn, args, kwargs)`
is the whole logic: hit, miss (trace and compile), stale (a captured value changed). The
signature hit twice in a row is promoted to the cache's fast slot, `__call__`: a native
Dispatcher (or generated Python) that checks the arguments and calls the C in one frame, and
passes any other call to `slow`. The slot is an instance attribute that Python finds through
the class (a `__slots__` member), so calling the cache, or an AcceleratedFunction (a cache
bound to its function), costs no Python frame on a hit. dlfeval keeps one cache per function (cache_for); an
AcceleratedFunction holds its own.
"""
from __future__ import annotations

import dataclasses
import types
import warnings
import weakref

import numpy as np

from . import backend, explain, tree
from .capture import Stale, capture, current_tokens, make_call
from ..graph.registry import apply
from .dlarray import column_major, dlarray
from .retrace import StaticHistory, label
from .trace import accelerating
from .tree import TracedArgument, signature

MAX_ENTRIES = 50  # MATLAB's default AcceleratedFunction CacheSize
RETRACE_WARNING = 20  # retraces caused by changed captured values before a warning says so
MISS = object()   # what dlfeval's fast slot returns for arguments of another signature


def missed(*args, **kwargs):
    """dlfeval's `slow`: the fast slot declines, dlfeval runs dispatch (it holds no function)."""
    return MISS


class _Keywords:
    """Marks where keyword arguments start in a signature (f(x, {"a": 1}) is not f(x, a=1))."""
    __slots__ = ()

    def __repr__(self):
        return "<keyword arguments>"


KEYWORDS = _Keywords()


def call_signature(args, kwargs):
    """(key, arrays) of fn(*args, **kwargs); keyword arguments count by name, in sorted order."""
    if kwargs:
        return signature((*args, KEYWORDS, sorted_keywords(kwargs)))
    return signature(args)


def sorted_keywords(kwargs) -> dict:
    return {name: kwargs[name] for name in sorted(kwargs)}


def check_capacity(max_entries):
    """max_entries as an int >= 1, or a TypeError/ValueError naming it."""
    if isinstance(max_entries, bool) or not isinstance(max_entries, int):
        raise TypeError(f"max_cache_size must be a positive int (the number of traced signatures kept), "
                        f"got {max_entries!r} of type {type(max_entries).__name__}")
    if max_entries < 1:
        raise ValueError(f"max_cache_size must be at least 1 (the number of traced signatures kept), "
                         f"got {max_entries}")
    return int(max_entries)


class SignatureCache:
    """signature key -> call; counts hits and misses, forgets the oldest entry when full.

    Calling it runs its fast slot: the promoted signature, or slow(*args, **kwargs)."""

    __slots__ = ("entries", "variants", "retraces", "statics", "hits", "misses", "max_entries", "donate",
                 "__call__", "slow", "last", "active", "accelerated", "keep", "explained", "__weakref__")

    def __init__(self, max_entries: int = MAX_ENTRIES, donate: tuple = (), slow=missed):
        self.max_entries = check_capacity(max_entries)
        self.donate = donate  # positions of the arguments whose arrays outputs may overwrite
        self.slow = slow      # what the fast slot does with calls it does not serve
        self.__call__ = slow  # the fast slot: the signature hit twice in a row, checked and called in one frame
        self.last = None      # the signature of the last call
        self.active = True    # False: every call traces afresh, nothing is kept
        self.accelerated = False   # dlaccelerate's: dlgradient defaults to higher derivatives
        self.keep = None      # what the cache's key refers to by identity (see cache_for)
        self.entries = {}
        self.variants = {}    # (key, captured values) -> call, for entries with guards
        self.retraces = 0     # misses caused by a changed captured value
        self.statics = StaticHistory()   # misses caused by a changed static argument
        self.explained = explain.Misses()   # why calls missed (frontend/explain.py; miss path only)
        self.hits = self.misses = 0

    def dispatch(self, fn, args, kwargs=None):
        """fn(*args, **kwargs) through the cache: a hit runs the compiled entry; a miss traces."""
        try:
            key, arrays = call_signature(args, kwargs)
        except TracedArgument:   # inside another dlfeval: record into its trace
            if not self.accelerated:
                return fn(*args, **(kwargs or {}))
            with accelerating(True):
                return fn(*args, **(kwargs or {}))
        if not self.active:
            return self.compile(fn, args, kwargs).unguarded(arrays)
        call = self.entries.get(key)
        if call is None:
            call = self.miss(fn, args, kwargs, key)
        else:
            self.hits += 1
            if key == self.last and not kwargs:
                self.promote(call, args)
        self.last = key
        try:
            return call(arrays)
        except Stale:   # a scalar or small array fn reads from a closure or a global changed
            self.hits -= 1
            return self.stale(fn, args, kwargs, key, call)(arrays)

    def promote(self, call, args):
        """Make `call` the fast slot when args are plain dlarrays (one array each)."""
        fast = call.fast
        if fast is None:   # built once per entry; False when its arguments do not allow it
            fast = call.fast = (native_call(call, args, self) or generated_call(call, args, self) or False)
        if fast:
            self.__call__ = fast

    def compile(self, fn, args, kwargs):
        with accelerating(self.accelerated):
            return compile_call(fn, args, kwargs, self.donate)

    def forget_fast(self):
        self.__call__, self.last = self.slow, None

    def miss(self, fn, args, kwargs, key):
        """Trace fn on args, build the call for its signature, remember it under key."""
        self.misses += 1
        self.statics.record(fn, args, kwargs)
        description = explain.miss(self, fn, args, kwargs)
        call = self.compile(fn, args, kwargs)
        self.explained.traced(description)
        self.store(key, call)
        return call

    def store(self, key, call):
        if len(self.entries) >= self.max_entries:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = call
        if call.guards:
            if len(self.variants) >= self.max_entries:
                del self.variants[next(iter(self.variants))]
            self.variants[key, tuple(g.token for g in call.guards)] = call

    def stale(self, fn, args, kwargs, key, call):
        """The entry for key with the values call's guards read now (call raised Stale): an
        earlier trace with those values, or a new one. Returns it without its guard check."""
        found = self.variants.get((key, current_tokens(call.guards)))
        if found is None:
            self.misses += 1
            explain.stale(self, fn, call.guards)
            found = self.compile(fn, args, kwargs)
            self.store(key, found)
            self.retraces += 1
            if self.retraces == RETRACE_WARNING:
                names = ", ".join(sorted({g.name for g in call.guards}))
                warnings.warn(f"dlgrad: {label(fn)} was traced and compiled again {self.retraces} times "
                              f"because a value it reads from a closure or a global changed "
                              f"(one of: {names}); pass changing values to it as arguments",
                              RuntimeWarning, stacklevel=4)
        else:
            self.entries[key] = found
            self.hits += 1
        return found.unguarded

    def clear(self):
        self.forget_fast()
        self.entries.clear()
        self.variants.clear()
        self.statics = StaticHistory()
        self.explained = explain.Misses()
        self.hits = self.misses = self.retraces = 0


def generated_call(call, args, cache):
    """`call` as one generated function for the signature of `args`, or None unless every
    argument is a plain dlarray (one array each) and call feeds no captured inputs.

    The function checks each argument's class, format, shape and dtype (passes the call to
    cache.slow when one differs or a guarded captured value changed), counts the hit in
    cache.hits, and calls the C with the wrapping joined.
    """
    if call.entry is None or not all(type(a) is dlarray and a._node is None for a in args):
        return None
    miss = "return _slow(*args, **kwargs)"
    names = dict(_slow=cache.slow, _counter=cache)
    xs = "".join(f"x{i}, " for i in range(len(args)))
    head = [f"if kwargs or len(args) != {len(args)}: {miss}", f"({xs}) = args"]
    for i, a in enumerate(args):
        names[f"S{i}"], names[f"T{i}"], names[f"F{i}"] = a._data.shape, a._data.dtype, a._fmt
        fmt = f"x{i}._fmt is not None" if a._fmt is None else f"x{i}._fmt != F{i}"
        head += [f"if x{i}.__class__ is not D or x{i}._node is not None or {fmt}"
                 f" or x{i}._logical is not {a._logical!r}: {miss}",
                 f"a{i} = x{i}._data",
                 f"if a{i}.shape != S{i} or a{i}.dtype is not T{i}: {miss}"]
        if column_major(a._data):   # the signature's memory order: another order is another signature
            head.append(f"if a{i}.flags.c_contiguous or not a{i}.flags.f_contiguous: {miss}")
        elif a._data.ndim > 1:
            head.append(f"if not a{i}.flags.c_contiguous: {miss}")
    head.append("_counter.hits += 1")
    return call.entry(("*args, **kwargs", head), names, miss)


def native_call(call, args, cache):
    """`call` as a native Dispatcher for the signature of `args` (runtime/fastcall.py), or None
    unless the call can have one and the arguments are dlarrays, numpy arrays and structures of
    them (tuples, lists, dlnetworks, Learnables tables: tree.native_arguments). It takes the
    arguments themselves, checks them against the signature (a network's architecture and table
    keys by equality, each array's shape, dtype, format), counts the hit in cache.hits and passes
    any other call to cache.slow."""
    if call.native is None:
        return None
    if all(type(a) is dlarray and a._node is None for a in args):
        return call.native(tuple(a._fmt for a in args), cache, cache.slow, tuple(a._logical for a in args))
    found = tree.native_arguments(args)
    if found is None:
        return None
    patterns, formats, logical = found
    return call.native(formats, cache, cache.slow, logical, patterns)


def compile_call(fn, args, kwargs=None, donate=(), reference=False):
    """The compiled entry of fn for the signature of args (traces fn once); the arrays of the
    arguments at the positions in `donate` may be overwritten by outputs of their shape.

    The entry keeps what rebuilds it around the same compiled run (`call.rebuild`, for copies)
    and the Program it runs (`call.program`, None on the numpy backend; for pickles).
    reference=True: the entry runs on the numpy interpreter instead of compiled C."""
    kwargs = sorted_keywords(kwargs) if kwargs else None
    captured = capture(fn, args, kwargs) if kwargs else capture(fn, args)
    pairs = donation_pairs(args, donate, captured) if donate else ()
    captured = column_major_results(captured, pairs)
    fortran = (captured.fortran, captured.out_fortran)
    run = (backend.numpy_run(captured.outputs, fortran=fortran) if reference
           else backend.build(captured.outputs, captured.specs, pairs, fortran))
    return entry_for(dataclasses.replace(captured, outputs=[None] * len(captured.outputs)), run)


def entry_for(captured, run):
    """make_call(captured, run) remembering how to make it again (the graph itself is dropped)."""
    call = make_call(captured, run)
    call.rebuild = lambda: entry_for(captured, run)
    call.captured = captured
    call.program = getattr(run, "program", None)
    call.run = run   # the compiled program itself (dlgrad.optimize calls it with plain arrays)
    return call


def column_major_results(captured, pairs):
    """captured with each output that overwrites a donated column-major input made column-major
    too: the output node becomes the permute of what it computes (the C array of the input's
    memory), which the rewriter carries back to the input's own permute, so the buffer is updated
    in place with no transpose. The other outputs stay C-ordered."""
    if not any(captured.fortran):
        return captured
    outputs, out_fortran = list(captured.outputs), list(captured.out_fortran)
    for out, i in pairs:
        if captured.fortran[i]:
            outputs[out] = apply("permute", outputs[out], axes=tuple(range(outputs[out].ndim))[::-1])
            out_fortran[out] = True
    return dataclasses.replace(captured, outputs=outputs, out_fortran=tuple(out_fortran))


def donation_pairs(args, donate, captured) -> list:
    """(output, input) pairs: each output leaf, in result order, takes the first unclaimed array
    of the donated arguments with its shape and dtype (so `net, m = step(net, m)` pairs each
    parameter with itself when the structures match)."""
    bounds, owned, start = [], [], 0
    for a in args:
        leaves = [x for x in tree.flatten(a)[0] if isinstance(x, (dlarray, np.ndarray))]
        owned += [type(x) is dlarray for x in leaves]   # a numpy array is the caller's: never donated
        bounds.append((start, start + len(leaves)))
        start += len(leaves)
    for k in donate:
        if not -len(args) <= k < len(args):
            raise ValueError(f"donate: argument position {k} is out of range for a call with {len(args)} "
                             f"arguments")
    free = [i for k in sorted({k % len(args) for k in donate}) for i in range(*bounds[k]) if owned[i]]
    pairs = []
    for kind, out in captured.leaves:
        if kind != "array":
            continue
        node = captured.outputs[out]
        for i in free:
            shape, dtype = captured.specs[i]
            if captured.fortran and captured.fortran[i]:
                shape = shape[::-1]   # the spec is the C array of a column-major argument's memory
            if tuple(shape) == node.shape and str(dtype) == node.dtype:
                pairs.append((out, i))
                free.remove(i)
                break
    return pairs


# --- dlfeval's caches, one per function -------------------------------------------------------
# id(fn) -> (weakref(fn), cache); bound methods: (id(func), id(self)) -> (ref(func), ref(self), cache).
# A plain function met for the first time shares the cache of the functions with its code,
# globals, closure cells and defaults (_shared): `dlfeval(lambda x: ..., X)` in a loop makes a
# new function object per call, and it must not retrace each time.
_by_id: dict = {}
_shared: dict = {}
MAX_SHARED = 64   # shared caches kept, least recently met first out
_UNCACHED = SignatureCache()
_UNCACHED.active = False


def cache_for(fn):
    """fn's SignatureCache (one that never keeps entries if fn cannot be weakly referenced)."""
    item = _by_id.get(id(fn))
    if item is not None and item[0]() is fn:
        return item[1]
    if isinstance(fn, types.MethodType):
        return _method_cache(fn.__func__, fn.__self__)
    try:
        ref = weakref.ref(fn, lambda r, k=id(fn): _forget(k, r))
    except TypeError:
        return _UNCACHED
    cache = _shared_cache(fn) if isinstance(fn, types.FunctionType) else SignatureCache()
    _by_id[id(fn)] = (ref, cache)
    return cache


def _shared_cache(fn):
    """The cache of the functions that behave as fn does: the same code and globals, the same
    closure cells (by identity: guards watch those cells) and equal defaults."""
    keep = (fn.__code__, fn.__globals__, fn.__closure__, fn.__defaults__, fn.__kwdefaults__)
    key = (fn.__code__, id(fn.__globals__), tuple(id(c) for c in fn.__closure__ or ()),
           _defaults_token(fn.__defaults__), _defaults_token(fn.__kwdefaults__))
    item = _shared.pop(key, None)
    if item is None:
        item = SignatureCache()
        item.keep = keep   # the ids in key stay those of live objects while the cache is kept
        if len(_shared) >= MAX_SHARED:
            del _shared[next(iter(_shared))]
    _shared[key] = item
    return item


def _defaults_token(values):
    """Numbers, strings and None by value (as signatures compare them), anything else by identity."""
    if not values:
        return None
    items = values.items() if isinstance(values, dict) else enumerate(values)
    return tuple((k, signature((v,))[0] if type(v) in _SCALARS else ("id", id(v))) for k, v in items)


_SCALARS = (bool, int, float, complex, str, bytes, type(None))


def _forget(key, ref):
    item = _by_id.get(key)
    if item is not None and ref in item[:-1]:
        del _by_id[key]


def _method_cache(func, owner):
    key = (id(func), id(owner))
    item = _by_id.get(key)
    if item is not None and item[0]() is func and item[1]() is owner:
        return item[2]
    try:
        refs = (weakref.ref(func, lambda r: _forget(key, r)), weakref.ref(owner, lambda r: _forget(key, r)))
    except TypeError:
        return _UNCACHED
    cache = SignatureCache()
    _by_id[key] = (*refs, cache)
    return cache


def clear_caches():
    """Forget every dlfeval cache (AcceleratedFunctions keep theirs)."""
    _by_id.clear()
    _shared.clear()
