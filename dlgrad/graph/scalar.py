"""Scalar semantics of elementwise ops as sympy expressions (imported only when compiling).

Functions whose derivative is a convention (relu'(0) = 0, ties of max share equally)
or whose stable evaluation matters (sigmoid, softplus) are sympy Functions of their own,
with `fdiff` giving the documented derivative, a numpy implementation for the
reference interpreter, and a C helper named in `C_NAME`. sympy functions whose textbook
derivative cancels (tanh, asin, acos) are subclassed with a stable `fdiff` (docs/numerics.md).
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p  # noqa: F401  (re-exported for op scalars)

# sympy's own functions used by op scalars
exp, log, sin, cos, tan = sp.exp, sp.log, sp.sin, sp.cos, sp.tan
sinh, cosh, atan = sp.sinh, sp.cosh, sp.atan
asinh, acosh, atanh = sp.asinh, sp.acosh, sp.atanh
erf, sqrt, Integer, Rational, Float = sp.erf, sp.sqrt, sp.Integer, sp.Rational, sp.Float


class DlFunction(sp.Function):
    """A dlgrad scalar function: real-valued, with a numpy twin and a C helper.

    Printers dispatch on class names (`_print_sign`, `_print_floor`), so the C printer
    is steered by `c_name`, and `KernelPrinter` routes every DlFunction through it.
    """
    is_real = True
    numpy = None     # numpy implementation, used when lambdifying derivative expressions
    c_name = None    # C helper (from codegen/c/dl_helpers.h), with an `f` suffix for float


def _zero_fdiff(self, argindex=1):
    return sp.S.Zero


def _stable_sigmoid(x):
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype if x.dtype.kind == "f" else float)


def _softplus(x):
    x = np.asarray(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _maximum_np(a, b):
    return np.maximum(a, b)


class sigmoid(DlFunction):
    nargs = 1
    numpy = staticmethod(_stable_sigmoid)
    c_name = "dl_sigmoid"

    def fdiff(self, argindex=1):
        # s(x) s(-x) rather than s (1 - s): 1 - s cancels for x > 0 (sigmoid'(37) came out 0)
        x = self.args[0]
        return sigmoid(x) * sigmoid(-x)


class softplus(DlFunction):
    nargs = 1
    numpy = staticmethod(_softplus)
    c_name = "dl_softplus"

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])


class tanh(sp.tanh):
    """sympy's tanh (printed as C's tanh) with tanh' = 4 sigmoid(2x) sigmoid(-2x).

    sympy's 1 - tanh(x)**2 cancels once |tanh(x)| nears 1: tanh'(10) came out 1e8 ulp off,
    tanh'(20) as 0. The sigmoid form is accurate to a few ulp for every x, and 0, not NaN,
    at +-inf.
    """
    def fdiff(self, argindex=1):
        x = self.args[0]
        return 4 * sigmoid(2 * x) * sigmoid(-2 * x)


def _atan2_d(u, v):
    s, h = u * u + v * v, np.hypot(u, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(s) & (np.abs(s) >= np.finfo(np.result_type(s)).tiny), v / s, (v / h) / h)


class atan2_d(DlFunction):
    """v / (u^2 + v^2); (v / h) / h with h = hypot(u, v) where u^2 + v^2 leaves the normal range."""
    nargs = 2
    numpy = staticmethod(_atan2_d)
    c_name = "dl_atan2_d"

    def fdiff(self, argindex=1):
        # with q = v/s and p = u/s (s = u^2 + v^2): dq/du = -2 q p, dq/dv = p^2 - q^2, factored
        # so that two overflowing squares give inf, not inf - inf
        u, v = self.args
        q, p = atan2_d(u, v), atan2_d(v, u)
        return -2 * q * p if argindex == 1 else (p - q) * (p + q)


class atan2(sp.atan2):
    """sympy's atan2(y, x) with d/dy = x / (x^2 + y^2) and d/dx = -y / (x^2 + y^2) scaled
    through hypot: the squares overflowed (atan2'(0, 1e200) came out 0, not 1e-200) and
    underflowed (NaN, not 0, at (5e-324, 0))."""
    def fdiff(self, argindex=1):
        y, x = self.args
        return atan2_d(y, x) if argindex == 1 else atan2_d(x, -y)


class asin(sp.asin):
    """sympy's asin with asin' = 1/sqrt((1 - x)(1 + x)): 1 - x**2 loses the digits of x near
    +-1 (asin'(1 - 1e-8) came out 2e6 ulp off); 1 - x is exact there."""
    def fdiff(self, argindex=1):
        x = self.args[0]
        return 1 / sqrt((1 - x) * (1 + x))


class acos(sp.acos):
    """sympy's acos with acos' = -1/sqrt((1 - x)(1 + x)) (see asin)."""
    def fdiff(self, argindex=1):
        x = self.args[0]
        return -1 / sqrt((1 - x) * (1 + x))


class step(DlFunction):
    """1 where x > 0 else 0: relu's derivative, with relu'(0) = 0."""
    nargs = 1
    numpy = staticmethod(lambda x: (np.asarray(x) > 0).astype(np.result_type(x, np.float32)))
    c_name = "dl_step"
    fdiff = _zero_fdiff


class relu(DlFunction):
    nargs = 1
    numpy = staticmethod(lambda x: np.maximum(x, 0))
    c_name = "dl_relu"

    def fdiff(self, argindex=1):
        return step(self.args[0])


class sign(DlFunction):
    nargs = 1
    numpy = staticmethod(np.sign)
    c_name = "dl_sign"
    fdiff = _zero_fdiff


class absolute(DlFunction):
    """|x| with abs'(0) = 0 (through sign)."""
    nargs = 1
    numpy = staticmethod(np.abs)
    c_name = "dl_abs"

    def fdiff(self, argindex=1):
        return sign(self.args[0])


class floor(DlFunction):
    nargs = 1
    numpy = staticmethod(np.floor)
    c_name = "dl_floor"
    fdiff = _zero_fdiff


class ceil(DlFunction):
    nargs = 1
    numpy = staticmethod(np.ceil)
    c_name = "dl_ceil"
    fdiff = _zero_fdiff


class round_half_even(DlFunction):
    nargs = 1
    numpy = staticmethod(np.round)
    c_name = "dl_round"
    fdiff = _zero_fdiff


def _compare(name, ufunc):
    def numpy_impl(a, b):
        return ufunc(a, b).astype(np.result_type(a, b, np.float32))
    return type(DlFunction)(name, (DlFunction,), {"nargs": 2, "numpy": staticmethod(numpy_impl),
                                      "c_name": "dl_" + name, "fdiff": _zero_fdiff})


gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)


class maximum(DlFunction):
    """max(a, b), NaN-propagating; at a tie each argument gets half the gradient."""
    nargs = 2
    numpy = staticmethod(np.maximum)
    c_name = "dl_max"

    def fdiff(self, argindex=1):
        a, b = self.args if argindex == 1 else self.args[::-1]
        return gt(a, b) + eq(a, b) / 2


class minimum(DlFunction):
    """min(a, b), NaN-propagating; at a tie each argument gets half the gradient."""
    nargs = 2
    numpy = staticmethod(np.minimum)
    c_name = "dl_min"

    def fdiff(self, argindex=1):
        a, b = self.args if argindex == 1 else self.args[::-1]
        return lt(a, b) + eq(a, b) / 2


class float32_round(DlFunction):
    """x rounded to float32 (a cast inside a kernel that computes in double)."""
    nargs = 1
    numpy = staticmethod(lambda x: np.asarray(x, dtype=np.float32))
    c_name = "dl_to_float32"

    def fdiff(self, argindex=1):
        return sp.S.One


class select(DlFunction):
    """where(c, a, b): a where c is non-zero, else b; no gradient flows to c."""
    nargs = 3
    numpy = staticmethod(lambda c, a, b: np.where(np.asarray(c) != 0, a, b))
    c_name = "dl_select"

    def fdiff(self, argindex=1):
        c = self.args[0]
        if argindex == 1:
            return sp.S.Zero
        return select(c, 1, 0) if argindex == 2 else select(c, 0, 1)


CUSTOM = {cls.__name__: cls for cls in DlFunction.__subclasses__()} | {
    f.__name__: f for f in (gt, ge, lt, le, eq, ne)}


def numpy_function(expr, symbols):
    """A numpy callable for a scalar expression (used by the reference interpreter)."""
    modules = [{name: cls.numpy for name, cls in CUSTOM.items()},
               {"log1p": np.log1p, "expm1": np.expm1, "erf": _erf}, "numpy"]
    return sp.lambdify(symbols, expr, modules=modules)


def _erf(x):
    import math
    return np.vectorize(math.erf, otypes=[np.result_type(x, np.float32)])(x)
