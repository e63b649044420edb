"""Activations and softmax, written once from registry ops (formats kept)."""
from __future__ import annotations

import math

from .. import functions as F
from ..dlarray import dlarray
from ..types import ArrayLike
from ..dispatch import asdlarray
from .common import formatted_input, relabel, stop
from ..namevalue import name_value

relu, sigmoid, tanh = F.relu, F.sigmoid, F.tanh


@name_value(1, ('scale',))
def leakyrelu(X: ArrayLike, scale: float = 0.01) -> dlarray:
    """X where X > 0, scale * X elsewhere."""
    X = asdlarray(X)
    return F.where(X > 0, X, X * scale)


@name_value(1, ('alpha',))
def elu(X: ArrayLike, alpha: float = 1.0) -> dlarray:
    """X where X > 0, alpha * (exp(X) - 1) elsewhere (no overflow for large X)."""
    X = asdlarray(X)
    return F.where(X > 0, X, F.expm1(F.minimum(X, 0)) * alpha)


@name_value(1)
def gelu(X: ArrayLike, Approximation: str = "none") -> dlarray:
    """Gaussian error linear unit: exact (erf) or Approximation='tanh'."""
    X = asdlarray(X)
    if Approximation == "none":
        return X * 0.5 * (1 + F.erf(X * (1 / math.sqrt(2))))
    if Approximation == "tanh":
        return X * 0.5 * (1 + F.tanh((X + X * X * X * 0.044715) * math.sqrt(2 / math.pi)))
    raise ValueError(f"gelu: Approximation must be 'none' or 'tanh', got {Approximation!r}")


@name_value(1)
def logsoftmax(X: ArrayLike, DataFormat: str | None = None) -> dlarray:
    """log(softmax(X)) over the channel axis, exact for logits of any magnitude."""
    x, fmt, keep = formatted_input(X, "C", "logsoftmax", DataFormat)
    axis = fmt.index("C")
    z = x - stop(F.max(x, axis, keepdims=True))
    return relabel(z - F.log(F.sum(F.exp(z), axis, keepdims=True)), fmt, keep)


@name_value(1)
def softmax(X: ArrayLike, DataFormat: str | None = None) -> dlarray:
    """exp(X) / sum(exp(X)) over the channel axis, evaluated with the maximum subtracted."""
    x, fmt, keep = formatted_input(X, "C", "softmax", DataFormat)
    axis = fmt.index("C")
    e = F.exp(x - stop(F.max(x, axis, keepdims=True)))
    return relabel(e / F.sum(e, axis, keepdims=True), fmt, keep)
