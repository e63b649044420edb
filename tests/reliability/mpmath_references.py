"""The mathematics of every elementwise op at 200 bits (mpmath): values and partial
derivatives, IEEE special values, and the op-specific points the sweeps add
(mpmath_sweep.py uses these; test_numerics_mpmath.py and tests/stress/ulp_table.py judge them)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import mpmath

MP = mpmath.MPContext()
MP.prec = 200
NAN, INF = math.nan, math.inf
SKIP = "skip"          # an expected value that is not checked (a gradient outside the domain)
DTYPES = ("float64", "float32")
FORMAT = {"float64": (53, -1022, 1023), "float32": (24, -126, 127)}   # precision, emin, emax


# --- expected values --------------------------------------------------------------------
def mpf(x):
    return MP.mpf(x)


def real(z):
    """An mpmath result as a real expected value: NaN where it is complex (undefined in R)."""
    if isinstance(z, mpmath.ctx_mp_python.mpc):
        z = z.real if z.imag == 0 else MP.nan
    return NAN if MP.isnan(z) else z


def _sigmoid(x):
    z = MP.exp(-abs(x))
    return 1 / (1 + z) if x >= 0 else z / (1 + z)


def _dsigmoid(x):
    z = MP.exp(-abs(x))
    return z / (1 + z) ** 2


@dataclass
class Ref:
    """An op's mathematics: value and partials of float arguments, and where to sweep them.

    `value(*xs)` and each of `grads` return an mpf (finite or +-inf), NAN where undefined,
    SKIP where not checked, or a Python float for an IEEE value (a signed zero, a pole's
    infinity) that must come out exactly. `extra` adds op-specific points to the sweep;
    `attrs` are the op's attributes ("other": the other dtype).
    """
    value: Callable
    grads: tuple = ()
    extra: tuple = ()
    attrs: dict = field(default_factory=dict)
    sweep: Optional[str] = None          # which grid a binary op uses ("pow": its own)
    exact: bool = False                  # results are exactly representable: 0 ulp

    @property
    def arity(self):
        return self.value.__code__.co_argcount


def unary(f, df=None, lo=-INF, hi=INF, odd=False, extra=(), special=None, zero=None, exact=False):
    """A unary op: f, df (mpf -> mpf) on the domain lo <= x <= hi (NaN outside).

    special(x) gives (value, derivative) as IEEE floats at points where the mathematics has
    a pole or an edge (log at +-0, asin at +-1), else None; odd: f(+-0) = +-0 (the sign of zero
    is checked); zero(x): f at +-0 (likewise).
    """
    def value(x):
        if math.isnan(x) or not lo <= x <= hi:
            return NAN
        if special is not None and special(x) is not None:
            return special(x)[0]
        if x == 0 and (odd or zero):
            return (zero or (lambda z: z))(x)
        return real(f(mpf(x)))

    def grad(x):
        if math.isnan(x) or not lo <= x <= hi:
            return SKIP
        if special is not None and special(x) is not None:
            return special(x)[1]
        return real(df(mpf(x)))

    return Ref(value, (grad,) if df else (), tuple(extra), exact=exact)


def _pole_at(point, value, slope):
    """special() for a pole of the derivative at `point`: (value, slope) as given there."""
    return lambda x: (value(x), slope(x)) if x == point else None


def _sign(x):
    return (x > 0) - (x < 0)


def _is_odd_integer(b):
    return math.isfinite(b) and b == math.floor(b) and math.fmod(b, 2) != 0


def _is_integer(b):
    return math.isfinite(b) and b == math.floor(b)


def _div(a, b):
    if b == 0:
        return NAN if a == 0 or math.isnan(a) else math.copysign(INF, a) * math.copysign(1.0, b)
    return mpf(a) / mpf(b)


def _ddiv_db(a, b):
    if b == 0:
        return NAN if a == 0 else -math.copysign(INF, a)
    return -mpf(a) / mpf(b) ** 2


def _pow(a, b):
    if b == 0:
        return mpf(1)                       # x^0 = 1, also 0^0 (C99 pow, numpy)
    if a == 0:
        if b > 0:
            return 0.0 if not (_is_odd_integer(b) and math.copysign(1, a) < 0) else -0.0
        return math.copysign(INF, a) if _is_odd_integer(b) else INF
    if a < 0 and not _is_integer(b):
        return NAN
    return MP.power(mpf(a), mpf(b))


def _dpow_da(a, b):
    if b == 0:
        return mpf(0)                       # d/da a^0 = 0, also at a = 0
    if a < 0 and not _is_integer(b):
        return SKIP
    if a == 0:
        if b == 1:
            return mpf(1)
        if b > 1:
            return mpf(0)
        if _is_integer(b):                  # b a^(b-1) with an odd or even integer power
            odd = not _is_odd_integer(b)    # b - 1 is odd (b - 1 itself may round)
            return math.copysign(INF, b * (math.copysign(1.0, a) if odd else 1.0))
        # b < 1 not an integer: a pole from the right; left of 0 a^b is not real
        return math.copysign(INF, b) if math.copysign(1.0, a) > 0 else SKIP
    return mpf(b) * MP.power(mpf(a), mpf(b) - 1)


def _dpow_db(a, b):
    if a == 0:
        return mpf(0) if b > 0 else SKIP    # b -> 0^b is 0 for b > 0; jumps at b = 0
    if a < 0:
        return NAN                          # b -> a^b is not real near any b
    return MP.power(mpf(a), mpf(b)) * MP.log(mpf(a))


def _atan2(a, b):
    if a == 0 and b == 0:                   # C99 Annex F
        return math.copysign(0.0, a) if math.copysign(1, b) > 0 else math.copysign(math.pi, a)
    if a == 0:
        return math.copysign(0.0, a) if b > 0 else real(MP.atan2(0, -1)) * math.copysign(1, a)
    return MP.atan2(mpf(a), mpf(b))


def _datan2(which):
    def d(a, b):
        if a == 0 and b == 0:
            return NAN
        a, b = mpf(a), mpf(b)
        return (b if which == 0 else -a) / (a * a + b * b)
    return d


def _tie(select, which):
    """d max(a, b)/d a (which=0) or /d b: 1 for the strict winner, 1/2 each at a tie."""
    def d(a, b):
        if a == b:
            return mpf(0.5)
        return mpf(1) if select(a, b) == (a, b)[which] else mpf(0)
    return d


def _cmp(f):
    return Ref(lambda a, b: mpf(1 if f(a, b) else 0), exact=True)


def _cast_value(x):
    return real(mpf(x))


# Ops with no numerics of their own to check (with the reason).
NOT_NUMERIC = {
    "where": "selects one of two inputs: exact by construction (tests/codegen/test_ops.py)",
    "partial": "the derivative of another op: checked through every op's gradient below",
}

PI_2 = 1.5707963267948966   # the double nearest pi/2: tan is large but finite there
REFERENCES = {
    "abs": unary(abs, lambda x: mpf(_sign(x))),
    # sqrt'(+-0) = 1 / (2 sqrt(+-0)) = +-inf (sqrt(-0) = -0)
    "sqrt": unary(MP.sqrt, lambda x: 1 / (2 * MP.sqrt(x)), lo=0.0,
                  special=_pole_at(0.0, lambda x: x, lambda x: math.copysign(INF, x))),
    "exp": unary(MP.exp, MP.exp, extra=(88.72, 88.73, -103.9, 709.78, 709.79, -745.1, -745.2)),
    "log": unary(MP.log, lambda x: 1 / x, lo=0.0,
                 special=_pole_at(0.0, lambda x: -INF, lambda x: math.copysign(INF, x)),
                 extra=(1 - 2 ** -53, 1 + 2 ** -52, 1 - 1e-8, 1 + 1e-8)),
    "log1p": unary(MP.log1p, lambda x: 1 / (1 + x), lo=-1.0,
                   special=_pole_at(-1.0, lambda x: -INF, lambda x: INF),
                   extra=(-1 + 2 ** -53, -1 + 2 ** -24, -1 + 1e-10, -0.9999, -1 - 1e-10, -1.5)),
    "expm1": unary(MP.expm1, MP.exp, odd=True, extra=(-37.0, -40.0, 88.72, 709.78)),
    "sin": unary(MP.sin, MP.cos, odd=True, extra=(PI_2, math.pi, 1e22, 3.4e38)),
    "cos": unary(MP.cos, lambda x: -MP.sin(x), extra=(PI_2, math.pi, 1e22, 3.4e38)),
    "tan": unary(MP.tan, lambda x: 1 / MP.cos(x) ** 2, odd=True, extra=(PI_2, math.pi, 1e22, 3.4e38)),
    "sinh": unary(MP.sinh, MP.cosh, odd=True, extra=(89.41, 89.42, 710.47, 710.48)),
    "cosh": unary(MP.cosh, MP.sinh, extra=(89.41, 89.42, 710.47, 710.48)),
    "tanh": unary(MP.tanh, lambda x: MP.sech(x) ** 2, odd=True, extra=(0.55, 9.0, 19.0, 22.0, 355.0, 375.0)),
    "asin": unary(MP.asin, lambda x: 1 / MP.sqrt(1 - x * x), lo=-1.0, hi=1.0, odd=True,
                  special=lambda x: (real(MP.asin(x)), INF) if abs(x) == 1 else None,
                  extra=(1.0, 1 - 2 ** -53, 1 - 1e-8, 0.9999, 1 + 2 ** -52, 1 + 1e-8)),
    "acos": unary(MP.acos, lambda x: -1 / MP.sqrt(1 - x * x), lo=-1.0, hi=1.0,
                  special=lambda x: (real(MP.acos(x)), -INF) if abs(x) == 1 else None,
                  extra=(1.0, 1 - 2 ** -53, 1 - 1e-8, 0.9999, 1 + 2 ** -52, 1 + 1e-8)),
    "atan": unary(MP.atan, lambda x: 1 / (1 + x * x), odd=True, extra=(1.34e154, 1e160, 1e19)),
    "asinh": unary(MP.asinh, lambda x: 1 / MP.sqrt(1 + x * x), odd=True,
                   extra=(1e-300, 1e8, 1.0000001e8, 1.34e154, 1e200, 1.7e308)),
    "acosh": unary(MP.acosh, lambda x: 1 / MP.sqrt(x * x - 1), lo=1.0,
                   special=lambda x: (0.0, INF) if x == 1 else None,
                   extra=(1.0, 1 + 2 ** -52, 1 + 1e-8, 1.0001, 1.34e154, 1e300)),
    "atanh": unary(MP.atanh, lambda x: 1 / (1 - x * x), lo=-1.0, hi=1.0, odd=True,
                   special=lambda x: (math.copysign(INF, x), INF) if abs(x) == 1 else None,
                   extra=(1.0, 1 - 2 ** -53, 1 - 1e-8, 0.9999, 1e-300)),
    "erf": unary(MP.erf, lambda x: 2 / MP.sqrt(MP.pi) * MP.exp(-x * x), odd=True,
                 extra=(5.9, 6.0, 26.5, 27.3)),
    "sigmoid": unary(_sigmoid, _dsigmoid, extra=(16.0, 30.0, 36.8, 37.0, 40.0, 88.8, 103.9, 745.2, 746.0)),
    "softplus": unary(lambda x: max(x, 0) + MP.log1p(MP.exp(-abs(x))), _sigmoid,
                      extra=(16.0, 30.0, 36.8, 37.0, 40.0, 88.8, 103.9, 745.2, 746.0)),
    "relu": unary(lambda x: max(x, mpf(0)), lambda x: mpf(1 if x > 0 else 0)),
    "neg": unary(lambda x: -x, lambda x: mpf(-1), zero=lambda x: -x),
    "sign": unary(lambda x: mpf(_sign(x)), exact=True),
    "floor": unary(MP.floor, exact=True, extra=(-0.5, 0.5, 2.5, -2.5, 4503599627370495.5)),
    "ceil": unary(MP.ceil, exact=True, extra=(-0.5, 0.5, 2.5, -2.5, 4503599627370495.5)),
    "round": unary(MP.nint, exact=True, extra=(-0.5, 0.5, 1.5, 2.5, -2.5, 4503599627370495.5)),
    "stop_gradient": unary(lambda x: x, exact=True),
    # cast to the other dtype: float64 -> float32 rounds (subnormals, overflow), float32 -> float64 is exact
    "cast": Ref(_cast_value, (lambda x: mpf(1),), attrs={"dtype": "other"}),
    "add": Ref(lambda a, b: mpf(a) + mpf(b), (lambda a, b: mpf(1), lambda a, b: mpf(1))),
    "sub": Ref(lambda a, b: mpf(a) - mpf(b), (lambda a, b: mpf(1), lambda a, b: mpf(-1))),
    "mul": Ref(lambda a, b: mpf(a) * mpf(b), (lambda a, b: mpf(b), lambda a, b: mpf(a))),
    "div": Ref(_div, (lambda a, b: _div(1.0, b), _ddiv_db)),
    "pow": Ref(_pow, (_dpow_da, _dpow_db), sweep="pow"),
    "atan2": Ref(_atan2, (_datan2(0), _datan2(1))),
    "maximum": Ref(lambda a, b: max(mpf(a), mpf(b)), (_tie(max, 0), _tie(max, 1))),
    "minimum": Ref(lambda a, b: min(mpf(a), mpf(b)), (_tie(min, 0), _tie(min, 1))),
    "gt": _cmp(lambda a, b: a > b), "ge": _cmp(lambda a, b: a >= b), "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b), "eq": _cmp(lambda a, b: a == b), "ne": _cmp(lambda a, b: a != b),
}
