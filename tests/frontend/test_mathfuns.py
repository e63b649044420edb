"""MATLAB's elementwise functions, fix, rescale, cumprod, interp1, the value tests and logical
operators: eager and traced values against numpy (and MATLAB's documented examples where
stated), gradients against central differences of the numpy reference."""
import math

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import ShapeError, dlarray, dlfeval, dlgradient, extractdata

from .cases import check_cases
from .helpers import RNG

F32, F64 = (np.float32, 2e-6, 1e-3), (np.float64, 1e-12, 1e-6)
X = RNG.uniform(0.2, 0.8, (2, 3)) * RNG.choice([-1.0, 1.0], (2, 3))   # |x| in (0.2, 0.8)
BIG = 1 / X                                                           # |x| in (1.25, 5)
TRIG = [  # (name, f, numpy reference, argument)
    ("asinh", dl.asinh, np.arcsinh, X), ("atanh", dl.atanh, np.arctanh, X),
    ("acosh", dl.acosh, np.arccosh, np.abs(BIG)), ("sec", dl.sec, lambda x: 1 / np.cos(x), X),
    ("csc", dl.csc, lambda x: 1 / np.sin(x), X), ("cot", dl.cot, lambda x: 1 / np.tan(x), X),
    ("sech", dl.sech, lambda x: 1 / np.cosh(x), X), ("csch", dl.csch, lambda x: 1 / np.sinh(x), X),
    ("coth", dl.coth, lambda x: 1 / np.tanh(x), X), ("asec", dl.asec, lambda x: np.arccos(1 / x), BIG),
    ("acsc", dl.acsc, lambda x: np.arcsin(1 / x), BIG), ("acot", dl.acot, lambda x: np.arctan(1 / x), X),
]


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_trig_family(dtype, rtol, grad_rtol):
    small = [(n, f, r) for n, f, r, a in TRIG if a is X]
    large = [(n, f, r) for n, f, r, a in TRIG if a is BIG]
    check_cases(small, [X], dtype, rtol, grad_rtol)
    check_cases(large, [BIG], dtype, rtol, grad_rtol)


