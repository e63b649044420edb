"""Math on dlarrays, written once for traced and eager values: elementwise, reductions, matmul, shapes.

Each function accepts dlarrays, numpy arrays, lists and Python numbers, follows numpy's
semantics (names, broadcasting, axis/keepdims) and returns a dlarray.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from .dispatch import apply, asdlarray, cast, operand_dtype
from .dlarray import dlarray, rebox
from .types import ArrayLike, Axis


def _elementwise(name: str, public: str, doc: str) -> Callable[..., dlarray]:
    def function(*args: ArrayLike) -> dlarray:
        return apply(name, *args)
    function.__name__ = function.__qualname__ = public
    function.__doc__ = doc
    return function


def _unary(name: str, doc: str | None = None) -> Callable[..., dlarray]:
    return _elementwise(name, name, doc or f"Elementwise {name}(x).")


abs, sqrt, exp, log, log1p, expm1 = map(_unary, ("abs", "sqrt", "exp", "log", "log1p", "expm1"))
sin, cos, tan, asin, acos, atan = map(_unary, ("sin", "cos", "tan", "asin", "acos", "atan"))
sinh, cosh, tanh, erf = map(_unary, ("sinh", "cosh", "tanh", "erf"))
sigmoid = _unary("sigmoid", "Logistic sigmoid 1 / (1 + exp(-x)), evaluated stably.")
softplus = _unary("softplus", "log(1 + exp(x)), evaluated stably.")
relu = _unary("relu", "max(x, 0); its gradient at 0 is 0.")
sign = _unary("sign", "Elementwise sign (-1, 0 or 1); gradient zero.")
floor = _unary("floor", "Elementwise floor; gradient zero.")
ceil = _unary("ceil", "Elementwise ceil; gradient zero.")


def round(x: ArrayLike) -> dlarray:
    """MATLAB's round: the nearest integer, halves away from zero (round(-2.5) is -3); gradient zero.

    numpy's np.round / np.rint on a dlarray keep numpy's halves-to-even.
    """
    x = asdlarray(x)
    whole = _toward_zero(x)
    small = where(less(abs(x), 2.0 ** 52), x, 0.0)      # larger values (and inf, nan) are whole
    half = greater_equal(abs(small - _toward_zero(small)), 0.5)   # exact: no double rounding
    return where(half, whole + sign(x), whole)


def _toward_zero(x: dlarray) -> dlarray:
    return where(less(x, 0), ceil(x), floor(x))

atan2 = _elementwise("atan2", "atan2", "Elementwise atan2(y, x), the angle of (x, y).")
maximum = _elementwise("maximum", "maximum", "Elementwise maximum (ties share the gradient equally).")
minimum = _elementwise("minimum", "minimum", "Elementwise minimum (ties share the gradient equally).")
add = _elementwise("add", "add", "a + b.")
subtract = _elementwise("sub", "subtract", "a - b.")
multiply = _elementwise("mul", "multiply", "a * b, elementwise.")
divide = _elementwise("div", "divide", "a / b.")
power = _elementwise("pow", "power", "a ** b.")
negative = _elementwise("neg", "negative", "-x.")
greater = _elementwise("gt", "greater", "a > b as a 0/1 float mask.")
greater_equal = _elementwise("ge", "greater_equal", "a >= b as a 0/1 float mask.")
less = _elementwise("lt", "less", "a < b as a 0/1 float mask.")
less_equal = _elementwise("le", "less_equal", "a <= b as a 0/1 float mask.")
equal = _elementwise("eq", "equal", "a == b as a 0/1 float mask.")
not_equal = _elementwise("ne", "not_equal", "a != b as a 0/1 float mask.")


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> dlarray:
    """a where condition is nonzero, else b (broadcast together); no gradient flows to condition.
    Logical when a and b both are."""
    dtype = operand_dtype(a, b)
    condition = asdlarray(condition)
    if dtype is None:
        dtype = condition.dtype
    return apply("where", cast(condition, dtype), a, b)


# --- reductions ---------------------------------------------------------------------

def _reduce(name: str, x: ArrayLike, axis: Axis, keepdims: bool) -> dlarray:
    x = asdlarray(x)
    axes = normalize_axes(axis, x.ndim)
    if not axes:
        return rebox(x)
    if name in ("max", "min") and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    return apply(name, x, axes=axes, keepdims=bool(keepdims))


def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> dlarray:
    """Sum over axis (an int, a tuple of ints, or None for all)."""
    return _reduce("sum", x, axis, keepdims)


def prod(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> dlarray:
    """Product over axis (an int, a tuple of ints, or None for all)."""
    return _reduce("prod", x, axis, keepdims)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> dlarray:
    """Largest value over axis (ties share the gradient equally); for two arrays use maximum."""
    return _reduce("max", x, axis, keepdims)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> dlarray:
    """Smallest value over axis (ties share the gradient equally); for two arrays use minimum."""
    return _reduce("min", x, axis, keepdims)


def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> dlarray:
    """Arithmetic mean over axis (an int, a tuple of ints, or None for all)."""
    x = asdlarray(x)
    axes = normalize_axes(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    return _reduce("sum", x, axes, keepdims) / count


def cumsum(x: ArrayLike, axis: int | None = None) -> dlarray:
    """Running sum along axis (an int); None sums x flattened, as numpy does. Keeps x's format."""
    x = asdlarray(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"cumsum axis must be an int or None, got {axis!r}")
    if x.ndim == 0:
        raise ShapeError("cumsum along an axis needs an array with at least 1 dimension, got a 0-d array")
    (axis,) = normalize_axes(axis, x.ndim)
    return apply("cumsum", x, axis=axis)


