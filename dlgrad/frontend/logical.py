"""Tests of values and logical operators: isnan, isinf, isfinite, logical_and/or/not/xor.

Like dlgrad's comparisons they give logical dlarrays (islogical): 0/1 masks of the operands'
float dtype inside, numpy bools from extractdata, with no gradient. A value is true where it is not zero; NaN counts as true, as in
numpy (MATLAB refuses to convert NaN to logical). MATLAB's `and`, `or`, `not` are Python
keywords, hence numpy's names.
"""
from __future__ import annotations

from typing import Callable

from .types import ArrayLike

import math

from .dispatch import apply
from .dlarray import dlarray, islogical, logical


def isnan(x: ArrayLike) -> dlarray:
    """1 where x is NaN, else 0."""
    return apply("ne", x, x)


def isinf(x: ArrayLike) -> dlarray:
    """1 where x is +Inf or -Inf, else 0."""
    return apply("eq", apply("abs", x), math.inf)


def isfinite(x: ArrayLike) -> dlarray:
    """1 where x is neither Inf nor NaN, else 0."""
    return apply("lt", apply("abs", x), math.inf)


def _true(x):
    return apply("ne", x, 0.0)


def logical_and(a: ArrayLike, b: ArrayLike) -> dlarray:
    """MATLAB's and (a & b): 1 where both are nonzero."""
    return logical(apply("mul", _true(a), _true(b)))


def logical_or(a: ArrayLike, b: ArrayLike) -> dlarray:
    """MATLAB's or (a | b): 1 where either is nonzero."""
    return logical(apply("maximum", _true(a), _true(b)))


def logical_not(a: ArrayLike) -> dlarray:
    """MATLAB's not (~a): 1 where a is zero."""
    return apply("eq", a, 0.0)


def logical_xor(a: ArrayLike, b: ArrayLike) -> dlarray:
    """MATLAB's xor: 1 where exactly one is nonzero."""
    return apply("ne", _true(a), _true(b))


xor = logical_xor


def operator(symbol: str, fn: Callable[..., dlarray], *args: ArrayLike) -> dlarray:
    """fn(*args) for the operator `symbol` (~, &, |, ^) on logical operands; numbers get a TypeError,
    as numpy's bitwise operators refuse floats."""
    for a in args:
        if not islogical(a):
            what = f"a {type(a).__name__}" if not isinstance(a, dlarray) else "a numeric dlarray"
            raise TypeError(f"operator {symbol} needs logical operands (comparisons, isnan..., dlarray of a "
                            f"bool array, True/False), got {what}; for numbers use dlgrad.logical_not/"
                            f"logical_and/logical_or/logical_xor, which take nonzero as true")
    return fn(*args)