EDGES = np.array([0.0, -0.0, 1.0, -1.0, 1e-300, 1e8, 1e200, -1e200, np.inf, -np.inf, np.nan, 0.5, 2.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # numpy's, from the eager evaluation
def test_trig_family_edge_values_match_numpy_and_matlab():
    """+-0, +-1, huge, +-inf and NaN give numpy's (and MATLAB's) values, eager and compiled."""
    def everything(x):
        return [f(x) for _, f, _, _ in TRIG]
    with np.errstate(all="ignore"):
        wants = [r(EDGES) for _, _, r, _ in TRIG]
    for name, (eager, traced, want) in zip([n for n, *_ in TRIG], zip(everything(dlarray(EDGES)),
                                                                   dlfeval(everything, dlarray(EDGES)), wants)):
        for got in (extractdata(eager), extractdata(traced)):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
            finite = ~np.isnan(want)
            np.testing.assert_allclose(got[finite], want[finite], rtol=1e-15, err_msg=name)
    # MATLAB: cot(0) = Inf, acot(0) = pi/2, acot(-0) = -pi/2, asinh(1e200) = 461.21...
    assert float(dl.cot(0.0)) == math.inf and float(dl.acot(-0.0)) == -math.pi / 2
    assert float(dl.asinh(1e200)) == pytest.approx(math.asinh(1e200), rel=1e-15)


def test_inverse_hyperbolic_gradients_stay_accurate_far_out_and_near_the_poles():
    """asinh'(x) = 1/sqrt(1+x^2) past x = 1e154 (x^2 overflows), acosh' and atanh' near 1."""
    x = dlarray(np.array([1e200, -1e10, 1e-300]))
    near = dlarray(np.array([1 + 1e-10, 1 + 2.0 ** -40]))
    inner = dlarray(np.array([1 - 1e-10, -(1 - 2.0 ** -40)]))
    got = dlfeval(lambda a, b, c: dlgradient(dl.sum(dl.asinh(a)) + dl.sum(dl.acosh(b)) + dl.sum(dl.atanh(c)),
                                             a, b, c), x, near, inner)
    import mpmath
    mp = mpmath.mp
    mp.dps = 50
    want = ([1 / mp.sqrt(1 + mp.mpf(v) ** 2) for v in extractdata(x)],
            [1 / mp.sqrt(mp.mpf(v) ** 2 - 1) for v in extractdata(near)],
            [1 / (1 - mp.mpf(v) ** 2) for v in extractdata(inner)])
    for g, w in zip(got, want):
        np.testing.assert_allclose(extractdata(g), [float(v) for v in w], rtol=4e-16 * 8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fix_rounds_toward_zero(dtype):
    x = np.array([-2.5, -1.7, -0.5, -0.0, 0.0, 0.5, 1.7, 2.5, np.inf, -np.inf, np.nan], dtype)
    for got in (dl.fix(dlarray(x)), dlfeval(dl.fix, dlarray(x)), np.fix(dlarray(x)), np.trunc(dlarray(x))):
        got = extractdata(got)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.trunc(x))
        np.testing.assert_array_equal(np.signbit(got), np.signbit(np.trunc(x)))   # fix(-0.5) is -0
    g = dlfeval(lambda x: dlgradient(dl.sum(dl.fix(x)), x), dlarray(np.array([1.5, -2.5])))
    np.testing.assert_array_equal(extractdata(g), 0.0)


def test_rescale_matches_matlab_examples():
    """MATLAB's documented examples: rescale(1:5), rescale(1:5, -1, 1), and clipping."""
    np.testing.assert_allclose(extractdata(dl.rescale(np.arange(1.0, 6.0))), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(extractdata(dl.rescale(np.arange(1.0, 6.0), -1, 1)), [-1, -0.5, 0, 0.5, 1])
    clipped = dl.rescale(np.array([-30.0, 1, 2, 3, 4, 5, 70]), InputMin=1, InputMax=5)
    np.testing.assert_allclose(extractdata(clipped), [0, 0, 0.25, 0.5, 0.75, 1, 1])
    np.testing.assert_array_equal(extractdata(dl.rescale(np.full(3, 2.0), 3, 4)), 3.0)   # constant: l


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_rescale_and_cumprod(dtype, rtol, grad_rtol):
    def rescale_ref(x, l=0.0, u=1.0):
        return l + (x - x.min()) / (x.max() - x.min()) * (u - l)
    zeros = np.array([[0.9, 0.0, 1.3, -0.7], [1.2, -0.8, 0.0, 0.0], [0.0, 1.1, 1.5, -1.1]])
    check_cases([
        ("rescale", dl.rescale, rescale_ref),
        ("rescale l u", lambda x: dl.rescale(x, -2, 3), lambda x: rescale_ref(x, -2, 3)),
        ("cumprod", lambda x: dl.cumprod(x, 1), lambda x: np.cumprod(x, 1)),
        ("cumprod flat", dl.cumprod, np.cumprod),
        ("cumprod reverse", lambda x: dl.cumprod(x, 0, "reverse"), lambda x: np.cumprod(x[::-1], 0)[::-1]),
        ("np.cumprod", lambda x: np.cumprod(x, axis=0), lambda x: np.cumprod(x, axis=0)),
    ], [zeros + RNG.uniform(-0.05, 0.05, zeros.shape) * (zeros != 0)], dtype, rtol, grad_rtol)


def test_cumprod_gradient_at_zeros_is_exact():
    """d cumprod / dx where x has zeros: the products of the other elements (no 0/0)."""
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    g = dlfeval(lambda x: dlgradient(dl.sum(dl.cumprod(x)), x), dlarray(x))
    # sum_i prod_{j<=i} x_j: d/dx0 = 1, d/dx1 = x0 + x0 x2 = 8, d/dx2 = 0, d/dx3 = 0, d/dx4 = 0
    np.testing.assert_array_equal(extractdata(g), [1.0, 8.0, 0.0, 0.0, 0.0])


def test_cumprod_rejects_bad_axes():
    with pytest.raises(TypeError, match="cumprod axis must be an int or None, got 1.5"):
        dl.cumprod(np.ones(3), 1.5)
    with pytest.raises(ShapeError, match="out of range"):
        dl.cumprod(np.ones(3), 1)
    with pytest.raises(ValueError, match="direction"):
        dl.cumprod(np.ones(3), 0, "backward")


XS = np.array([0.0, 1.0, 2.5, 4.0])


def _interp_ref(v, q, fill=np.nan):
    return np.where((q >= XS[0]) & (q <= XS[-1]), np.interp(q, XS, v), fill)


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_interp1_linear(dtype, rtol, grad_rtol):
    """Against numpy.interp inside the table, NaN (or a fill) outside, as MATLAB's interp1."""
    v = np.array([1.0, -2.0, 0.5, 3.0])
    q = np.array([[-0.5, 0.3, 1.2], [2.0, 3.9, 4.5]])
    xs = XS.astype(dtype)
    inside = np.array([[0.1, 0.3, 1.2], [2.0, 3.9, 2.6]])
    check_cases([("interp1", lambda v, q: dl.interp1(xs, v, q), _interp_ref)], [v, inside], dtype, rtol, grad_rtol)
    check_cases([
        ("interp1 fill", lambda v, q: dl.interp1(xs, v, q, extrapolation=7.0), lambda v, q: _interp_ref(v, q, 7.0)),
        ("interp1 extrap", lambda v, q: dl.interp1(xs, v, q, extrapolation="extrap"),
         lambda v, q: np.where(q < 0, v[0] + q * (v[1] - v[0]), np.where(q > 4, v[3] + (q - 4) * (v[3] - v[2]) / 1.5,
                                                                           np.interp(q, XS, v)))),
    ], [v, q], dtype, rtol, grad_rtol)
    columns = np.stack([v, 2 * v - 1, v ** 2], 1)   # MATLAB's matrix v: one set of values per column
    check_cases([("interp1 columns", lambda c, q: dl.interp1(xs, c, q),
                  lambda c, q: np.stack([_interp_ref(c[:, j], q) for j in range(3)], -1))],
                [columns, inside], dtype, rtol, grad_rtol)
    # the end points are inside: interp1(x, v, x) is v; outside is NaN, eager and compiled
    np.testing.assert_array_equal(extractdata(dl.interp1(XS, v, XS)), v)
    for got in (dl.interp1(XS, v, dlarray(q)), dlfeval(lambda q: dl.interp1(XS, v, q), dlarray(q))):
        np.testing.assert_allclose(extractdata(got), _interp_ref(v, q), rtol=1e-15)


def test_interp1_rejects_what_matlab_rejects():
    with pytest.raises(ValueError, match="strictly increasing"):
        dl.interp1([0.0, 2.0, 1.0], [1.0, 2.0, 3.0], 0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        dl.interp1(XS, XS, 0.5, "v5cubic")
    with pytest.raises(ValueError, match="'extrap'"):
        dl.interp1(XS, XS, 0.5, "linear", "extrapolate")
    with pytest.raises(ShapeError, match="values v of shape"):
        dl.interp1(XS, XS[:3], 0.5)


def test_value_tests_and_logical_operators():
    """isnan/isinf/isfinite and and/or/not/xor against numpy, eager, traced and through numpy's names;
    0/1 masks with no gradient."""
    a = np.array([0.0, -0.0, 1.0, np.nan, np.inf, -np.inf, -2.0, 0.0])
    b = np.array([1.0, 0.0, 0.0, 0.0, 3.0, np.nan, 0.0, 0.0])
    cases = {
        "isnan": (lambda a, b: dl.isnan(a), np.isnan(a)), "isinf": (lambda a, b: dl.isinf(a), np.isinf(a)),
        "isfinite": (lambda a, b: dl.isfinite(a), np.isfinite(a)),
        "and": (dl.logical_and, np.logical_and(a, b)), "or": (dl.logical_or, np.logical_or(a, b)),
        "not": (lambda a, b: dl.logical_not(a), np.logical_not(a)), "xor": (dl.xor, np.logical_xor(a, b)),
        "np.isnan": (lambda a, b: np.isnan(a), np.isnan(a)),
        "np.logical_xor": (lambda a, b: np.logical_xor(a, b), np.logical_xor(a, b)),
    }

    def all_of(a, b):
        return [f(a, b) for f, _ in cases.values()]

    traced = dlfeval(all_of, dlarray(a), dlarray(b))
    for (name, (f, want)), t in zip(cases.items(), traced):
        for got in (f(dlarray(a), dlarray(b)), t):
            np.testing.assert_array_equal(extractdata(got), want.astype(float), err_msg=name)
    g = dlfeval(lambda a: dlgradient(dl.sum(a * dl.isfinite(a) + dl.logical_not(a)), a), dlarray(np.array([1.0, 0.0])))
    np.testing.assert_array_equal(extractdata(g), [1.0, 1.0])   # only through the a * factor


def test_underlying_type():
    assert dl.underlyingType(dlarray(np.ones(2))) == "double"
    assert dl.underlyingType(dlarray(np.ones(2, np.float32))) == "single"
    assert dl.underlyingType(np.ones(2, bool)) == "logical" and dl.underlyingType(3) == "double"
    assert dlfeval(lambda x: dl.underlyingType(x) == "single" and x, dlarray(np.ones(1, np.float32))) is not None
