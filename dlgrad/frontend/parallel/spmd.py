"""MATLAB's spmd functions over MPI: spmdIndex, spmdSize, spmdPlus, spmdReduce, spmdBroadcast,
spmdCat, spmdBarrier.

Values are dlarrays, numpy arrays, numbers, or nested dicts, lists, tuples, Learnables and
dlnetworks of them; every rank passes the same structure, shapes and dtypes (as MPI
requires). A call is one collective on one contiguous buffer of all the leaves
(buffers.py), never one per leaf; spmdPlus packs a large buffer into memory reused between
calls, which MPI sums in place (reuse.py). Indices are 0-based (dlgrad's convention: spmdIndex
is MPI's rank); outside mpiexec there is one process, index 0, and each function answers as
MATLAB's do on a single worker.
"""
from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from .buffers import Packed
from .reuse import ReusedSum
from .world import world

_BOOL = np.dtype(bool)


def spmdIndex() -> int:
    """This process's index in the job, 0 .. spmdSize() - 1 (MPI's rank; MATLAB's is 1-based)."""
    return world().rank


def spmdSize() -> int:
    """The number of processes in the job (1 when not started by mpiexec)."""
    return world().size


def spmdBarrier() -> None:
    """Wait until every process of the job has reached this call."""
    found = world()
    if found.size > 1:
        found.comm.Barrier()


def spmdPlus(X: Any, destination: int | None = None) -> Any:
    """The sum of X over all processes, leaf by leaf (booleans count as integers); with a
    `destination` index only that process gets it and the others get None."""
    return spmdReduce("plus", X, destination)


# MATLAB's function names and the Python and dlgrad functions that mean the same, as MPI ops
_NAMED = {"plus": "SUM", "times": "PROD", "max": "MAX", "min": "MIN", "and": "LAND", "or": "LOR"}
_ALIASES = {operator.add: "plus", np.add: "plus", operator.mul: "times", np.multiply: "times",
            builtins.max: "max", np.maximum: "max", np.fmax: "max", builtins.min: "min", np.minimum: "min",
            np.fmin: "min", operator.and_: "and", np.logical_and: "and", operator.or_: "or",
            np.logical_or: "or"}


def _named(fcn):
    if isinstance(fcn, str):
        name = fcn.lower().lstrip("@")
        if name not in _NAMED:
            raise ValueError(f"spmdReduce: fcn must be one of {sorted(_NAMED)} or a function of two "
                             f"values, got {fcn!r}")
        return name
    if not callable(fcn):
        raise TypeError(f"spmdReduce: fcn must be a function of two values or one of {sorted(_NAMED)}, "
                        f"got {type(fcn).__name__}")
    try:
        name = _ALIASES.get(fcn)
    except TypeError:   # an unhashable callable
        return None
    if name is None:
        from .. import functions
        name = {functions.add: "plus", functions.multiply: "times", functions.maximum: "max",
                functions.minimum: "min"}.get(fcn)
    return name


def spmdReduce(fcn: Any, X: Any, destination: int | None = None) -> Any:
    """fcn applied across processes: fcn(fcn(X0, X1), X2)... in index order, leaf by leaf.

    fcn is "plus", "times", "max", "min", "and", "or" (or operator.add, np.maximum, dl.maximum,
    operator.and_ ...: MPI's own reductions on one buffer) or any function of two arrays
    (all values gathered in one collective, then folded). "and"/"or" answer booleans.
    With a `destination` index only that process gets the result, the others None.
    """
    found = world()
    destination = _check_index(destination, "destination", found)
    name = _named(fcn)
    what = f"spmdReduce({fcn!r}, ...)" if name else "spmdReduce"
    if name is None:
        return _fold(fcn, Packed(X, what), found, destination)
    sums = _sums(found) if name == "plus" and destination is None else None

    def allocate(size, dtype):
        if name in ("plus", "times") and dtype == _BOOL:   # true + true is 2, as in MATLAB
            dtype = np.dtype(np.int64)
        return np.empty(size, dtype) if sums is None else sums.buffer(size, dtype)

    packed = Packed(X, what, _buffer_dtype(X, name), allocate)
    dtypes = [_BOOL] * len(packed.dtypes) if name in ("and", "or") else None
    buffer = packed.buffer
    if sums is not None and buffer.size:
        buffer = sums.total(buffer)
    elif found.size > 1 and buffer.size:
        op = getattr(found.mpi, _NAMED[name])
        if destination is None:
            found.comm.Allreduce(found.mpi.IN_PLACE, buffer, op)
        elif found.rank == destination:
            found.comm.Reduce(found.mpi.IN_PLACE, buffer, op, root=destination)
        else:
            found.comm.Reduce(buffer, None, op, root=destination)
            return None
    elif found.size > 1 and destination is not None and found.rank != destination:
        return None
    return packed.unpack(buffer, _promoted(packed.dtypes, name) if dtypes is None else dtypes)


