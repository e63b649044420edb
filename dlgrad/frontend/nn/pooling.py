"""maxpool, avgpool and maxunpool on formatted data: MATLAB's options, the pooling primitives' attributes.

Pooling runs over the "S" axes of the data (1 to 3 of them: "SCB", "SSCB", "SSSCB"), or
over "T" when there is no "S" (dlarray(X, "TCB") is stored as "CBT", MATLAB's order).
The windows are loops in C (graph/ops/pool.py, codegen/kinds/pool.py): the C is the same
size for any image size, and padding is never stored.
"""
from __future__ import annotations

import math
from typing import Any, Sequence, Union

import numpy as np
import numpy.typing as npt

from ...graph.node import Const
from ...graph.ops.pool import geometry
from ..dispatch import apply, asdlarray
from ..functions import where
from ..dlarray import dlarray, wrap_traced
from ..formats import FormatError, check, dims
from .common import formatted_input, relabel
from ..types import ArrayLike
from ..namevalue import name_value
from ..nargout import requested_outputs

#: Sizes per pooled dimension: one int for all, or one per dimension.
Sizes = Union[int, Sequence[int], npt.NDArray[Any]]
#: MATLAB's Padding: sizes, (t, b, l, r), [[t, l], [b, r]] or "same".
Padding = Union[Sizes, Sequence[Sequence[int]], str]


def _input(X: ArrayLike, DataFormat: str | None, op: str) -> tuple[dlarray, str, bool]:
    """(x without its format, its format, whether the result is labelled). Unlike most functions,
    DataFormat may name the axes in any order ("TCB"): pooling finds its axes wherever they are,
    and the result keeps X's order, unformatted, as in MATLAB."""
    if DataFormat is None:
        if not dims(X):
            raise FormatError(f"{op} needs a formatted dlarray, for example dlarray(X, 'SSCB'), or DataFormat=")
        return formatted_input(X, "", op)
    x = asdlarray(X)
    if dims(x):
        raise FormatError(f"{op}: DataFormat is only for unformatted input, but the input has data "
                          f"format {dims(x)!r}")
    fmt = check(DataFormat, x.ndim)
    if len(fmt) != x.ndim:
        raise FormatError(f"{op}: DataFormat {fmt!r} does not match the {x.ndim} dimensions of the input")
    return x, fmt, False


def _pooled_axes(fmt: str, op: str) -> tuple[int, int]:
    """(first pooled axis, number of pooled axes): the S axes, else the T axis."""
    axes = [i for i, c in enumerate(fmt) if c == "S"] or [i for i, c in enumerate(fmt) if c == "T"]
    if not axes:
        raise FormatError(f"{op} pools over 'S' (spatial) or 'T' (time) dimensions, but the data "
                          f"format {fmt!r} has neither")
    if axes != list(range(axes[0], axes[0] + len(axes))):
        raise FormatError(f"{op}: the 'S' dimensions of the data format {fmt!r} must be adjacent")
    return axes[0], len(axes)


def _integers(value: Any) -> list[Any] | None:
    """value's entries as a flat list if they are all integral numbers, else None."""
    try:
        values = np.asarray(value).ravel().tolist()
        return values if all(not isinstance(v, bool) and float(v).is_integer() for v in values) else None
    except (TypeError, ValueError):
        return None


def _ints(value: Any, d: int, what: str, op: str, low: int = 1) -> tuple[int, ...]:
    """An int or d ints (each >= low) as a d-tuple."""
    values = _integers(value)
    if values is not None and len(values) == 1:
        values = values * d
    if values is None or len(values) != d or any(v < low for v in values):
        raise ValueError(f"{op}: {what} must be an integer >= {low} or {d} of them (one per pooled "
                         f"dimension), got {value!r}")
    return tuple(int(v) for v in values)


