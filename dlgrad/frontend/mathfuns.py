"""MATLAB's elementwise math beyond numpy's core: inverse hyperbolics, the reciprocal trig
family, fix, rescale, cumprod and underlyingType (interp1 lives in interpolation.py).

asinh, acosh and atanh are registry ops (libm's values, derivatives that neither overflow
nor cancel); the reciprocal functions are 1/f(x), exact compositions whose IEEE limits are
MATLAB's (cot(0) = Inf, acot(0) = pi/2, sech(1000) = 0).
"""
from __future__ import annotations

from typing import Any, Callable

from .types import ArrayLike

import numpy as np

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from . import functions as F
from .dispatch import apply, asdlarray
from .dlarray import dlarray


def asinh(x: ArrayLike) -> dlarray:
    """Inverse hyperbolic sine."""
    return apply("asinh", x)


def acosh(x: ArrayLike) -> dlarray:
    """Inverse hyperbolic cosine (NaN below 1)."""
    return apply("acosh", x)


def atanh(x: ArrayLike) -> dlarray:
    """Inverse hyperbolic tangent (+-Inf at +-1, NaN beyond)."""
    return apply("atanh", x)


def _reciprocal(name: str, inner: str, doc: str) -> Callable[[ArrayLike], dlarray]:
    def function(x: ArrayLike) -> dlarray:
        return apply("div", 1.0, apply(inner, x))
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _of_reciprocal(name: str, inner: str, doc: str) -> Callable[[ArrayLike], dlarray]:
    def function(x: ArrayLike) -> dlarray:
        return apply(inner, apply("div", 1.0, x))
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


sec = _reciprocal("sec", "cos", "Secant 1/cos(x).")
csc = _reciprocal("csc", "sin", "Cosecant 1/sin(x) (+-Inf at +-0).")
cot = _reciprocal("cot", "tan", "Cotangent 1/tan(x) (+-Inf at +-0).")
sech = _reciprocal("sech", "cosh", "Hyperbolic secant 1/cosh(x).")
csch = _reciprocal("csch", "sinh", "Hyperbolic cosecant 1/sinh(x).")
coth = _reciprocal("coth", "tanh", "Hyperbolic cotangent 1/tanh(x).")
asec = _of_reciprocal("asec", "acos", "Inverse secant acos(1/x) (NaN for |x| < 1).")
acsc = _of_reciprocal("acsc", "asin", "Inverse cosecant asin(1/x) (NaN for |x| < 1).")
acot = _of_reciprocal("acot", "atan", "Inverse cotangent atan(1/x) (acot(+-0) = +-pi/2).")


def fix(x: ArrayLike) -> dlarray:
    """Round toward zero (numpy's trunc); gradient zero."""
    x = asdlarray(x)
    return F.where(F.less(x, 0), F.ceil(x), F.floor(x))


def rescale(x: ArrayLike, l: Any = 0.0, u: Any = 1.0, *, InputMin: Any = None, InputMax: Any = None) -> dlarray:
    """MATLAB's rescale: x clipped to [InputMin, InputMax] (default: x's min and max over all
    elements) and mapped linearly onto [l, u]; where InputMin == InputMax the result is l."""
    x = asdlarray(x)
    low = F.min(x) if InputMin is None else InputMin
    high = F.max(x) if InputMax is None else InputMax
    if InputMin is not None:
        x = F.maximum(x, low)
    if InputMax is not None:
        x = F.minimum(x, high)
    span = F.subtract(high, low)
    flat = F.equal(span, 0)
    fraction = F.where(flat, 0.0, F.divide(F.subtract(x, low), F.where(flat, 1.0, span)))
    numbers = all(isinstance(b, (int, float)) for b in (l, u))
    return F.add(l, F.multiply(fraction, u - l if numbers else F.subtract(u, l)))


def cumprod(x: ArrayLike, axis: Any = None, direction: Any = "forward") -> dlarray:
    """Running product along axis (an int; None: x flattened, as numpy's cumprod); MATLAB's
    direction "reverse" runs from the end. The gradient is exact where x has zeros."""
    x = asdlarray(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"cumprod axis must be an int or None, got {axis!r}")
    if direction not in ("forward", "reverse"):
        raise ValueError(f"cumprod direction must be 'forward' or 'reverse', got {direction!r}")
    if x.ndim == 0:
        raise ShapeError("cumprod along an axis needs an array with at least 1 dimension, got a 0-d array")
    (axis,) = normalize_axes(axis, x.ndim)
    if direction == "forward":
        return apply("cumprod", x, axis=axis)
    from .arrays import flip
    return flip(apply("cumprod", flip(x, axis), axis=axis), axis)


_CLASS = {"float64": "double", "float32": "single", "bool": "logical", "int8": "int8", "int16": "int16",
          "int32": "int32", "int64": "int64", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
          "uint64": "uint64"}


def underlyingType(x: ArrayLike) -> str:
    """MATLAB's class name of x's data: 'double' for float64, 'single' for float32, ..."""
    if isinstance(x, dlarray):
        return "logical" if x._logical else _CLASS[x.dtype.name]
    if isinstance(x, (bool, np.bool_)):
        return "logical"
    if isinstance(x, (int, float)):
        return "double"
    name = np.asarray(x).dtype.name
    if name not in _CLASS:
        raise TypeError(f"underlyingType: no MATLAB class for data of dtype {name}")
    return _CLASS[name]
