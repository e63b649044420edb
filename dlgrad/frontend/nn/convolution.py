"""dlconv and dltranspconv: MATLAB's convolutions of 1-D, 2-D and 3-D data, grouped or not.

Both are one graph primitive each (graph/ops/conv.py: conv, conv_transpose) on data laid out
spatial axes, channels, batch; "CBT" sequences (1-D over time) are permuted to that order.
MATLAB's grouped weights (filter..., channelsPerGroup, filtersPerGroup, numGroups) become the
primitive's (filter..., channelsPerGroup, numGroups * filtersPerGroup), filters group by group.
"""
from __future__ import annotations

from ..types import ArrayLike

from typing import Any, Optional

import numpy as np

from .. import functions as F
from ..dispatch import apply, asdlarray
from ..dlarray import dlarray
from ..arrays import flip
from ..formats import FormatError, stripdims
from ..join import concatenate
from .common import formatted_input, relabel
from .window import padding_pairs, per_axis
from ..namevalue import name_value

_PADDING_VALUES = ("symmetric-include-edge", "symmetric-exclude-edge", "replicate")


def _spatial_data(X, op, data_format):
    """(x as (S..., C, B), number of spatial axes, a function restoring the caller's layout)."""
    x, fmt, keep = formatted_input(X, "C", op, data_format)
    spatial = fmt.count("S")
    allowed = {"S" * d + "C" + b for d in (1, 2, 3) for b in ("", "B")} | {"CT", "CBT"}
    if "S" not in fmt and "T" not in fmt:
        raise FormatError(f"{op} needs the label S (1 to 3 spatial dimensions) or T in the data format, "
                          f"got {fmt!r}")
    if fmt not in allowed:
        raise FormatError(f"{op} needs data with 1 to 3 spatial dimensions and a channel dimension "
                          f"('SCB', 'SSCB', 'SSSCB', or 'CBT' for 1-D convolution over time), got {fmt!r}")
    if "T" in fmt:                             # (C, [B,] T) -> (T, C, B)
        if "B" not in fmt:
            x = F.reshape(x, (x.shape[0], 1, x.shape[1]))
        x = F.transpose(x, (2, 0, 1))
        spatial = 1

        def restore(y):
            y = F.transpose(y, (1, 2, 0))
            return relabel(y if "B" in fmt else F.reshape(y, (y.shape[0], y.shape[2])), fmt, keep)
    else:
        if "B" not in fmt:
            x = F.reshape(x, x.shape + (1,))

        def restore(y):
            return relabel(y if "B" in fmt else F.reshape(y, y.shape[:-1]), fmt, keep)
    return x, spatial, restore


def _weights(weights, d, op, channels_of):
    """MATLAB's weights as (filter..., a, b, groups) with trailing singleton axes restored."""
    w = stripdims(asdlarray(weights))
    if w.ndim > d + 3 or w.ndim < d:
        raise FormatError(f"{op}: weights need {d + 2} dimensions (filter size, {channels_of}) or {d + 3} "
                          f"for grouped convolution, got shape {w.shape}")
    return F.reshape(w, w.shape + (1,) * (d + 3 - w.ndim))


def _grouped(w, d):
    """(filter..., a, b, G) -> (filter..., a, G*b): the b axis of each group in turn."""
    k = w.shape
    return F.reshape(F.transpose(w, tuple(range(d)) + (d, d + 2, d + 1)), k[:d] + (k[d], k[d + 2] * k[d + 1]))


def _bias(y, bias, filters, per_group, groups, op):
    if bias is None:
        return y
    if not isinstance(bias, dlarray):   # a number or numpy array takes the data's precision
        bias = np.asarray(bias, dtype=y.dtype)
    b = stripdims(asdlarray(bias))
    if b.size == 1:
        return y + F.reshape(b, ())
    if b.size != filters:
        raise FormatError(f"{op}: bias needs {filters} values (one per filter) or one, got shape {b.shape}")
    if groups > 1 and b.ndim >= 2 and b.shape[-2:] == (per_group, groups):
        b = F.transpose(b, tuple(range(b.ndim - 2)) + (b.ndim - 1, b.ndim - 2))   # MATLAB's group order
    return y + F.reshape(b, (filters, 1))


