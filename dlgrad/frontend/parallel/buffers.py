"""Nested values as one contiguous buffer: what an spmd collective sends, and back.

A value is flattened with frontend/tree.py (dicts, lists, tuples, Learnables, dlnetworks);
its leaves (dlarrays, numpy arrays, numpy and Python numbers) are copied one after another
into a buffer of their common dtype, and rebuilt from a buffer of the same layout with
their own kinds, shapes and dtypes.
"""
from __future__ import annotations

import math

import numpy as np

from .. import tree
from ..dlarray import dlarray, wrap
from ..trace import transfer_error

_PYTHON_NUMBERS = (bool, int, float, complex)


class Packed:
    """A value's leaves in `buffer` (one 1-D array, from allocate(size, dtype), which may give
    another dtype to convert to) and how to rebuild the value."""

    __slots__ = ("treedef", "kinds", "shapes", "dtypes", "buffer")

    def __init__(self, value, what: str, dtype=None, allocate=np.empty):
        leaves, self.treedef = tree.flatten(value)
        arrays, self.kinds = [], []
        for leaf in leaves:
            kind, array = _leaf(leaf, what)
            self.kinds.append(kind)
            arrays.append(array)
        self.shapes = [a.shape for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        if dtype is None:
            dtype = np.result_type(*self.dtypes) if arrays else np.dtype(np.float64)
        self.buffer = allocate(sum(a.size for a in arrays), np.dtype(dtype))
        start = 0
        for a in arrays:
            self.buffer[start:start + a.size] = a.reshape(-1)
            start += a.size

    def unpack(self, buffer=None, dtypes=None):
        """The value rebuilt from `buffer` (default: its own) laid out like this one's leaves;
        `dtypes` overrides the leaves' dtypes (a logical reduction answers booleans)."""
        buffer = self.buffer if buffer is None else buffer
        leaves, start = [], 0
        for kind, shape, dtype in zip(self.kinds, self.shapes, dtypes or self.dtypes):
            size = math.prod(shape)
            leaves.append(_rebuild(kind, buffer[start:start + size].reshape(shape), dtype))
            start += size
        return tree.unflatten(self.treedef, leaves)

    def leaf_sizes(self):
        return [math.prod(s) for s in self.shapes]


def _leaf(leaf, what):
    """(kind, array) of one leaf: kind tells _rebuild what to give back."""
    if isinstance(leaf, dlarray):
        if leaf._node is not None:
            raise transfer_error(what)
        return ("dlarray", leaf._fmt), leaf._data
    if isinstance(leaf, np.ndarray):
        if leaf.dtype.kind not in "biufc":
            raise TypeError(f"{what}: arrays must hold numbers, got a numpy array of dtype {leaf.dtype}")
        return ("ndarray",), leaf
    if isinstance(leaf, np.generic) and np.dtype(type(leaf)).kind in "biufc":
        return ("generic",), np.asarray(leaf)
    if type(leaf) in _PYTHON_NUMBERS:
        return (type(leaf),), np.asarray(leaf)
    raise TypeError(f"{what}: expected dlarrays, numpy arrays, numbers, or dicts, lists, tuples, "
                    f"Learnables or dlnetworks of these; got a value of type {type(leaf).__name__}")


def _rebuild(kind, data, dtype):
    data = data.astype(dtype, copy=data.dtype != dtype)
    if kind[0] == "dlarray":
        if data.dtype.kind not in "f":   # a logical reduction of dlarrays: numpy booleans
            return data
        x = wrap(data)   # a view of the received buffer: donation copies it first (it has a base)
        x._fmt = kind[1]
        return x
    if kind[0] == "ndarray":
        return data
    if kind[0] == "generic":
        return data[()]
    value = data.item()
    return value if kind[0] is bool and data.dtype != bool else kind[0](value)   # a sum of booleans: int
