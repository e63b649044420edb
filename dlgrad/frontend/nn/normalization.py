"""layernorm and batchnorm (training statistics, running statistics, inference)."""
from __future__ import annotations

from typing import Any

from .. import functions as F
from ..dlarray import dlarray
from ..types import ArrayLike
from .common import formatted_input, per_axis, relabel, stop


def _normalize(x: dlarray, axes: tuple[int, ...], epsilon: float) -> tuple[dlarray, dlarray, dlarray]:
    mu = F.mean(x, axes, keepdims=True)
    d = x - mu
    var = F.mean(d * d, axes, keepdims=True)
    return d / F.sqrt(var + epsilon), mu, var


def layernorm(X: ArrayLike, offset: ArrayLike, scaleFactor: ArrayLike, Epsilon: float = 1e-5,
              DataFormat: str | None = None) -> dlarray:
    """Normalise each observation over its S, C and U axes (only C when there is a T axis),
    then scale and shift per channel."""
    x, fmt, keep = formatted_input(X, "C", "layernorm", DataFormat)
    axes = (fmt.index("C"),) if "T" in fmt else tuple(i for i, c in enumerate(fmt) if c in "SCU")
    y, _, _ = _normalize(x, axes, Epsilon)
    c = fmt.index("C")
    y = y * per_axis(scaleFactor, x.shape, c, "scaleFactor", "layernorm") + \
        per_axis(offset, x.shape, c, "offset", "layernorm")
    return relabel(y, fmt, keep)


def batchnorm(X: ArrayLike, offset: ArrayLike, scaleFactor: ArrayLike, mean: ArrayLike | None = None,
              variance: ArrayLike | None = None, training: bool | None = None, MeanDecay: float = 0.1,
              VarianceDecay: float = 0.1, Epsilon: float = 1e-5, DataFormat: str | None = None) -> Any:
    """Batch normalisation over every axis but C.

    batchnorm(X, offset, scale)                      -> (Y, batch mean, batch variance)
    batchnorm(X, offset, scale, mean, var)           -> Y  (inference with the given statistics)
    batchnorm(X, offset, scale, mean, var, training=True)
        -> (Y, running mean, running variance): MATLAB's s_n = decay * s_batch + (1 - decay) * s_old.
    Statistics are vectors with one value per channel.

    Variance convention: Y is always normalised with the population (biased, divide by m)
    variance of the batch, and the three-output form returns that population variance
    (MATLAB's popSigmaSq). The running variance is updated with the unbiased batch variance,
    population * m / (m - 1), m the number of values per channel (elements over S, B, T, U),
    so that TrainedVariance estimates the variance of the data rather than of a batch; the
    same convention as cuDNN and PyTorch. With m = 1 no correction is applied.
    """
    x, fmt, keep = formatted_input(X, "C", "batchnorm", DataFormat)
    c = fmt.index("C")
    axes = tuple(i for i in range(x.ndim) if i != c)
    channels = x.shape[c]
    scale = per_axis(scaleFactor, x.shape, c, "scaleFactor", "batchnorm")
    shift = per_axis(offset, x.shape, c, "offset", "batchnorm")
    if training is None:
        training = mean is None
    if not training:
        mu = per_axis(mean, x.shape, c, "mean", "batchnorm")
        var = per_axis(variance, x.shape, c, "variance", "batchnorm")
        return relabel((x - mu) / F.sqrt(var + Epsilon) * scale + shift, fmt, keep)
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