@name_value(2, ('bias',))
def dlconv(X: ArrayLike, weights: ArrayLike, bias: ArrayLike = None, Stride: Any = 1, DilationFactor: Any = 1, Padding: Any = 0,
           PaddingValue: Any = 0, DataFormat: Optional[str] = None) -> dlarray:
    """Convolution (cross-correlation, like MATLAB) of 1-D, 2-D or 3-D data.

    weights: (filter..., numChannels, numFilters), or for grouped convolution (filter...,
    numChannelsPerGroup, numFiltersPerGroup, numGroups); bias: numFilters values or a scalar.
    Padding: 'same', an int, one value per spatial axis, [t l; b r] as a 2-by-d array, 2*d
    values (t, b, l, r), or 'causal' (1-D). PaddingValue: a number (0 by default).
    """
    op = "dlconv"
    x, d, restore = _spatial_data(X, op, DataFormat)
    w = _weights(weights, d, op, "numChannels, numFilters")
    shape = stripdims(asdlarray(weights)).shape
    kernel, cg, fg, groups = w.shape[:d], w.shape[d], w.shape[d + 1], w.shape[d + 2]
    channels = x.shape[-2]
    if cg * groups != channels:
        raise FormatError(f"{op}: weights of shape {shape} do not fit {channels} input channels: "
                          f"numChannelsPerGroup ({cg}) x numGroups ({groups}) must be {channels}")
    stride = per_axis(Stride, d, "Stride", op)
    dilation = per_axis(DilationFactor, d, "DilationFactor", op)
    padding = padding_pairs(Padding, x.shape[:d], kernel, stride, dilation, op)
    w = _grouped(w, d)
    attrs = dict(stride=stride, dilation=dilation, padding=padding, groups=groups)
    fill = _padding_value(PaddingValue, op)
    if isinstance(fill, str) and any(lo or hi for lo, hi in padding):
        x = _edge_padded(x, padding, fill, op)
        attrs["padding"] = tuple((0, 0) for _ in padding)
        y = apply("conv", x, w, **attrs)
    elif not isinstance(fill, str) and fill != 0 and any(lo or hi for lo, hi in padding):
        # x padded with p, convolved = (x - p) padded with zeros, convolved, + p * (sum of each filter)
        y = apply("conv", x - fill, w, **attrs) + fill * F.reshape(F.sum(w, tuple(range(d + 1))), (-1, 1))
    else:
        y = apply("conv", x, w, **attrs)
    return restore(_bias(y, bias, fg * groups, fg, groups, op))


def _padding_value(value, op):
    if isinstance(value, str):
        if value.lower() in _PADDING_VALUES:
            return value.lower()
        raise ValueError(f"{op}: PaddingValue must be a number or one of {', '.join(map(repr, _PADDING_VALUES))}, "
                         f"got {value!r}")
    if np.ndim(value) != 0:
        raise ValueError(f"{op}: PaddingValue must be a scalar number, got shape {np.shape(value)}")
    return float(value)


def _edge_padded(x, padding, mode, op):
    """x extended along each spatial axis by copies of its own edge values (MATLAB's PaddingValue
    'replicate', 'symmetric-include-edge' = mirror with the edge, 'symmetric-exclude-edge' = without):
    slices, flips and a concatenation, so the C stays independent of the image size."""
    for axis, (lo, hi) in enumerate(padding):
        n = x.shape[axis]
        skip = 1 if mode == "symmetric-exclude-edge" else 0
        if mode != "replicate" and max(lo, hi) > n - skip:
            raise ValueError(f"{op}: PaddingValue {mode!r} mirrors at most {n - skip} elements along spatial axis "
                             f"{axis} (size {n}), but the padding there is {(lo, hi)}")

        def part(start, stop, flipped):
            piece = x[(slice(None),) * axis + (slice(start, stop),)]
            return flip(piece, axis) if flipped else piece

        if mode == "replicate":
            left = [part(0, 1, False)] * lo
            right = [part(n - 1, n, False)] * hi
        else:
            left = [part(skip, skip + lo, True)] if lo else []
            right = [part(n - hi - skip, n - skip, True)] if hi else []
        x = concatenate(left + [x] + right, axis)
    return x


@name_value(2, ('bias',))
def dltranspconv(X: ArrayLike, weights: ArrayLike, bias: ArrayLike = None, Stride: Any = 1, DilationFactor: Any = 1, Cropping: Any = 0,
                 DataFormat: Optional[str] = None) -> dlarray:
    """Transposed convolution of 1-D, 2-D or 3-D data (the adjoint of dlconv in its input).

    weights: (filter..., numFilters, numChannels), or (filter..., numFiltersPerGroup,
    numChannelsPerGroup, numGroups); the output has numFilters channels and spatial size
    (n - 1) * Stride + (filter - 1) * DilationFactor + 1 minus the cropping. Cropping: 'same'
    (output size n * Stride), an int, one value per axis, [t l; b r], or 2*d values.
    """
    op = "dltranspconv"
    x, d, restore = _spatial_data(X, op, DataFormat)
    w = _weights(weights, d, op, "numFilters, numChannels")
    shape = stripdims(asdlarray(weights)).shape
    kernel, fg, cg, groups = w.shape[:d], w.shape[d], w.shape[d + 1], w.shape[d + 2]
    channels, size = x.shape[-2], x.shape[:d]
    if cg * groups != channels:
        raise FormatError(f"{op}: weights of shape {shape} do not fit {channels} input channels: "
                          f"numChannelsPerGroup ({cg}) x numGroups ({groups}) must be {channels}")
    stride = per_axis(Stride, d, "Stride", op)
    dilation = per_axis(DilationFactor, d, "DilationFactor", op)
    full = tuple((n - 1) * s + (k - 1) * dl + 1 for n, s, k, dl in zip(size, stride, kernel, dilation))
    if isinstance(Cropping, str) and Cropping.lower() == "same":
        crops = tuple(((f - n * s) // 2, f - n * s - (f - n * s) // 2) if f >= n * s else (0, 0)
                      for f, n, s in zip(full, size, stride))
        out = tuple(n * s for n, s in zip(size, stride))
    else:
        crops = padding_pairs(Cropping, size, kernel, stride, dilation, op, what="Cropping")
        out = tuple(f - lo - hi for f, (lo, hi) in zip(full, crops))
        if min(out) < 1:
            raise ValueError(f"{op}: Cropping {Cropping!r} removes the whole output of size {full}")
    y = apply("conv_transpose", x, _grouped(w, d), stride=stride, dilation=dilation, padding=crops,
              groups=groups, size=out)
    return restore(_bias(y, bias, fg * groups, fg, groups, op))
