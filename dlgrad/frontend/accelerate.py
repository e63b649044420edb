"""dlaccelerate: MATLAB's AcceleratedFunction, a callable holding its own signature cache."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from . import checkmode, persist
from .cache import MAX_ENTRIES, SignatureCache, check_capacity


class AcceleratedFunction(SignatureCache):
    """fn traced and compiled once per signature; call it directly or through dlfeval.

    Statistics: hits, misses, hit_rate, cache_size (traced signatures held);
    clear_cache() forgets them. With enabled=False every call traces afresh.
    Copies (copy.deepcopy) are independent; pickles carry fn by reference and the compiled
    programs (see frontend/persist.py).

    It is the signature cache of its function: calling it runs the cache's fast slot (the
    signature hit twice in a row as a native Dispatcher, no Python frame from the arguments
    to the C call), which passes any other call to _dispatch, the shared hit/miss/stale path.
    """

    __slots__ = ("function", "_check_mode", "_check_tolerance")

    def __init__(self, fn: Callable[..., Any], max_cache_size: int = MAX_ENTRIES,
                 donate: int | Iterable[int] = ()) -> None:
        if not callable(fn):
            raise TypeError(f"dlaccelerate needs a function, got {type(fn).__name__}")
        super().__init__(check_capacity(max_cache_size), _check_donate(donate), self._dispatch)
        self.function = fn
        self.accelerated = True
        self._check_mode, self._check_tolerance = "none", 1e-4

    def _dispatch(self, *args: Any, **kwargs: Any) -> Any:
        if self._check_mode != "tolerance":
            return self.dispatch(self.function, args, kwargs)
        self.forget_fast()   # every call comes back here to be checked
        expected = checkmode.reference(self.function, args, kwargs)   # before donated arguments change
        result = self.dispatch(self.function, args, kwargs)
        checkmode.compare(self.function, result, expected, self._check_tolerance)
        return result

    @property
    def check_mode(self) -> str:
        """'none', or 'tolerance': every call is compared with an uncompiled evaluation and an
        AccelerationCheckWarning reports a difference beyond check_tolerance (MATLAB's CheckMode)."""
        return self._check_mode

    @check_mode.setter
    def check_mode(self, value: str) -> None:
        self._check_mode = checkmode.check_mode(value)
        self.forget_fast()

    @property
    def check_tolerance(self) -> float:
        """Tolerance of check_mode='tolerance': |a - b| <= tol * (1 + |b|) elementwise (1e-4)."""
        return self._check_tolerance

    @check_tolerance.setter
    def check_tolerance(self, value: float) -> None:
        self._check_tolerance = checkmode.check_tolerance(value)

    @property
    def enabled(self) -> bool:
        return self.active

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.active = bool(value)
        self.forget_fast()

    @property
    def hit_rate(self) -> float:
        """Percentage of calls served by the cache (MATLAB's HitRate)."""
        calls = self.hits + self.misses
        return 100.0 * self.hits / calls if calls else 0.0

    @property
    def cache_size(self) -> int:
        """Number of traced signatures held."""
        return len(self.entries)

    @property
    def max_cache_size(self) -> int:
        return self.max_entries

    def clear_cache(self) -> None:
        """Forget every traced signature and reset the statistics."""
        self.clear()

    def explain(self) -> str:
        """Why each call that missed the cache was traced (the last 50), newest last; what differed
        from the closest earlier call: an argument's shape, dtype or format, a new static value, a
        changed captured value. DLGRAD_EXPLAIN=1 logs each explanation as it happens."""
        return "\n".join(self.explained.explanations) or "no call has missed the cache"

    # MATLAB's spellings
    Function = property(lambda self: self.function)
    HitRate = property(lambda self: self.hit_rate)
    Occupancy = property(lambda self: 100.0 * self.cache_size / self.max_cache_size)
    Enabled = enabled
    CheckMode = check_mode
    CheckTolerance = check_tolerance
    CacheSize = max_cache_size
    clearCache = clear_cache

    def __repr__(self) -> str:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return (f"<AcceleratedFunction {name}: {self.cache_size} signatures cached, "
                f"{self.hits} hits, {self.misses} misses>")

    # copies and pickles: a new cache holding the same compiled programs
    def __reduce__(self) -> tuple[Any, ...]:
        return persist.restore, (persist.state(self),)

    def __copy__(self) -> AcceleratedFunction:
        return self.__deepcopy__({})

    def __deepcopy__(self, memo: dict[int, Any]) -> AcceleratedFunction:
        copy = AcceleratedFunction(self.function, self.max_entries, self.donate)
        copy._check_mode, copy._check_tolerance = self._check_mode, self._check_tolerance
        persist.copy_entries(self, copy)
        return copy


def _check_donate(donate: Any) -> tuple[int, ...]:
    if isinstance(donate, int) and not isinstance(donate, bool):
        donate = (donate,)
    try:
        donate = tuple(donate)
    except TypeError:
        donate = (donate,)
    if not all(isinstance(k, int) and not isinstance(k, bool) for k in donate):
        raise TypeError(f"donate must be argument positions (ints), got {donate!r}")
    return donate


def dlaccelerate(fn: Callable[..., Any], max_cache_size: int = MAX_ENTRIES, *,
                 donate: int | Iterable[int] = ()) -> AcceleratedFunction:
    """An AcceleratedFunction for fn (MATLAB's dlaccelerate).

    `max_cache_size` (a positive int) is how many traced signatures are kept. `donate`
    (positions of fn's arguments; not a MATLAB option) lets results overwrite those
    arguments' arrays in place: a training step `net, m, v = step(net, X, m, v)` with
    donate=(0, 2, 3) updates parameters and optimizer state in their own buffers, with no
    allocation. Each result array takes the first unclaimed donated array of its shape and
    dtype; where overwriting is unsafe (the input is still read after the output is
    written) the result gets fresh memory. The donated dlarrays then hold the new values.
    """
    return AcceleratedFunction(fn, max_cache_size, donate)
