"""Signature caches: per function, the compiled entry of each traced signature.

An entry is `call(arrays) -> result`; on a hit the Python body never runs. dlfeval keeps
one cache per function object (dropped when the function is garbage collected);
dlaccelerate's AcceleratedFunction holds its own.
"""
from __future__ import annotations

import types
import warnings
import weakref

from . import backend
from .capture import capture, current_tokens, make_call
from .dlarray import dlarray
from .tree import visit

MAX_ENTRIES = 50  # MATLAB's default AcceleratedFunction CacheSize
RETRACE_WARNING = 20  # retraces caused by changed captured values before a warning says so


class SignatureCache:
    """signature key -> call; counts hits and misses, forgets the oldest entry when full."""

    __slots__ = ("entries", "variants", "retraces", "hits", "misses", "max_entries", "donate", "fast", "last",
                 "__weakref__")

    def __init__(self, max_entries: int = MAX_ENTRIES, donate: tuple = ()):
        self.donate = donate  # positions of the arguments whose arrays outputs may overwrite
        self.fast = None      # dlfeval's generated call for the signature last hit twice in a row
        self.last = None      # the signature of the last hit
        self.entries = {}
        self.variants = {}   # (key, captured values) -> call, for entries with guards
        self.retraces = 0    # misses caused by a changed captured value
        self.hits = self.misses = 0
        self.max_entries = max_entries

    def miss(self, fn, args, key):
        """Trace fn on args, build the call for its signature, remember it under key."""
        self.misses += 1
        call = compile_call(fn, args, self.donate)
        if self.max_entries is not None and len(self.entries) >= self.max_entries:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = call
        if call.guards:
            if self.max_entries is not None and len(self.variants) >= self.max_entries:
                del self.variants[next(iter(self.variants))]
            self.variants[key, tuple(g.token for g in call.guards)] = call
        return call

    def stale(self, fn, args, key, call):
        """The entry for key with the values call's guards read now (call raised Stale): an
        earlier trace with those values, or a new one. Returns it without its guard check."""
        found = self.variants.get((key, current_tokens(call.guards)))
        if found is None:
            found = self.miss(fn, args, key)
            self.retraces += 1
            if self.retraces == RETRACE_WARNING:
                names = ", ".join(sorted({g.name for g in call.guards}))
                label = getattr(fn, "__qualname__", None) or type(fn).__name__
                warnings.warn(f"dlgrad: {label} was traced and compiled again {self.retraces} times "
                              f"because a value it reads from a closure or a global changed "
                              f"(one of: {names}); pass changing values to it as arguments",
                              RuntimeWarning, stacklevel=3)
        else:
            self.entries[key] = found
            self.hits += 1
        return found.unguarded

    def clear(self):
        self.fast = self.last = None
        self.entries.clear()
        self.variants.clear()
        self.hits = self.misses = self.retraces = 0


MISS = object()   # what dlfeval's generated call returns for arguments of another signature


def generated_call(call, args, counter, params="args", miss="return MISS", names=None):
    """`call` as one generated function taking `params` for the signature of `args`, or None
    unless every argument is a plain dlarray (one array each) and call feeds no captured inputs
    (its guards run `miss` when a captured value changed).

    The function checks each argument's class, format, shape and dtype (runs `miss` when one
    differs), counts the hit in counter.hits, and calls the C with the wrapping joined.
    """
    if call.entry is None or not all(type(a) is dlarray and a._node is None for a in args):
        return None
    names = dict(names or {}, MISS=MISS, _counter=counter)
    xs = "".join(f"x{i}, " for i in range(len(args)))
    head = [f"if len(args) != {len(args)}: {miss}", f"({xs}) = args"]
    for i, a in enumerate(args):
        names[f"S{i}"], names[f"T{i}"], names[f"F{i}"] = a._data.shape, a._data.dtype, a._fmt
        fmt = f"x{i}._fmt is not None" if a._fmt is None else f"x{i}._fmt != F{i}"
        head += [f"if x{i}.__class__ is not D or x{i}._node is not None or {fmt}: {miss}",
                 f"a{i} = x{i}._data",
                 f"if a{i}.shape != S{i} or a{i}.dtype is not T{i}: {miss}"]
    head.append("_counter.hits += 1")
    return call.entry((params, head), names, miss)


def native_call(call, args, counter, miss):
    """`call` as a native Dispatcher for the signature of `args` (runtime/fastcall.py), or None
    unless every argument is a plain dlarray and the call can have one. It takes the arguments
    themselves, counts the hit in counter.hits and passes any other arguments to miss(*args)."""
    if call.native is None or not all(type(a) is dlarray and a._node is None for a in args):
        return None
    return call.native(tuple(a._fmt for a in args), counter, miss)


def compile_call(fn, args, donate=()):
    """The compiled entry of fn for the signature of args (traces fn once); the arrays of the
    arguments at the positions in `donate` may be overwritten by outputs of their shape."""
    captured = capture(fn, args)
    pairs = donation_pairs(args, donate, captured) if donate else ()
    return make_call(captured, backend.build(captured.outputs, captured.specs, pairs))


def donation_pairs(args, donate, captured) -> list:
    """(output, input) pairs: each output leaf, in result order, takes the first unclaimed array
    of the donated arguments with its shape and dtype (so `net, m = step(net, m)` pairs each
    parameter with itself when the structures match)."""
    bounds, start = [], 0
    for a in args:
        arrays = []
        visit(a, [], arrays)
        bounds.append((start, start + len(arrays)))
        start += len(arrays)
    for k in donate:
        if not -len(args) <= k < len(args):
            raise ValueError(f"donate: argument position {k} is out of range for a call with {len(args)} "
                             f"arguments")
    free = [i for k in sorted({k % len(args) for k in donate}) for i in range(*bounds[k])]
    pairs = []
    for kind, out in captured.leaves:
        if kind != "array":
            continue
        node = captured.outputs[out]
        for i in free:
            shape, dtype = captured.specs[i]
            if tuple(shape) == node.shape and str(dtype) == node.dtype:
                pairs.append((out, i))
                free.remove(i)
                break
    return pairs


# --- dlfeval's caches, one per function object ------------------------------------------------
# id(fn) -> (weakref(fn), cache); bound methods: (id(func), id(self)) -> (ref(func), ref(self), cache)
_by_id: dict = {}


def cache_for(fn):
    """fn's SignatureCache, or None if fn cannot be cached (not weak-referenceable)."""
    item = _by_id.get(id(fn))
    if item is not None and item[0]() is fn:
        return item[1]
    if isinstance(fn, types.MethodType):
        return _method_cache(fn.__func__, fn.__self__)
    try:
        ref = weakref.ref(fn, lambda r, k=id(fn): _forget(k, r))
    except TypeError:
        return None
    cache = SignatureCache()
    _by_id[id(fn)] = (ref, cache)
    return cache


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
        return None
    cache = SignatureCache()
    _by_id[key] = (*refs, cache)
    return cache


def clear_caches():
    """Forget every dlfeval cache (AcceleratedFunctions keep theirs)."""
    _by_id.clear()
