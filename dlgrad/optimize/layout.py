"""Parameters as one float64 vector for scipy: a structure of arrays flattened, and unflattened for fn.

scipy.optimize works on one flat float64 vector. A Layout remembers the structure of the
parameters (a single array, or a dict/list/tuple of arrays: anything frontend/tree flattens)
and the shape of each leaf, so that x0 becomes scipy's vector and scipy's vector becomes the
structure again: as traced dlarrays inside the compiled function (slices of the one input, so
the gradient comes out flat), or as numpy arrays for the result.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..frontend import reshape
from ..frontend.dlarray import dlarray
from ..frontend.tree import flatten, unflatten

F64 = np.dtype(np.float64)


class Layout:
    """The structure and leaf shapes of a set of parameters, and the length of their flat vector."""

    __slots__ = ("treedef", "shapes", "size", "single")

    def __init__(self, treedef, shapes):
        self.treedef = treedef
        self.shapes = tuple(shapes)
        self.size = sum(math.prod(s) for s in self.shapes)
        self.single = treedef is None   # one array: fn gets x itself (reshaped)

    @classmethod
    def of(cls, params: Any, what: str = "x0") -> "Layout":
        """The layout of `params`: one array (or number), or a structure whose leaves are arrays."""
        if isinstance(params, (dlarray, np.ndarray, int, float, np.generic)) and not isinstance(params, bool):
            return cls(None, [np.shape(_data(params, what))])
        leaves, treedef = flatten(params)
        if leaves and type(params) in (list, tuple) and all(_number(leaf) for leaf in leaves):
            return cls(None, [np.shape(_data(params, what))])   # [1.0, 2.0]: a vector, as numpy reads it
        if not leaves:
            raise ValueError(f"{what}: expected an array or a structure (dict, list, tuple) of arrays, "
                             f"got {type(params).__name__} with no arrays in it")
        return cls(treedef, [np.shape(_data(leaf, what)) for leaf in leaves])

    def vector(self, params: Any, what: str = "x0") -> np.ndarray:
        """params (of this layout) as one new float64 vector."""
        leaves = [params] if self.single else flatten(params)[0]
        if len(leaves) != len(self.shapes):
            raise ShapeError(f"{what}: expected {len(self.shapes)} arrays, got {len(leaves)}")
        parts = []
        for i, (leaf, shape) in enumerate(zip(leaves, self.shapes)):
            data = _data(leaf, what)
            if data.shape != shape:
                raise ShapeError(f"{what}: array {i} has shape {data.shape}, expected {shape}")
            parts.append(data.reshape(-1))
        return np.concatenate(parts).astype(F64) if parts else np.zeros(0)

    def check(self, x: dlarray) -> None:
        """Raise a clear error unless x (a dlarray, traced or not) is this layout's flat float64 vector."""
        if x.shape != (self.size,) or x.dtype != F64:
            raise ShapeError(f"x: expected a float64 vector of length {self.size} (the parameters "
                             f"flattened, as scipy.optimize passes them), got a {x.dtype} array of shape "
                             f"{tuple(x.shape)}")

    def traced(self, x: dlarray) -> Any:
        """The parameters as fn takes them: x's slices reshaped into the structure (x traced)."""
        parts, start = [], 0
        for shape in self.shapes:
            count = math.prod(shape)
            part = x if len(self.shapes) == 1 else x[start:start + count]
            parts.append(part if part.shape == shape else reshape(part, shape))
            start += count
        return parts[0] if self.single else unflatten(self.treedef, parts)

    def values(self, vector: Any) -> Any:
        """scipy's vector as the parameters' structure, with numpy arrays as leaves."""
        vector = np.asarray(vector, F64)
        parts, start = [], 0
        for shape in self.shapes:
            count = math.prod(shape)
            parts.append(vector[start:start + count].reshape(shape).copy())
            start += count
        return parts[0] if self.single else unflatten(self.treedef, parts)


def _number(x) -> bool:
    return isinstance(x, (int, float, np.generic)) and not isinstance(x, bool)


def _data(leaf, what) -> np.ndarray:
    if isinstance(leaf, dlarray):
        if leaf._node is not None:
            raise TypeError(f"{what}: expected untraced arrays, got a traced dlarray")
        return leaf._data
    if isinstance(leaf, bool) or not isinstance(leaf, (np.ndarray, int, float, np.generic, list)):
        raise TypeError(f"{what}: expected arrays (numpy arrays, dlarrays or numbers) as parameters, got "
                        f"{type(leaf).__name__}")
    data = np.asarray(leaf)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected real numbers, got an array of dtype {data.dtype}")
    return data
