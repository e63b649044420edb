"""Regression losses with MATLAB's definitions and options: l1loss, l2loss, huber, mse.

Each is sum_i m_i w_i l_i / N over elementwise values l_i (reduction.py: weights, Mask,
NormalizationFactor, Reduction).
"""
from __future__ import annotations

from typing import Any, Callable

from ..types import ArrayLike

from .. import functions as F
from ..dispatch import asdlarray
from ..dlarray import dlarray
from ..formats import FormatError, stripdims
from .common import as_data_of, relabel
from .reduction import reduce_loss
from ..namevalue import name_value


def _regression(op: str, Y: ArrayLike, T: ArrayLike, elementwise: Callable[[dlarray], dlarray],
                weights: ArrayLike | None, options: dict[str, Any]) -> dlarray:
    X = asdlarray(Y)
    data_format = options.pop("DataFormat", None)
    fmt = X._fmt or data_format or ""
    y = stripdims(X)
    T = stripdims(as_data_of(T, y.dtype))
    if T.shape != y.shape:
        raise FormatError(f"{op}: targets of shape {T.shape} do not match predictions of shape {y.shape}")
    loss = reduce_loss(elementwise(y - T), fmt, op, weights, **options, formatted=X._fmt is not None)
    return loss if loss.ndim == 0 else relabel(loss, X._fmt, True)


@name_value(2, ('weights',))
def l1loss(Y: ArrayLike, targets: ArrayLike, weights: ArrayLike | None = None, *, Mask: ArrayLike | None = None, NormalizationFactor: str = "batch-size",
           Reduction: str = "sum", DataFormat: str | None = None, WeightsFormat: str | None = None) -> dlarray:
    """MATLAB's L1 loss: sum(m .* w .* |Y - T|) / N (the mean absolute error with the defaults)."""
    return _regression("l1loss", Y, targets, F.abs, weights, dict(
        Mask=Mask, NormalizationFactor=NormalizationFactor, Reduction=Reduction, DataFormat=DataFormat,
        WeightsFormat=WeightsFormat))


@name_value(2, ('weights',))
def l2loss(Y: ArrayLike, targets: ArrayLike, weights: ArrayLike | None = None, *, Mask: ArrayLike | None = None, NormalizationFactor: str = "batch-size",
           Reduction: str = "sum", DataFormat: str | None = None, WeightsFormat: str | None = None) -> dlarray:
    """MATLAB's L2 loss: sum(m .* w .* (Y - T).^2) / N (the mean squared error with the defaults)."""
    return _regression("l2loss", Y, targets, lambda d: d * d, weights, dict(
        Mask=Mask, NormalizationFactor=NormalizationFactor, Reduction=Reduction, DataFormat=DataFormat,
        WeightsFormat=WeightsFormat))


@name_value(2, ('weights',))
def huber(Y: ArrayLike, targets: ArrayLike, weights: ArrayLike | None = None, *, TransitionPoint: float = 1.0, Mask: ArrayLike | None = None,
          NormalizationFactor: str = "batch-size", Reduction: str = "sum", DataFormat: str | None = None,
          WeightsFormat: str | None = None) -> dlarray:
    """MATLAB's Huber loss: d^2/2 where |d| <= delta, delta (|d| - delta/2) elsewhere (d = Y - T,
    delta the TransitionPoint), weighted, masked, summed and divided by N."""
    delta = float(TransitionPoint)
    if not delta > 0:
        raise ValueError(f"huber: TransitionPoint must be positive, got {TransitionPoint!r}")

    def piece(d: dlarray) -> dlarray:
        a = F.abs(d)
        small = F.minimum(a, delta)
        return small * (a - small * 0.5)

    return _regression("huber", Y, targets, piece, weights, dict(
        Mask=Mask, NormalizationFactor=NormalizationFactor, Reduction=Reduction, DataFormat=DataFormat,
        WeightsFormat=WeightsFormat))


@name_value(2)
def mse(Y: ArrayLike, targets: ArrayLike, *, NormalizationFactor: str = "batch-size", DataFormat: str | None = None) -> dlarray:
    """MATLAB's half mean squared error: sum((Y - T)^2) / 2 / N, N the batch size (1 without a B label)."""
    return _regression("mse", Y, targets, lambda d: d * d, None, dict(
        NormalizationFactor=NormalizationFactor, DataFormat=DataFormat)) / 2
