"""Normalisations: layernorm, instancenorm, groupnorm, crosschannelnorm and batchnorm (training
statistics, running statistics, inference)."""
from __future__ import annotations

from typing import Any

from ..types import ArrayLike

import numpy as np

from .. import functions as F
from ..dispatch import apply
from ..dlarray import dlarray
from ..formats import FormatError
from ..nargout import requested_outputs
from .common import formatted_input, per_axis, relabel, stop
from ..namevalue import name_value


def _normalize(x: dlarray, axes: tuple[int, ...], epsilon: float) -> tuple[dlarray, dlarray, dlarray]:
    mu = F.mean(x, axes, keepdims=True)
    d = x - mu
    var = F.mean(d * d, axes, keepdims=True)
    return d / F.sqrt(var + epsilon), mu, var


_LAYERNORM_DIMENSIONS = {"channel-only": "C", "spatial-channel": "SC", "batch-excluded": "SCTU"}


def _scaled(y: dlarray, x: dlarray, fmt: str, offset: ArrayLike, scaleFactor: ArrayLike, op: str) -> dlarray:
    c = fmt.index("C")
    return y * per_axis(scaleFactor, x.shape, c, "scaleFactor", op) + per_axis(offset, x.shape, c, "offset", op)


@name_value(3)
def layernorm(X: ArrayLike, offset: ArrayLike, scaleFactor: ArrayLike, Epsilon: float = 1e-5, DataFormat: str | None = None,
              OperationDimension: str = "auto") -> dlarray:
    """Normalise each observation over the axes OperationDimension names, then scale and shift
    per channel: "auto" (C for data with a T axis, else S, C and U), "channel-only" (C),
    "spatial-channel" (S and C) or "batch-excluded" (every axis but B)."""
    x, fmt, keep = formatted_input(X, "C", "layernorm", DataFormat)
    if OperationDimension == "auto":
        labels = "C" if "T" in fmt else "SCU"
    elif OperationDimension in _LAYERNORM_DIMENSIONS:
        labels = _LAYERNORM_DIMENSIONS[OperationDimension]
    else:
        raise ValueError(f"layernorm: OperationDimension must be 'auto', "
                         f"{', '.join(map(repr, _LAYERNORM_DIMENSIONS))}, got {OperationDimension!r}")
    y, _, _ = _normalize(x, tuple(i for i, c in enumerate(fmt) if c in labels), Epsilon)
    return relabel(_scaled(y, x, fmt, offset, scaleFactor, "layernorm"), fmt, keep)


@name_value(3)
def instancenorm(X: ArrayLike, offset: ArrayLike, scaleFactor: ArrayLike, Epsilon: float = 1e-5, DataFormat: str | None = None) -> dlarray:
    """MATLAB's instance normalisation: each channel of each observation normalised over its S, T
    and U axes, then scaled and shifted per channel."""
    x, fmt, keep = formatted_input(X, "C", "instancenorm", DataFormat)
    axes = tuple(i for i, c in enumerate(fmt) if c in "STU")
    if not axes:
        raise FormatError(f"instancenorm needs S, T or U axes to normalise over, got data format {fmt!r}")
    y, _, _ = _normalize(x, axes, Epsilon)
    return relabel(_scaled(y, x, fmt, offset, scaleFactor, "instancenorm"), fmt, keep)