def _padding(padding: Any, d: int, size: Sequence[int], window: Sequence[int], stride: Sequence[int],
             op: str) -> tuple[tuple[int, int], ...]:
    """((lo, hi) per pooled axis) from MATLAB's Padding: an int, d ints (both sides), 'same',
    [[top, left], [bottom, right]] (MATLAB's [t l; b r], one column per pooled axis),
    or 2d values (t, b, l, r for 2-D; lo, hi for 1-D)."""
    if isinstance(padding, str):
        if padding.lower() != "same":
            raise ValueError(f"{op}: Padding must be 'same', an integer, {d} integers or a 2-by-{d} "
                             f"array [[top, left], [bottom, right]], got {padding!r}")
        pads: list[tuple[int, int]] = []
        for n, k, s in zip(size, window, stride):   # output size ceil(n / s); odd padding at the end
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    flat = _integers(padding)
    if flat is None or any(v < 0 for v in flat):
        raise ValueError(f"{op}: Padding must hold non-negative integers, got {padding!r}")
    flat, shape = [int(v) for v in flat], np.shape(padding)
    if shape == (2, d):
        return tuple((flat[i], flat[d + i]) for i in range(d))
    if len(flat) == 1 or (len(flat) == d and d > 1):
        return tuple((p, p) for p in (flat * d)[:d])
    if len(flat) == 2 * d:
        return tuple((flat[2 * i], flat[2 * i + 1]) for i in range(d))
    raise ValueError(f"{op}: Padding must be 'same', an integer, {d} integers, {2 * d} values or a "
                     f"2-by-{d} array [[top, left], [bottom, right]], got {padding!r}")


def _geometry(X: ArrayLike, poolsize: Any, Stride: Any, Padding: Any, DataFormat: str | None, op: str,
              ndims: int | None = None) -> tuple[dlarray, str, bool, dict[str, Any]]:
    """(x without format, its format, keep the format?, the pooling attributes)."""
    x, fmt, keep = _input(X, DataFormat, op)
    axis, d = _pooled_axes(fmt, op)
    if ndims is not None and d != ndims:
        raise FormatError(f"{op} pools over {ndims} spatial dimension(s), but the data format {fmt!r} "
                          f"has {d}")
    size = x.shape[axis:axis + d]
    if isinstance(poolsize, str):
        if poolsize.lower() != "global":
            raise ValueError(f"{op}: poolsize must be 'global' or positive integers, got {poolsize!r}")
        window = tuple(size)
    else:
        window = _ints(poolsize, d, "poolsize", op)
    stride = _ints(Stride, d, "Stride", op)
    pads = _padding(Padding, d, size, window, stride, op)
    for (lo, hi), k in zip(pads, window):
        if lo >= k or hi >= k:
            raise ValueError(f"{op}: Padding {Padding!r} gives ({lo}, {hi}) on an axis with pool size {k}: "
                             "the padding must be smaller than the pool size")
    for n, k, (lo, hi) in zip(size, window, pads):
        if n + lo + hi < k:
            raise ValueError(f"{op}: the pool size {window} is larger than the padded input "
                             f"{tuple(m + a + b for m, (a, b) in zip(size, pads))}")
    return x, fmt, keep, geometry(axis, window, stride, pads)


@name_value(2)
def maxpool(X: ArrayLike, poolsize: Sizes | str, Stride: Sizes = 1, Padding: Padding = 0,
            DataFormat: str | None = None, return_indices: bool = False,
            *, _ndims: int | None = None) -> dlarray | tuple[dlarray, dlarray, tuple[int, ...]]:
    """Largest value of each window over the "S" (or "T") dimensions; padding never wins.

    poolsize: integers or "global" (the whole spatial extent). Stride, Padding (an int, one
    per dimension, "same", [[t, l], [b, r]] or (t, b, l, r)) as MATLAB's. Ties: the argmax, to
    which the gradient goes, is the first maximum in window order (the window scanned with its
    last dimension fastest); a NaN counts as a maximum. With return_indices=True, returns
    (Y, indx, inputSize) like MATLAB's [Y, indx, inputSize] = maxpool(...): indx holds, for each
    element of Y, the 0-based flat (row-major) position in X of its maximum (MATLAB's are
    1-based, column-major), as float64; inputSize is X's shape; both are for maxunpool.
    Unpacking the result into three names asks for them too, as MATLAB's number of outputs does.
    """
    x, fmt, keep, attrs = _geometry(X, poolsize, Stride, Padding, DataFormat, "maxpool", _ndims)
    y = relabel(apply("maxpool", x, **attrs), fmt, keep)
    # MATLAB's [Y, indx, inputSize] = maxpool(...) ported as `Y, indx, inputSize = maxpool(...)` would
    # otherwise unpack the first axis of Y (silently when it has 3 entries): three names ask for the indices
    if not return_indices and requested_outputs() != 3:
        return y
    return y, relabel(apply("maxpool_index", x, **attrs), fmt, keep), tuple(x.shape)


