"""concatenate and stack, written as sums of pads (pad is slice's adjoint, so gradients are slices)."""
from __future__ import annotations

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from .dispatch import apply, asdlarray, cast
from .dlarray import F32, F64, dlarray
from .functions import reshape


def _shapes(arrays) -> str:
    return ", ".join(str(a.shape) for a in arrays)


def concatenate(arrays, axis=0) -> dlarray:
    """Join arrays along an existing axis (None: flatten them first), like numpy.concatenate."""
    arrays = [asdlarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated")
    if any(a.ndim != ndim for a in arrays):
        raise ShapeError(f"concatenate needs arrays with the same number of dimensions, got shapes "
                         f"{_shapes(arrays)}")
    (axis,) = normalize_axes(axis, ndim)
    rest = [a.shape[:axis] + a.shape[axis + 1:] for a in arrays]
    if any(r != rest[0] for r in rest):
        raise ShapeError(f"concatenate along axis {axis} needs equal shapes on the other axes, got "
                         f"shapes {_shapes(arrays)}")
    dtype = F64 if any(a.dtype == F64 for a in arrays) else F32
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    shape = tuple(shape)
    # empty pieces add nothing (unless all are empty: then the first gives the empty result)
    keep = {id(a) for a in ([a for a in arrays if a.shape[axis]] or arrays[:1])}
    result, offset = None, 0
    for a in arrays:
        n = a.shape[axis]
        if id(a) in keep:
            index = tuple((offset, offset + n, 1) if i == axis else (0, d, 1) for i, d in enumerate(shape))
            part = cast(a, dtype)
            if part.shape != shape:
                part = apply("pad", part, shape=shape, index=index)
            result = part if result is None else result + part
        offset += n
    return result


def stack(arrays, axis=0) -> dlarray:
    """Join arrays of one shape along a new axis, like numpy.stack."""
    arrays = [asdlarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ShapeError(f"stack needs arrays of the same shape, got shapes {_shapes(arrays)}")
    (axis,) = normalize_axes(axis, arrays[0].ndim + 1)
    shape = arrays[0].shape[:axis] + (1,) + arrays[0].shape[axis:]
    return concatenate([reshape(a, shape) for a in arrays], axis)