def _sums(found):
    """The job's ReusedSum (spmdPlus's path for large buffers), None in a single process."""
    if found.size == 1:
        return None
    if found.sums is None:
        found.sums = ReusedSum(found.comm, found.mpi)
    return found.sums


def _buffer_dtype(X, name):
    """The buffer's dtype: booleans for and/or, else the leaves' common one."""
    return _BOOL if name in ("and", "or") else None


def _promoted(dtypes, name):
    if name in ("plus", "times"):
        return [np.dtype(np.int64) if d == _BOOL else d for d in dtypes]
    return dtypes


def _fold(fcn, packed, found, destination):
    buffer = packed.buffer
    if found.size > 1:
        if destination is None:
            everyone = np.empty((found.size, buffer.size), buffer.dtype)
            found.comm.Allgather(buffer, everyone)
        else:
            everyone = np.empty((found.size, buffer.size), buffer.dtype) if found.rank == destination else None
            found.comm.Gather(buffer, everyone, root=destination)
            if found.rank != destination:
                return None
    else:
        everyone = buffer[None]
    sizes = packed.leaf_sizes()
    results, start = [], 0
    for size, shape in zip(sizes, packed.shapes):
        value = everyone[0, start:start + size].reshape(shape)
        for rank in range(1, len(everyone)):
            value = fcn(value, everyone[rank, start:start + size].reshape(shape))
        results.append(np.asarray(value, dtype=buffer.dtype).reshape(-1))
        if results[-1].size != size:
            raise ValueError(f"spmdReduce: fcn must return an array of its arguments' shape {shape}, "
                             f"got shape {np.shape(value)}")
        start += size
    return packed.unpack(np.concatenate(results) if results else buffer)


def spmdBroadcast(source: int, X: Any = None) -> Any:
    """X of process `source`, on every process (the others may omit X). Any value that pickles
    travels (networks, optimizer state, accelerated functions), in one collective."""
    found = world()
    source = _check_index(source, "source", found)
    if found.size == 1:
        return X
    return found.comm.bcast(X if found.rank == source else None, root=source)


def spmdCat(X: Any, dim: int = 0, destination: int | None = None) -> Any:
    """The values of X on all processes concatenated along axis `dim` (0-based) in index order,
    leaf by leaf; with a `destination` index only that process gets it, the others None."""
    found = world()
    destination = _check_index(destination, "destination", found)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"spmdCat: dim must be an axis index (int), got {type(dim).__name__}")
    packed = Packed(X, "spmdCat")
    for shape in packed.shapes:
        if not -len(shape) <= dim < len(shape):
            raise ValueError(f"spmdCat: dim {dim} is not an axis of a leaf of shape {shape}")
    if found.size == 1:
        return packed.unpack()
    mine = (packed.shapes, packed.buffer)
    if destination is None:
        everyone = found.comm.allgather(mine)
    else:
        everyone = found.comm.gather(mine, root=destination)
        if found.rank != destination:
            return None
    leaves, offsets = [], [0] * len(everyone)
    for i, (shape, dtype) in enumerate(zip(packed.shapes, packed.dtypes)):
        parts = []
        for r, (shapes, buffer) in enumerate(everyone):
            size = math.prod(shapes[i])
            parts.append(buffer[offsets[r]:offsets[r] + size].reshape(shapes[i]))
            offsets[r] += size
        try:
            leaves.append(np.concatenate(parts, axis=dim).reshape(-1))
        except ValueError as exc:
            raise ValueError(f"spmdCat: leaf {i} does not concatenate along dim {dim} across processes "
                             f"(shapes {[s[i] for s, _ in everyone]}): {exc}") from None
    out = Packed.__new__(Packed)
    out.treedef, out.kinds, out.dtypes = packed.treedef, packed.kinds, packed.dtypes
    out.shapes = [_joined(shape, [s[i] for s, _ in everyone], dim) for i, shape in enumerate(packed.shapes)]
    return out.unpack(np.concatenate(leaves) if leaves else packed.buffer)


def _joined(shape, shapes, dim):
    axis = dim % len(shape)
    return tuple(sum(s[axis] for s in shapes) if k == axis else n for k, n in enumerate(shape))


def _check_index(index, what, found):
    if index is None and what == "destination":
        return None
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"{what} must be a process index (int), got {type(index).__name__}")
    if not 0 <= index < found.size:
        raise ValueError(f"{what} must be a process index 0..{found.size - 1} (0-based; spmdSize() is "
                         f"{found.size}), got {index}")
    return int(index)
