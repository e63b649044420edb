"""layernorm and batchnorm (training statistics, running statistics, inference)."""
from __future__ import annotations

from .. import functions as F
from ..nargout import requested_outputs
from .common import formatted_input, per_axis, relabel, stop


def _normalize(x, axes, epsilon):
    mu = F.mean(x, axes, keepdims=True)
    d = x - mu
    var = F.mean(d * d, axes, keepdims=True)
    return d / F.sqrt(var + epsilon), mu, var


def layernorm(X, offset, scaleFactor, Epsilon=1e-5, DataFormat=None):
    """Normalise each observation over its S, C and U axes (only C when there is a T axis),
    then scale and shift per channel."""
    x, fmt, keep = formatted_input(X, "C", "layernorm", DataFormat)
    axes = (fmt.index("C"),) if "T" in fmt else tuple(i for i, c in enumerate(fmt) if c in "SCU")
    y, _, _ = _normalize(x, axes, Epsilon)
    c = fmt.index("C")
    y = y * per_axis(scaleFactor, x.shape, c, "scaleFactor", "layernorm") + \
        per_axis(offset, x.shape, c, "offset", "layernorm")
    return relabel(y, fmt, keep)


def batchnorm(X, offset, scaleFactor, mean=None, variance=None, training=None, MeanDecay=0.1,
              VarianceDecay=0.1, Epsilon=1e-5, DataFormat=None):
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
