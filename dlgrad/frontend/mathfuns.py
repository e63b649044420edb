"""MATLAB's elementwise math beyond numpy's core: inverse hyperbolics, the reciprocal trig
family, fix, rescale, cumprod, interp1 and underlyingType.

asinh, acosh and atanh are registry ops (libm's values, derivatives that neither overflow
nor cancel); the reciprocal functions are 1/f(x), exact compositions whose IEEE limits are
MATLAB's (cot(0) = Inf, acot(0) = pi/2, sech(1000) = 0).
"""
from __future__ import annotations

from typing import Any, Callable

from .types import ArrayLike

import math

import numpy as np

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from . import functions as F
from .dispatch import apply, asdlarray
from .dlarray import dlarray
from .join import concatenate


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


def interp1(x: ArrayLike, v: ArrayLike, xq: Any, method: Any = "linear", extrapolation: Any = None) -> dlarray:
    """Linear interpolation of the samples v at the increasing points x, at the queries xq.

    MATLAB's interp1(x, v, xq) with method "linear": v is (n,) or (n, ...) (each column a set
    of values, as MATLAB's matrix v), the result xq.shape + v.shape[1:]. Queries outside
    [x[0], x[-1]] give NaN, or `extrapolation` (a number), or, with "extrap", the end segments'
    lines. Gradients flow to v, xq and x. Every query is compared with every segment (memory
    xq.size * len(x) * columns), which suits the short tables MATLAB code interpolates in.
    """
    if method != "linear":
        raise ValueError(f"interp1 supports method 'linear' only, got {method!r}")
    x, v, xq = asdlarray(x), asdlarray(v), asdlarray(xq)
    if x.ndim != 1 or v.ndim < 1 or v.shape[0] != x.shape[0] or x.shape[0] < 2:
        raise ShapeError(f"interp1 needs sample points x of shape (n,), n >= 2, and values v of shape "
                         f"(n,) or (n, ...), got x {x.shape} and v {v.shape}")
    if x._node is None:
        data = x._data
        if not (np.diff(data) > 0).all():
            raise ValueError("interp1 sample points x must be strictly increasing (and not NaN)")
    extend = isinstance(extrapolation, str)
    if extend and extrapolation != "extrap":
        raise ValueError(f"interp1 extrapolation must be a number or 'extrap', got {extrapolation!r}")
    n, columns = x.shape[0], v.shape[1:]
    x0, x1 = x[:-1], x[1:]
    q = F.reshape(xq, xq.shape + (1,))
    last = np.zeros(n - 1, x.dtype)
    last[-1] = 1.0
    if extend:   # the first segment reaches down to -inf, the last up to +inf
        lower = concatenate([np.array([-math.inf], x.dtype), x0[1:]]) if n > 2 else np.array([-math.inf], x.dtype)
        upper = concatenate([x1[:-1], np.array([math.inf], x.dtype)]) if n > 2 else np.array([math.inf], x.dtype)
        inside = F.multiply(F.greater_equal(q, lower), F.less(q, upper))
    else:        # the last segment includes its right end
        below_top = F.maximum(F.less(q, x1), F.multiply(F.equal(q, x1), last))
        inside = F.multiply(F.greater_equal(q, x0), below_top)
    t = F.divide(F.subtract(q, x0), F.subtract(x1, x0))
    if columns:   # segments then columns: t and the mask get one unit axis per column axis
        spread = xq.shape + (n - 1,) + (1,) * len(columns)
        t, inside = F.reshape(t, spread), F.reshape(inside, spread)
    line = F.add(v[:-1], F.multiply(t, F.subtract(v[1:], v[:-1])))
    segment_axis = xq.ndim
    value = F.sum(F.where(inside, line, 0.0), axis=segment_axis)
    if extend:
        return value
    fill = math.nan if extrapolation is None else float(extrapolation)
    return F.where(F.greater(F.sum(inside, axis=segment_axis), 0), value, fill)


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
