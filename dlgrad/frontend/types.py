"""Type aliases of the public API, in one place so that every signature says "array-like" alike."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

import numpy.typing as npt

if TYPE_CHECKING:
    from .dlarray import dlarray

#: What the math functions accept: a dlarray, a numpy array, a (nested) list or a Python number.
ArrayLike = Union["dlarray", npt.ArrayLike]
#: An axis argument: one axis, several, or None for all (0-based, like numpy).
Axis = Union[int, Sequence[int], None]
#: A nested structure of arrays (dlnetwork, Learnables tables, dicts, lists, tuples), or one array.
Tree = Any
#: A function of dlarrays that dlfeval and dlaccelerate trace.
Objective = Callable[..., Any]