@name_value(4)
def groupnorm(X: ArrayLike, numGroups: int | str, offset: ArrayLike, scaleFactor: ArrayLike, Epsilon: float = 1e-5,
              DataFormat: str | None = None) -> dlarray:
    """MATLAB's group normalisation: the channels split into numGroups contiguous groups (an int
    dividing the channel count, "all-channels" for one group, "channel-wise" for one per channel),
    each group of each observation normalised over its channels and S, T, U axes."""
    x, fmt, keep = formatted_input(X, "C", "groupnorm", DataFormat)
    c, channels = fmt.index("C"), x.shape[fmt.index("C")]
    named: dict[int | str, int | str] = {"all-channels": 1, "channel-wise": channels}
    groups = named.get(numGroups, numGroups)
    if isinstance(groups, str) or not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) \
            or groups < 1 or channels % groups:
        raise ValueError(f"groupnorm: numGroups must be 'all-channels', 'channel-wise' or a positive "
                         f"integer dividing the {channels} channels, got {numGroups!r}")
    # the channel axis split into (groups, channels per group); statistics over all but B and groups
    grouped = F.reshape(x, x.shape[:c] + (int(groups), channels // int(groups)) + x.shape[c + 1:])
    axes = tuple(i + (i > c) for i, label in enumerate(fmt) if label in "STU") + (c + 1,)
    y, _, _ = _normalize(grouped, axes, Epsilon)
    return relabel(_scaled(F.reshape(y, x.shape), x, fmt, offset, scaleFactor, "groupnorm"), fmt, keep)


@name_value(2)
def crosschannelnorm(X: ArrayLike, windowSize: int, Alpha: float = 1e-4, Beta: float = 0.75, K: float = 2.0,
                     DataFormat: str | None = None) -> dlarray:
    """MATLAB's local response (cross-channel) normalisation: x / (K + Alpha * ss / windowSize)^Beta,
    ss the sum of squares over a window of channels, the floor((w-1)/2) before and floor(w/2) after."""
    x, fmt, keep = formatted_input(X, "C", "crosschannelnorm", DataFormat)
    if isinstance(windowSize, bool) or not isinstance(windowSize, (int, np.integer)) or windowSize < 1:
        raise ValueError(f"crosschannelnorm: windowSize must be a positive integer, got {windowSize!r}")
    c, channels = fmt.index("C"), x.shape[fmt.index("C")]
    before, after = (windowSize - 1) // 2, windowSize // 2
    padded_shape = x.shape[:c] + (channels + before + after,) + x.shape[c + 1:]
    index = tuple((before, before + channels, 1) if i == c else (0, n, 1) for i, n in enumerate(x.shape))
    squares = apply("pad", x * x, shape=padded_shape, index=index)
    ss: dlarray | None = None
    for shift in range(windowSize):
        part = squares[(slice(None),) * c + (slice(shift, shift + channels),)]
        ss = part if ss is None else ss + part
    assert ss is not None   # windowSize >= 1
    return relabel(x / (K + (Alpha / windowSize) * ss) ** Beta, fmt, keep)


@name_value(3, ('mean', 'variance'))
def batchnorm(X: ArrayLike, offset: ArrayLike, scaleFactor: ArrayLike, mean: ArrayLike | None = None,
              variance: ArrayLike | None = None, training: bool | None = None, MeanDecay: float = 0.1,
              VarianceDecay: float = 0.1, Epsilon: float = 1e-5, DataFormat: str | None = None) -> Any:
    """Batch normalisation over every axis but C, with MATLAB's three forms.

    Y, mu, sigmaSq = batchnorm(X, offset, scale)      batch statistics (always three results)
    Y = batchnorm(X, offset, scale, mu, sigmaSq)      inference with the given statistics
    Y, mu, sigmaSq = batchnorm(X, offset, scale, mu, sigmaSq)
        training: Y from the batch statistics, and the running statistics updated as MATLAB's
        s_n = decay * s_batch + (1 - decay) * s_old (MeanDecay, VarianceDecay).
    As MATLAB chooses between the last two by its number of outputs, so does dlgrad: unpacking the
    result into three names is the training form. training=True / False chooses explicitly (for
    code that does not unpack the result where it calls batchnorm). Statistics are vectors with
    one value per channel.

    Variance convention: Y is always normalised with the population (biased, divide by m)
    variance of the batch, and the three-output form returns that population variance
    (MATLAB's popSigmaSq). The running variance is updated with the unbiased batch variance,
    population * m / (m - 1), m the number of values per channel (elements over S, B, T, U),
    so that TrainedVariance estimates the variance of the data rather than of a batch; the
    same convention as cuDNN and PyTorch. With m = 1 no correction is applied.
    """
    if (mean is None) != (variance is None):
        raise TypeError("batchnorm: give both the mean and the variance statistics, or neither")
    if training is None:
        training = mean is None or requested_outputs() == 3
    elif not training and mean is None:
        raise TypeError("batchnorm: the inference form (training=False) needs the mean and variance")
    for name, decay in (("MeanDecay", MeanDecay), ("VarianceDecay", VarianceDecay)):
        if not 0 <= decay <= 1:
            raise ValueError(f"batchnorm: {name} must be in [0, 1], got {decay!r}")
    x, fmt, keep = formatted_input(X, "C", "batchnorm", DataFormat)
    c = fmt.index("C")
    axes = tuple(i for i in range(x.ndim) if i != c)
    channels = x.shape[c]
    scale = per_axis(scaleFactor, x.shape, c, "scaleFactor", "batchnorm")
    shift = per_axis(offset, x.shape, c, "offset", "batchnorm")
    if not training:
        mu = per_axis(mean, x.shape, c, "mean", "batchnorm")
        var = per_axis(variance, x.shape, c, "variance", "batchnorm")
        return relabel((x - mu) / F.sqrt(var + Epsilon) * scale + shift, fmt, keep)
    if x.size == 0:   # statistics of no values are NaN, and would become the running statistics
        raise ValueError(f"batchnorm: batch statistics need at least one value per channel, got data of shape "
                         f"{x.shape} ({fmt!r}); an empty mini-batch has no statistics")
    y, mu, var = _normalize(x, axes, Epsilon)
    y = relabel(y * scale + shift, fmt, keep)
    mu, var = F.reshape(stop(mu), (channels,)), F.reshape(stop(var), (channels,))
    if mean is None:
        return y, mu, var
    m = x.size // channels
    old_mu = F.reshape(per_axis(mean, x.shape, c, "mean", "batchnorm"), (channels,))
    old_var = F.reshape(per_axis(variance, x.shape, c, "variance", "batchnorm"), (channels,))
    unbiased = var * (m / max(m - 1, 1))
    return (y, old_mu * (1 - MeanDecay) + mu * MeanDecay,
            old_var * (1 - VarianceDecay) + unbiased * VarianceDecay)
