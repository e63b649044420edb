"""Movement ops: reshape, permute, broadcast_to, strided slice and its adjoint pad, gather/scatter.

All but gather/scatter are affine re-indexings that codegen folds into the loads of
the kernels that read them, so none of them copies data unless it must.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import layout
from ..affine import Affine, NotAffine, broadcast_affine
from ..node import Const
from ..registry import GATHER, MOVEMENT, Op, apply, register
from . import reduce as R
from ..batching import lead


# --- observation layouts (graph/layout.py) and batching rules (graph/batching.py) ---------
def _reshape_layout(node, layouts):
    ((_, x, lay),) = layouts
    new = [None] * node.ndim
    before_out = [int(np.prod(node.shape[:j], dtype=np.int64)) for j in range(node.ndim)]
    for k, entry in enumerate(lay):
        if entry is None:
            continue
        before = int(np.prod(x.shape[:k], dtype=np.int64))
        match = [j for j in range(node.ndim) if before_out[j] == before and node.shape[j] == x.shape[k]]
        if not match:
            return layout.UNKNOWN
        new[match[0]] = entry
    return tuple(new)


def _permute_layout(node, layouts):
    ((_, x, lay),) = layouts
    return tuple(lay[a] for a in node.attr("axes"))


def _broadcast_layout(node, layouts):
    ((_, x, lay),) = layouts
    return layout.merge(node, [(lay, x.shape, node.ndim - x.ndim)])


def _shifted_layout(sign):
    """slice (sign +1) or pad (sign -1): contiguous ranges shift the observation index."""
    def rule(node, layouts):
        ((_, x, lay),) = layouts
        full = x.shape if sign > 0 else node.shape
        new = []
        for entry, (start, stop, step), n in zip(lay, node.attr("index"), full):
            if entry is None or (start, stop, step) == (0, n, 1):
                new.append(entry)
            elif step == 1 and entry[2] == 1:
                new.append((entry[0], entry[1] + sign * start, 1))
            else:
                return layout.UNKNOWN
        return tuple(new)
    return rule


def _batch_index(index, size):
    return ((0, size, 1),) + tuple(index)


def _flat_positions(indices: Const, size: int, stride: int) -> Const:
    """Flat positions of gather/scatter repeated for each copy, offset by `stride` elements each."""
    base = indices.array
    offsets = np.arange(size, dtype=np.int64).reshape((size,) + (1,) * base.ndim) * stride
    return Const(np.ascontiguousarray(base[None] + offsets, dtype=np.int64))


def _gather_batch(node, inputs, batched, size):
    x = inputs[0]
    return apply("gather", x, indices=_flat_positions(node.attr("indices"), size, x.size // size))


def _scatter_batch(node, inputs, batched, size):
    shape = node.attr("shape")
    stride = int(np.prod(shape, dtype=np.int64))
    return apply("scatter", inputs[0], indices=_flat_positions(node.attr("indices"), size, stride),
                 shape=(size,) + tuple(shape))


# --- the ops -------------------------------------------------------------------------------


def _reshape_infer(inputs, shape):
    (x,) = inputs
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape an array of shape {x.shape} ({x.size} elements) into shape {shape}")
    return shape, x.dtype


def _reshape_map(node):
    """Affine only when the reshape adds or drops unit axes (merging axes is not)."""
    x = node.inputs[0]
    kept_in = [d for d, n in enumerate(x.shape) if n != 1]
    kept_out = [d for d, n in enumerate(node.shape) if n != 1]
    if [x.shape[d] for d in kept_in] != [node.shape[d] for d in kept_out]:
        raise NotAffine("reshape that merges or splits axes")
    where = dict(zip(kept_in, kept_out))
    return Affine(tuple((where[d], 0, 1) if d in where else (None, 0, 0) for d in range(x.ndim)),
                  (None,) * node.ndim)


register(Op("reshape", MOVEMENT, _reshape_infer, lambda x, shape: np.reshape(x, shape),
            lambda g, out, inputs, shape: [reshape(g, inputs[0].shape)], cost=0,
            index_map=_reshape_map, layout=_reshape_layout,
            batch=lambda node, ins, b, size: apply("reshape", ins[0], shape=(size,) + node.attr("shape"))))


def _permute_infer(inputs, axes):
    (x,) = inputs
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"permutation {axes} is not a permutation of the {x.ndim} axes of shape {x.shape}")
    return tuple(x.shape[a] for a in axes), x.dtype


def _permute_map(node):
    where = {d: i for i, d in enumerate(node.attr("axes"))}
    return Affine(tuple((where[d], 0, 1) for d in range(node.ndim)), (None,) * node.ndim)


register(Op("permute", MOVEMENT, _permute_infer, lambda x, axes: np.transpose(x, axes),
            lambda g, out, inputs, axes: [permute(g, tuple(int(i) for i in np.argsort(axes)))], cost=0,
            index_map=_permute_map, layout=_permute_layout,
            batch=lambda node, ins, b, size: apply("permute", ins[0],
                                                   axes=(0,) + tuple(a + 1 for a in node.attr("axes")))))


def _broadcast_infer(inputs, shape):
    (x,) = inputs
    if len(shape) < x.ndim or any(d != 1 and d != s for d, s in zip(x.shape[::-1], shape[::-1])):
        raise ShapeError(f"cannot broadcast an array of shape {x.shape} to shape {shape}")
    return shape, x.dtype


register(Op("broadcast_to", MOVEMENT, _broadcast_infer,
            lambda x, shape: np.array(np.broadcast_to(x, shape)),
            lambda g, out, inputs, shape: [R.unbroadcast(g, inputs[0].shape)], cost=0,
            index_map=lambda node: broadcast_affine(node.inputs[0].shape, node.shape),
            layout=_broadcast_layout,
            batch=lambda node, ins, b, size: apply("broadcast_to", lead(ins[0], node.ndim, size),
                                                   shape=(size,) + node.attr("shape"))))


def _slice_shape(shape, index):
    if len(index) != len(shape):
        raise ShapeError(f"slice {index} does not match the {len(shape)} axes of shape {shape}")
    return tuple(len(range(*spec)) for spec in index)


def _check_index(index, shape, what):
    """Each (start, stop, step) must be what slice(...).indices(n) gives for an axis of length n."""
    if len(index) != len(shape):
        raise ShapeError(f"{what} {index} does not match the {len(shape)} axes of shape {shape}")
    for (start, stop, step), n in zip(index, shape):
        low, high = (0, n) if step > 0 else (-1, n - 1)
        # start -1 with a negative step is only slice.indices' spelling of an empty slice
        if step == 0 or not (low <= start <= high and low <= stop <= high) or \
                (step < 0 and start == -1 and stop != -1):
            raise ShapeError(f"{what} {(start, stop, step)} is not normalised for an axis of length {n} "
                             f"(start and stop must lie in [{low}, {high}] for step {step})")


def _slice_infer(inputs, index):
    (x,) = inputs
    _check_index(index, x.shape, "slice")
    return _slice_shape(x.shape, index), x.dtype


def _as_slices(index):
    """Python slices selecting exactly range(start, stop, step) (no wrap-around of -1)."""
    return tuple(slice(start, None if stop < 0 else stop, step) if len(range(start, stop, step))
                 else slice(0, 0, 1) for start, stop, step in index)


def _slice_map(node):
    return Affine(tuple((d, start, step) for d, (start, _, step) in enumerate(node.attr("index"))),
                  (None,) * node.ndim)


register(Op("slice", MOVEMENT, _slice_infer, lambda x, index: np.array(x[_as_slices(index)]),
            lambda g, out, inputs, index: [pad(g, inputs[0].shape, index)], cost=0,
            index_map=_slice_map, layout=_shifted_layout(+1),
            batch=lambda node, ins, b, size: apply("slice", ins[0], index=_batch_index(node.attr("index"), size))))


def _view_infer(inputs, offset, shape):
    (x,) = inputs
    size = int(np.prod(shape, dtype=np.int64))
    if x.ndim != 1 or not 0 <= offset <= offset + size <= x.shape[0]:
        raise ShapeError(f"view: elements [{offset}, {offset + size}) as shape {shape} do not lie in a "
                         f"vector of shape {x.shape}")
    return shape, x.dtype


def _view_numpy(x, offset, shape):
    return np.array(x[offset:offset + int(np.prod(shape, dtype=np.int64))].reshape(shape))


def _view_vjp(g, out, inputs, offset, shape):
    size = out.size
    return [pad(reshape(g, (size,)), inputs[0].shape, ((offset, offset + size, 1),))]


# A contiguous region of a vector as an array of any shape (a loop's packed value read as its
# parts): codegen reads it in place, at an offset into the vector's memory (body.Context.storage);
# no per-axis map exists, so other readers get it copied first.
register(Op("view", MOVEMENT, _view_infer, _view_numpy, _view_vjp, cost=0))


def _pad_infer(inputs, shape, index):
    (x,) = inputs
    _check_index(index, shape, "pad")
    if _slice_shape(shape, index) != x.shape:
        raise ShapeError(f"pad {index} into shape {shape} needs an input of shape "
                         f"{_slice_shape(shape, index)}, got {x.shape}")
    return shape, x.dtype


def _pad_numpy(x, shape, index):
    out = np.zeros(shape, dtype=x.dtype)
    out[_as_slices(index)] = x
    return out


def _pad_map(node):
    """A window of the output reads the input; outside it (the bounds) the pad is zero."""
    axes, bounds = [], []
    for d, ((start, _, step), n) in enumerate(zip(node.attr("index"), node.inputs[0].shape)):
        if step == 1:
            axes.append((d, -start, 1))
            bounds.append(None if (start == 0 and n == node.shape[d]) else (start, start + n))
        elif step == -1:
            axes.append((d, start, -1))
            bounds.append((start - n + 1, start + 1))
        else:
            raise NotAffine("strided pad")
    return Affine(tuple(axes), tuple(bounds))


register(Op("pad", MOVEMENT, _pad_infer, _pad_numpy,
            lambda g, out, inputs, shape, index: [slice_(g, index)], cost=0, index_map=_pad_map,
            layout=_shifted_layout(-1),
            batch=lambda node, ins, b, size: apply("pad", ins[0], shape=(size,) + node.attr("shape"),
                                                   index=_batch_index(node.attr("index"), size))))


def _gather_infer(inputs, indices):
    (x,) = inputs
    flat = indices.array
    if flat.size and (flat.min() < 0 or flat.max() >= x.size):
        raise ShapeError(f"gather index out of range for an array of {x.size} elements")
    return flat.shape, x.dtype


def _scatter_infer(inputs, indices, shape):
    (g,) = inputs
    if g.shape != indices.array.shape:
        raise ShapeError(f"scatter of shape {g.shape} needs indices of the same shape, got {indices.array.shape}")
    return shape, g.dtype


def _scatter_numpy(g, indices, shape):
    out = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=g.dtype)
    np.add.at(out, indices.array.ravel(), np.asarray(g).ravel())
    return out.reshape(shape)


register(Op("gather", GATHER, _gather_infer,
            lambda x, indices: np.asarray(x).ravel()[indices.array],
            lambda g, out, inputs, indices: [scatter(g, indices, inputs[0].shape)], batch=_gather_batch))
register(Op("scatter", GATHER, _scatter_infer, _scatter_numpy,
            lambda g, out, inputs, indices, shape: [gather(g, indices)], batch=_scatter_batch))


def reshape(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else apply("reshape", x, shape=shape)


def permute(x, axes):
    axes = tuple(int(a) for a in axes)
    return x if axes == tuple(range(x.ndim)) else apply("permute", x, axes=axes)


def broadcast_to(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else apply("broadcast_to", x, shape=shape)


def slice_(x, index):
    index = tuple(tuple(int(v) for v in spec) for spec in index)
    if all(spec == (0, n, 1) for spec, n in zip(index, x.shape)):
        return x
    return apply("slice", x, index=index)


def view(x, offset, shape):
    """x[offset : offset + prod(shape)] (x a vector) reshaped to `shape`."""
    shape = tuple(int(d) for d in shape)
    if offset == 0 and shape == x.shape:
        return x
    return apply("view", x, offset=int(offset), shape=shape)


def pad(x, shape, index):
    shape = tuple(int(d) for d in shape)
    index = tuple(tuple(int(v) for v in spec) for spec in index)
    if shape == x.shape and all(spec == (0, n, 1) for spec, n in zip(index, shape)):
        return x
    return apply("pad", x, shape=shape, index=index)


def gather(x, indices):
    """x.ravel()[indices]: indices is an int array (or Const) of flat positions."""
    if not isinstance(indices, Const):
        indices = Const(np.asarray(indices, dtype=np.int64))
    return apply("gather", x, indices=indices)


def scatter(g, indices, shape):
    """Zeros of `shape` with g added at the flat positions `indices` (repeats accumulate)."""
    return apply("scatter", g, indices=indices, shape=tuple(int(d) for d in shape))
