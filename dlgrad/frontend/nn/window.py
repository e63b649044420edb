"""Window geometry shared by convolution and pooling: MATLAB's Stride, DilationFactor and
Padding / Cropping options read into one (before, after) pair per spatial axis."""
from __future__ import annotations

import math

import numpy as np


def per_axis(value, d, what, op) -> tuple:
    """d positive ints from an int or d values (MATLAB's Stride, DilationFactor, filter size)."""
    values = np.ravel(np.asarray(value))
    if values.size == 1:
        values = np.repeat(values, d)
    if values.size != d or not all(float(v).is_integer() and v >= 1 for v in values):
        raise ValueError(f"{op}: {what} must be a positive int or {d} positive ints, got {value!r}")
    return tuple(int(v) for v in values)


def same_padding(size, kernel, stride, dilation) -> tuple:
    """MATLAB's "same": output size ceil(size / stride), the odd pixel after (bottom, right)."""
    pads = []
    for n, k, s, dl in zip(size, kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * dl + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def padding_pairs(padding, size, kernel, stride, dilation, op, what="Padding") -> tuple:
    """((before, after), ...) per spatial axis from MATLAB's forms: "same", an int (all sides),
    d values (both sides of each axis), a 2 x d array [t l; b r] (before in the first row),
    2d values (t, b, l, r, ...: each axis's pair in turn), and "causal" (1-D: all before)."""
    d = len(size)
    expected = (f"'same', a non-negative int, {d} values, 2*{d} values or a 2-by-{d} array"
                + (" or 'causal'" if d == 1 else ""))
    if isinstance(padding, str):
        if padding.lower() == "same":
            return same_padding(size, kernel, stride, dilation)
        if padding.lower() == "causal" and d == 1:
            return (((kernel[0] - 1) * dilation[0], 0),)
        raise ValueError(f"{op}: {what} must be {expected}, got {padding!r}")
    array = np.asarray(padding)
    if array.dtype.kind not in "iuf" or not np.all(array >= 0) or not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{op}: {what} must be {expected} (non-negative integers), got {padding!r}")
    values = [int(v) for v in array.ravel()]
    if array.ndim == 2 and array.shape == (2, d):
        return tuple((int(array[0, k]), int(array[1, k])) for k in range(d))
    if array.ndim <= 1 and len(values) == 1:
        return ((values[0], values[0]),) * d
    if array.ndim == 1 and len(values) == d and d > 1:
        return tuple((v, v) for v in values)
    if array.ndim == 1 and len(values) == 2 * d:
        return tuple((values[2 * k], values[2 * k + 1]) for k in range(d))
    raise ValueError(f"{op}: {what} must be {expected}, got {padding!r}")