@name_value(2)
def avgpool(X: ArrayLike, poolsize: Sizes | str, Stride: Sizes = 1, Padding: Padding = 0,
            PaddingValue: float | str = 0, DataFormat: str | None = None,
            *, _ndims: int | None = None) -> dlarray:
    """Mean of each window over the "S" (or "T") dimensions.

    Padding counts as PaddingValue (0 by default, like MATLAB), or, with PaddingValue="mean",
    as the mean of the window's elements inside X (the mean of those elements alone).
    """
    op = "avgpool"
    mean = isinstance(PaddingValue, str)
    if isinstance(PaddingValue, str) and PaddingValue.lower() != "mean":
        raise ValueError(f"{op}: PaddingValue must be a number or 'mean', got {PaddingValue!r}")
    x, fmt, keep, attrs = _geometry(X, poolsize, Stride, Padding, DataFormat, op, _ndims)
    y = apply(op, x, **attrs)
    if any(p != (0, 0) for p in attrs["padding"]) and (mean or float(PaddingValue) != 0):
        # the share of each window inside x: the mean of ones (a broadcast scalar, zero in the padding)
        axis, d = attrs["axis"], len(attrs["window"])
        ones = apply("broadcast_to", np.ones((1,) * x.ndim, dtype=x.dtype),
                     shape=(1,) * axis + x.shape[axis:axis + d] + (1,) * (x.ndim - axis - d))
        inside = apply(op, ones, **attrs)
        if mean:
            y = y / inside
            return relabel(y, fmt, keep)
        value = float(PaddingValue)
        if math.isfinite(value):
            y = y + value * (1 - inside)
        else:   # inf * 0 would be NaN in the windows without padding (where inside is exactly 1)
            outside = 1 - inside
            padded = outside > 0
            y = y + where(padded, value * where(padded, outside, 1.0), 0.0)
    return relabel(y, fmt, keep)


@name_value(3)
def maxunpool(X: ArrayLike, indx: ArrayLike, outputSize: Sizes, DataFormat: str | None = None) -> dlarray:
    """MATLAB's maxunpool: zeros of outputSize with each element of X at its position in indx.

    indx and outputSize are what maxpool(..., return_indices=True) returned (0-based flat
    positions); values that land on one position add up. Inside dlfeval, indx must come from
    maxpool in the same function (the positions are then recomputed by loops, never stored
    as a table) or be a constant array.
    """
    op = "maxunpool"
    y, fmt, keep = _input(X, DataFormat, op)
    shape = _ints(outputSize, len(outputSize) if not isinstance(outputSize, (int, np.integer)) else 1,
                  "outputSize", op)
    indx = asdlarray(indx)
    if indx.shape != y.shape:
        raise ValueError(f"{op}: indx of shape {indx.shape} must have X's shape {y.shape}")
    if len(shape) != y.ndim:
        raise ValueError(f"{op}: outputSize {shape} must have one size per dimension of X {y.shape}")
    first, count = _pooled_axes(fmt, op)
    if any(shape[i] != y.shape[i] for i in range(y.ndim) if not first <= i < first + count):
        # flat positions read in another channel or batch layout land in the wrong places, silently
        raise ValueError(f"{op}: outputSize {shape} must keep X's sizes {y.shape} on the axes that were not "
                         f"pooled (format {fmt!r}): give the inputSize maxpool returned")
    node = indx._node
    if node is not None and node.op == "maxpool_index":
        source = node.inputs[0]
        if source.shape != shape:
            raise ValueError(f"{op}: outputSize {shape} is not the size {source.shape} of the array "
                             "maxpool took indx from")
        attrs = {k: node.attr(k) for k in ("axis", "window", "stride", "padding")}
        out = apply("maxpool_scatter", wrap_traced(source, indx._trace), y, **attrs)
        return relabel(out, fmt, keep)
    if node is not None:
        raise ValueError(f"{op}: inside dlfeval, indx must be the indices maxpool returned in the same "
                         "function (or a constant array), not a computed or runtime array")
    positions = indx._data
    size = math.prod(shape)
    if not (np.all(positions == np.round(positions)) and positions.min(initial=0) >= 0
            and positions.max(initial=0) < size):
        raise ValueError(f"{op}: indx must hold integer positions in [0, {size}) (0-based, row-major), "
                         f"got values from {positions.min()} to {positions.max()}")
    out = apply("scatter", y, indices=Const(np.ascontiguousarray(positions, dtype=np.int64)), shape=shape)
    return relabel(out, fmt, keep)
