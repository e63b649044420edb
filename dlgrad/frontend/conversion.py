"""MATLAB's type conversions on dlarrays: cast, single, double, logical (and dlarray.astype).

A conversion to a float type gives numbers, even from logical data of that float type
(MATLAB's double(true) is the number 1); logical(X) gives logical data, 1 where X is nonzero
(NaN counts as true, as in dlgrad's logical functions; MATLAB refuses NaN). The gradient of a
conversion to float is the cast's; logical data has none.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .dispatch import apply, asdlarray
from .dlarray import F32, F64, dlarray, islogical, numeric, rebox
from .types import ArrayLike

_CLASSES: dict[str, np.dtype[Any]] = {"double": F64, "single": F32, "float64": F64, "float32": F32, "logical": np.dtype(bool)}


def _target(newclass: Any, what: str) -> np.dtype[Any]:
    target: np.dtype[Any] | None
    if isinstance(newclass, str):
        target = _CLASSES.get(newclass)
    else:
        try:
            target = np.dtype(newclass)
        except TypeError:
            target = None
    if target is None or target not in (F64, F32, np.dtype(bool)):   # np.dtype(None) == float64
        raise TypeError(f"{what}: the new class must be 'double' (float64), 'single' (float32) or "
                        f"'logical' (bool), got {newclass!r}; a dlarray holds no integer or other data")
    return target


def cast(X: ArrayLike, newclass: Any = None, p: ArrayLike | None = None, *, like: ArrayLike | None = None) -> dlarray:
    """MATLAB's cast(X, newclass) with newclass 'double', 'single' or 'logical' (or numpy's float64,
    float32, bool); cast(X, "like", p) (or like=p) converts to p's class."""
    if isinstance(newclass, str) and newclass == "like":
        newclass, like = None, p
        if like is None:
            raise TypeError("cast(X, \"like\", p): p is missing")
    elif p is not None:
        raise TypeError(f"cast: a third argument goes only with \"like\", got newclass {newclass!r}")
    if like is not None:
        if newclass is not None:
            raise TypeError("cast: give either newclass or like=, not both")
        newclass = "logical" if islogical(like) else asdlarray(like).dtype
    elif newclass is None:
        raise TypeError("cast: missing newclass ('double', 'single' or 'logical') or \"like\", p")
    target = _target(newclass, "cast")
    x = asdlarray(X)
    if target == np.dtype(bool):
        return logical(x)
    return numeric(x) if x.dtype == target else apply("cast", x, dtype=target.name)


def double(X: ArrayLike) -> dlarray:
    """MATLAB's double(X): X as float64 numbers."""
    return cast(X, "double")


def single(X: ArrayLike) -> dlarray:
    """MATLAB's single(X): X as float32 numbers (rounded to nearest)."""
    return cast(X, "single")


def logical(X: ArrayLike) -> dlarray:
    """MATLAB's logical(X): logical data, true where X is nonzero (NaN counts as true)."""
    x = asdlarray(X)
    return rebox(x) if x._logical else apply("ne", x, 0.0)


def astype(x: dlarray, dtype: Any) -> dlarray:
    """numpy's x.astype(dtype) for float64, float32 and bool (bool gives logical data)."""
    return cast(x, _target(dtype, "astype"))
