"""Losses with MATLAB's definitions and normalisations, stable for saturated predictions.

The log of a probability is clamped at the smallest normal number (a probability that
underflowed to 0 gives a finite loss); where the probability is a softmax or a sigmoid, the
graph's stable forms (graph/stable.py: log_of_clamped_probability, log_softmax, log_sigmoid,
log_one_minus_sigmoid) take the log from the logits instead, traced or eager, so the loss
stays exact (values and gradients) for logits of any magnitude.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import functions as F
from ..types import ArrayLike
from ..dispatch import asdlarray
from ..dlarray import F32, dlarray
from ..take import gather
from ..formats import FormatError, stripdims
from .common import as_data_of, formatted_input, normalizer, relabel
from .reduction import reduce_loss
from ..namevalue import name_value


def _check_same(Y: dlarray, T: dlarray, op: str) -> None:
    if T.shape != Y.shape:
        raise FormatError(f"{op}: targets of shape {T.shape} do not match predictions of shape {Y.shape}")


def _safe_log(Y: dlarray) -> dlarray:
    tiny = np.finfo(np.float32 if Y.dtype == F32 else np.float64).tiny
    return F.log(F.maximum(Y, tiny))


@name_value(2, ('weights',))
def crossentropy(Y: ArrayLike, targets: ArrayLike, weights: ArrayLike | None = None, *, Mask: ArrayLike | None = None, ClassificationMode: str = "single-label",
                 NormalizationFactor: str = "batch-size", Reduction: str = "sum", DataFormat: str | None = None,
                 WeightsFormat: str | None = None, TargetCategories: str | None = None) -> dlarray:
    """MATLAB's cross-entropy of probabilities Y against targets: sum(m .* w .* l) / N with
    l = -T log Y ('single-label', TargetCategories 'exclusive') or
    l = -(T log Y + (1 - T) log(1 - Y)) ('multilabel', 'independent'); weights, Mask,
    NormalizationFactor and Reduction as in reduction.py (class weights: a vector labelled "C").
    """
    if TargetCategories is not None:
        modes = {"exclusive": "single-label", "independent": "multilabel"}
        if TargetCategories not in modes:
            raise ValueError(f"crossentropy: TargetCategories must be 'exclusive' or 'independent', "
                             f"got {TargetCategories!r}")
        ClassificationMode = modes[TargetCategories]
    Y = asdlarray(Y)
    y, fmt, keep = formatted_input(Y, "C", "crossentropy", DataFormat)
    T = stripdims(as_data_of(targets, y.dtype))
    _check_same(y, T, "crossentropy")
    if ClassificationMode == "single-label":
        values = T * _safe_log(y)
    elif ClassificationMode == "multilabel":
        values = T * _safe_log(y) + (1 - T) * _safe_log(1 - y)
    else:
        raise ValueError(f"crossentropy: ClassificationMode must be 'single-label' or 'multilabel', "
                         f"got {ClassificationMode!r}")
    loss = reduce_loss(values, fmt, "crossentropy", weights, Mask, NormalizationFactor, Reduction,
                       WeightsFormat, negate=True, formatted=keep)
    return loss if loss.ndim == 0 else relabel(loss, fmt, keep)


@name_value(2)
def indexcrossentropy(Y: ArrayLike, T: ArrayLike, NormalizationFactor: str = "batch-size",
                      DataFormat: str | None = None) -> dlarray:
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