# --- shapes -------------------------------------------------------------------------

def _shape_arg(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def reshape(x: ArrayLike, shape: int | Sequence[int]) -> dlarray:
    """x with a new shape of the same size (C order, like numpy); one dimension may be -1."""
    x = asdlarray(x)
    shape = _shape_arg(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or builtins.min(shape, default=0) < -1:
        raise ShapeError(f"cannot reshape an array of shape {x.shape} into shape {shape}: "
                         "only one dimension may be -1 and none may be negative")
    if unknown:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or x.size % known:
            raise ShapeError(f"cannot reshape an array of shape {x.shape} ({x.size} elements) "
                             f"into shape {shape}")
        shape = shape[:unknown[0]] + (x.size // known,) + shape[unknown[0] + 1:]
    if shape == x.shape:
        return rebox(x)
    return apply("reshape", x, shape=shape)


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> dlarray:
    """Axes permuted (reversed when axes is None), like numpy.transpose."""
    x = asdlarray(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = _shape_arg(axes)
    if len(axes) != x.ndim or any(not -x.ndim <= a < x.ndim for a in axes):
        raise ShapeError(f"axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return rebox(x)
    return apply("permute", x, axes=axes)


def permute(x: ArrayLike, order: Sequence[int]) -> dlarray:
    """MATLAB's permute: axes rearranged into `order` (0-based axis numbers)."""
    return transpose(x, order)


def matmul(a: ArrayLike, b: ArrayLike) -> dlarray:
    """Matrix product with numpy's rules: 1-D operands are vectors, leading dimensions broadcast."""
    a, b = asdlarray(a), asdlarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul needs operands with at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not fit: "
                         f"the last dimension of the first ({inner_a}) must equal "
                         f"the {'first' if b.ndim == 1 else 'second-to-last'} of the second ({inner_b})")
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    out = apply("matmul", a2, b2)
    if a.ndim == 1 or b.ndim == 1:
        shape = out.shape
        shape = shape[:-2] + (shape[-1],) if a.ndim == 1 else shape
        shape = shape[:-1] if b.ndim == 1 else shape
        out = reshape(out, shape)
    return out
