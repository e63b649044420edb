"""Losses with MATLAB's definitions and normalisations, stable for saturated predictions.

The log of a probability is clamped at the smallest normal number (a probability that
underflowed to 0 gives a finite loss); where the probability is a softmax or a sigmoid, the
graph's stable forms (graph/stable.py: log_of_clamped_probability, log_softmax, log_sigmoid,
log_one_minus_sigmoid) take the log from the logits instead, traced or eager, so the loss
stays exact (values and gradients) for logits of any magnitude.
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from ..dispatch import apply, asdlarray
from ..dlarray import F32
from ..take import gather
from ..formats import FormatError, stripdims
from .common import formatted_input, normalizer


def _check_same(Y, T, op):
    if T.shape != Y.shape:
        raise FormatError(f"{op}: targets of shape {T.shape} do not match predictions of shape {Y.shape}")


def _safe_log(Y):
    tiny = np.finfo(np.float32 if Y.dtype == F32 else np.float64).tiny
    return F.log(F.maximum(Y, tiny))


def crossentropy(Y, T, ClassificationMode="single-label", NormalizationFactor="batch-size",
                 DataFormat=None, TargetCategories=None):
    """Cross-entropy of probabilities Y against targets T, summed and divided by the batch size.

    ClassificationMode 'single-label' (TargetCategories 'exclusive'): -sum(T log Y) / N;
    'multilabel' ('independent'): -sum(T log Y + (1 - T) log(1 - Y)) / N.
    """
    if TargetCategories is not None:
        modes = {"exclusive": "single-label", "independent": "multilabel"}
        if TargetCategories not in modes:
            raise ValueError(f"crossentropy: TargetCategories must be 'exclusive' or 'independent', "
                             f"got {TargetCategories!r}")
        ClassificationMode = modes[TargetCategories]
    Y = asdlarray(Y)
    y, fmt, _ = formatted_input(Y, "C", "crossentropy", DataFormat)
    T = stripdims(asdlarray(T))
    _check_same(y, T, "crossentropy")
    n = normalizer(NormalizationFactor, fmt, y.shape, "crossentropy")
    if ClassificationMode == "single-label":
        return -F.sum(T * _safe_log(y)) / n
    if ClassificationMode == "multilabel":
        return -F.sum(T * _safe_log(y) + (1 - T) * _safe_log(1 - y)) / n
    raise ValueError(f"crossentropy: ClassificationMode must be 'single-label' or 'multilabel', "
                     f"got {ClassificationMode!r}")


def indexcrossentropy(Y, T, NormalizationFactor="batch-size", DataFormat=None):
    """crossentropy against class indices T (0-based, one per observation) instead of one-hot targets.

    Reads log Y at each observation's class (a gather; T is read at run time when it is an index
    argument). A class index outside [0, numClasses) raises dlgrad.IndexOutOfRange naming T.
    """
    Y = asdlarray(Y)
    y, fmt, _ = formatted_input(Y, "C", "indexcrossentropy", DataFormat)
    c = fmt.index("C")
    shape = tuple(1 if i == c else d for i, d in enumerate(y.shape))
    T = stripdims(asdlarray(T))
    if T.size != int(np.prod(shape)):
        raise FormatError(f"indexcrossentropy: class indices of shape {T.shape} do not fit predictions of "
                          f"shape {y.shape} (one index per observation is needed)")
    picked = gather(_safe_log(y), T, axis=c, along=True, index_shape=shape,
                    what=f"indexcrossentropy: the class indices T ({y.shape[c]} classes)")
    n = normalizer(NormalizationFactor, fmt, y.shape, "indexcrossentropy")
    return -F.sum(picked) / n


def _regression(op, Y, T, NormalizationFactor, DataFormat, elementwise):
    Y = asdlarray(Y)
    fmt = Y._fmt or DataFormat or ""
    y, T = stripdims(Y), stripdims(asdlarray(T))
    _check_same(y, T, op)
    return F.sum(elementwise(y - T)) / normalizer(NormalizationFactor, fmt, y.shape, op)


def mse(Y, T, NormalizationFactor="batch-size", DataFormat=None):
    """Half mean squared error: sum((Y - T)^2) / 2 / N, N the batch size (1 without a B label)."""
    return _regression("mse", Y, T, NormalizationFactor, DataFormat, lambda d: d * d) / 2


def l2loss(Y, T, NormalizationFactor="batch-size", DataFormat=None):
    """sum((Y - T)^2) / N."""
    return _regression("l2loss", Y, T, NormalizationFactor, DataFormat, lambda d: d * d)


def l1loss(Y, T, NormalizationFactor="batch-size", DataFormat=None):
    """sum(|Y - T|) / N."""
    return _regression("l1loss", Y, T, NormalizationFactor, DataFormat, F.abs)


def huber(Y, T, TransitionPoint=1.0, NormalizationFactor="batch-size", DataFormat=None):
    """Huber loss: d^2/2 where |d| <= delta, delta (|d| - delta/2) elsewhere; summed, divided by N."""
    delta = float(TransitionPoint)

    def piece(d):
        a = F.abs(d)
        small = F.minimum(a, delta)
        return small * (a - small * 0.5) if delta else a * 0

    return _regression("huber", Y, T, NormalizationFactor, DataFormat, piece)
