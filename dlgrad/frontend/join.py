"""concatenate and stack, written as sums of pads (pad is slice's adjoint, so gradients are slices)."""
from __future__ import annotations

from typing import Iterable

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from .dispatch import apply, asdlarray, cast, operand_dtype
from .dlarray import dlarray, logical
from .functions import reshape
from .types import ArrayLike


def _shapes(arrays: Iterable[dlarray]) -> str:
    return ", ".join(str(a.shape) for a in arrays)


def concatenate(arrays: Iterable[ArrayLike], axis: int | None = 0) -> dlarray:
    """Join arrays along an existing axis (None: flatten them first), like numpy.concatenate."""
    parts = [asdlarray(a) for a in arrays]
    if not parts:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        parts, axis = [reshape(a, (-1,)) for a in parts], 0
    ndim = parts[0].ndim
    if ndim == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated")
    if any(a.ndim != ndim for a in parts):
        raise ShapeError(f"concatenate needs arrays with the same number of dimensions, got shapes "
                         f"{_shapes(parts)}")
    (axis,) = normalize_axes(axis, ndim)
    rest = [a.shape[:axis] + a.shape[axis + 1:] for a in parts]
    if any(r != rest[0] for r in rest):
        raise ShapeError(f"concatenate along axis {axis} needs equal shapes on the other axes, got "
                         f"shapes {_shapes(parts)}")
    dtype = operand_dtype(*parts)   # logical parts take the numeric parts' dtype
    sizes = list(parts[0].shape)
    sizes[axis] = sum(a.shape[axis] for a in parts)
    shape = tuple(sizes)
    # empty pieces add nothing (unless all are empty: then the first gives the empty result)
    keep = {id(a) for a in ([a for a in parts if a.shape[axis]] or parts[:1])}
    result: dlarray | None = None
    offset = 0
    for a in parts:
        n = a.shape[axis]
        if id(a) in keep:
            index = tuple((offset, offset + n, 1) if i == axis else (0, d, 1) for i, d in enumerate(shape))
            part = cast(a, dtype)
            if part.shape != shape:
                part = apply("pad", part, shape=shape, index=index)
            result = part if result is None else result + part
        offset += n
    assert result is not None
    return logical(result) if all(a._logical for a in parts) else result


def stack(arrays: Iterable[ArrayLike], axis: int = 0) -> dlarray:
    """Join arrays of one shape along a new axis, like numpy.stack."""
    parts = [asdlarray(a) for a in arrays]
    if not parts:
        raise ValueError("need at least one array to stack")
    if any(a.shape != parts[0].shape for a in parts):
        raise ShapeError(f"stack needs arrays of the same shape, got shapes {_shapes(parts)}")
    (axis,) = normalize_axes(axis, parts[0].ndim + 1)
    shape = parts[0].shape[:axis] + (1,) + parts[0].shape[axis:]
    return concatenate([reshape(a, shape) for a in parts], axis)
