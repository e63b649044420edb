"""dlaccelerate: MATLAB's AcceleratedFunction, a callable holding its own signature cache."""
from __future__ import annotations

from .cache import MAX_ENTRIES, SignatureCache, compile_call, generated_call, native_call
from .capture import Stale
from .dlarray import dlarray
from .tree import TracedArgument, visit


class AcceleratedFunction:
    """fn traced and compiled once per signature; call it directly or through dlfeval.

    Statistics: hits, misses, hit_rate, cache_size (traced signatures held);
    clear_cache() forgets them. With enabled=False every call traces afresh.
    """

    def __init__(self, fn, max_cache_size: int = MAX_ENTRIES, donate=()):
        if not callable(fn):
            raise TypeError(f"dlaccelerate needs a function, got {type(fn).__name__}")
        if isinstance(donate, int):
            donate = (donate,)
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in donate):
            raise TypeError(f"donate must be argument positions (ints), got {donate!r}")
        self.function = fn
        self.donate = tuple(donate)
        self._cache = SignatureCache(max_cache_size, self.donate)
        self._entries = self._cache.entries
        self._last = None
        # Python finds __call__ on the type: with a class of its own, the signature called
        # twice in a row gets a generated __call__, one frame from the arguments to the C call
        self.__class__ = type(AcceleratedFunction.__name__, (AcceleratedFunction,), {})
        self.enabled = True

    def __call__(self, *args):
        return self._dispatch(args)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool):
        self._enabled = bool(value)
        self._forget_fast()

    def _forget_fast(self):
        self._last = None
        if type(self) is not AcceleratedFunction:
            type(self).__call__ = AcceleratedFunction.__call__

    def _install_fast(self, call, args):
        """Make `call` the generated __call__ when args are plain dlarrays (one array each)."""
        fast = call.fast
        if fast is None:   # built once per entry; False when its arguments do not allow it
            # a native dispatcher is no method: as __call__ it is called without self
            fast = call.fast = (native_call(call, args, self._cache, lambda *a: AcceleratedFunction._dispatch(self, a))
                                or generated_call(call, args, self._cache, "self, *args", "return _miss(self, args)",
                                                  {"_miss": AcceleratedFunction._dispatch}) or False)
        if fast:
            type(self).__call__ = fast

    def _dispatch(self, args):
        tokens, arrays = [], []
        try:
            for a in args:
                if type(a) is dlarray and a._node is None:
                    data = a._data
                    tokens.append((data.shape, data.dtype, a._fmt))
                    arrays.append(data)
                else:
                    visit(a, tokens, arrays)
        except TracedArgument:
            return self.function(*args)  # inside another dlfeval: record into its trace
        key = tuple(tokens)
        call = self._entries.get(key)
        if call is None:
            if not self.enabled:
                return compile_call(self.function, args, self.donate).unguarded(arrays)
            call = self._cache.miss(self.function, args, key)
        else:
            self._cache.hits += 1
            if key == self._last:
                self._install_fast(call, args)
        self._last = key
        try:
            return call(arrays)
        except Stale:   # a scalar or small array the function reads from outside changed
            self._cache.hits -= 1
            return self._cache.stale(self.function, args, key, call)(arrays)

    @property
    def hits(self) -> int:
        return self._cache.hits

    @property
    def misses(self) -> int:
        return self._cache.misses

    @property
    def hit_rate(self) -> float:
        """Percentage of calls served by the cache (MATLAB's HitRate)."""
        calls = self.hits + self.misses
        return 100.0 * self.hits / calls if calls else 0.0

    @property
    def cache_size(self) -> int:
        """Number of traced signatures held."""
        return len(self._entries)

    @property
    def max_cache_size(self) -> int:
        return self._cache.max_entries

    def clear_cache(self) -> None:
        """Forget every traced signature and reset the statistics."""
        self._cache.clear()
        self._forget_fast()

    # MATLAB's spellings
    Function = property(lambda self: self.function)
    HitRate = property(lambda self: self.hit_rate)
    Occupancy = property(lambda self: 100.0 * self.cache_size / self.max_cache_size)
    clearCache = clear_cache

    def __repr__(self):
        name = getattr(self.function, "__qualname__", repr(self.function))
        return (f"<AcceleratedFunction {name}: {self.cache_size} signatures cached, "
                f"{self.hits} hits, {self.misses} misses>")


def dlaccelerate(fn, max_cache_size: int = MAX_ENTRIES, *, donate=()) -> AcceleratedFunction:
    """An AcceleratedFunction for fn (MATLAB's dlaccelerate).

    `donate` (positions of fn's arguments; not a MATLAB option) lets results overwrite those
    arguments' arrays in place: a training step `net, m, v = step(net, X, m, v)` with
    donate=(0, 2, 3) updates parameters and optimizer state in their own buffers, with no
    allocation. Each result array takes the first unclaimed donated array of its shape and
    dtype; where overwriting is unsafe (the input is still read after the output is
    written) the result gets fresh memory. The donated dlarrays then hold the new values.
    """
    return AcceleratedFunction(fn, max_cache_size, donate)
