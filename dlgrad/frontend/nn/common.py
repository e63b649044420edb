"""Helpers shared by the deep-learning functions: labelled axes, per-channel parameters."""
from __future__ import annotations

import math

from .. import functions as F
from ..dispatch import apply, asdlarray, cast
from ..dlarray import dlarray
from ..formats import FormatError, labelled, require, stripdims


def formatted_input(x, labels, op, data_format=None):
    """(x as a dlarray without its format, its format, whether the result should be labelled)."""
    x = asdlarray(x)
    fmt = require(x, labels, op, data_format)
    return stripdims(x), fmt, data_format is None


def relabel(y, fmt, keep):
    """y labelled with fmt when the input was formatted (not when DataFormat named its axes)."""
    return labelled(y, fmt) if keep and fmt else y


def as_data_of(value, dtype):
    """value as a dlarray; numpy data and lists take `dtype` (a single-precision loss stays single,
    as MATLAB's targets do), dlarrays keep theirs. The conversion is an op on the array itself, so
    a large array captured from outside the function stays a runtime input."""
    if isinstance(value, dlarray):
        return value
    return cast(asdlarray(value), dtype)


def stop(x):
    """x as a constant to differentiation."""
    return apply("stop_gradient", x)


def per_axis(p, shape, axis, what, op):
    """Parameter p (one value per entry of `axis`) shaped to broadcast along `axis` of `shape`."""
    p = stripdims(asdlarray(p))
    n = shape[axis]
    if p.size != n:
        raise FormatError(f"{op}: {what} needs {n} values (one per channel), got shape {p.shape}")
    return F.reshape(p, tuple(n if i == axis else 1 for i in range(len(shape))))


def batch_size(fmt, shape):
    """The size of the B axis (1 when there is none)."""
    return shape[fmt.index("B")] if "B" in fmt else 1


def normalizer(mode, fmt, shape, op):
    """MATLAB's NormalizationFactor: 'batch-size', 'all-elements' or 'none'."""
    mode = str(mode).lower()
    if mode == "batch-size":
        return batch_size(fmt, shape)
    if mode == "all-elements":
        return math.prod(shape)
    if mode == "none":
        return 1
    raise ValueError(f"{op}: NormalizationFactor must be 'batch-size', 'all-elements' or 'none', "
                     f"got {mode!r}")
