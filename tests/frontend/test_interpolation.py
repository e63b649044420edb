"""interp1's methods other than linear against scipy (PchipInterpolator, Akima1DInterpolator makima,
CubicSpline not-a-knot, interp1d nearest-up/previous/next), MATLAB's documented example and extrapolation rules, and
gradients to v, xq and x against central differences of the scipy reference, in both dtypes."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, dlfeval, extractdata

from .cases import check_cases

interpolate = pytest.importorskip("scipy.interpolate")

F32, F64 = (np.float32, 3e-5, 3e-3), (np.float64, 1e-10, 1e-6)
X = np.array([0.0, 1.0, 2.5, 4.0, 4.5, 6.0])
V = np.array([1.0, -2.0, 0.5, 3.0, 3.2, -1.0])
# inside and outside the table, off the sample points (the methods are piecewise there)
Q = np.array([[-0.7, 0.3, 1.4, 1.9], [2.4, 3.1, 4.3, 6.4]])
STEPS = {"nearest": "nearest-up", "previous": "previous", "next": "next"}


def _step(kind, fill):
    return lambda v, q: interpolate.interp1d(X, v, kind=STEPS[kind], axis=0, bounds_error=False, fill_value=fill)(q)


def test_matlab_examples():
    """interp1's doc and answers: x = [1 2 4], v = [17 100 17], 'previous' at 1:5 is [17 100 100 17 NaN];
    with 'extrap' the last is 17. pchip, makima and spline extrapolate by default."""
    x, v, q = np.array([1.0, 2.0, 4.0]), np.array([17.0, 100.0, 17.0]), np.arange(1.0, 6.0)
    np.testing.assert_array_equal(extractdata(dl.interp1(x, v, q, "previous")), [17, 100, 100, 17, np.nan])
    np.testing.assert_array_equal(extractdata(dl.interp1(x, v, q, "previous", "extrap")), [17, 100, 100, 17, 17])
    for method in ("pchip", "makima", "spline"):
        assert np.isfinite(extractdata(dl.interp1(x, v, np.array([0.0, 5.0]), method))).all()
    np.testing.assert_array_equal(extractdata(dl.interp1(x, v, q, "cubic")), extractdata(dl.interp1(x, v, q, "pchip")))
    # a query half way between two samples goes to the later one
    assert float(dl.interp1([1.0, 2.0], [10.0, 20.0], 1.5, "nearest")) == 20.0


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_cubic_methods(dtype, rtol, grad_rtol):
    """pchip and not-a-knot spline values, and gradients to v, xq and x (the slopes depend on all)."""
    cases = [
        ("pchip", lambda v, q, x: dl.interp1(x, v, q, "pchip"), lambda v, q, x: interpolate.PchipInterpolator(x, v)(q)),
        ("spline", lambda v, q, x: dl.interp1(x, v, q, "spline"), lambda v, q, x: interpolate.CubicSpline(x, v)(q)),
        ("makima", lambda v, q, x: dl.interp1(x, v, q, "makima"),
         lambda v, q, x: interpolate.Akima1DInterpolator(x, v, method="makima", extrapolate=True)(q)),
        ("pchip fill", lambda v, q, x: dl.interp1(x, v, q, "pchip", 5.0),
         lambda v, q, x: np.where((q < x[0]) | (q > x[-1]), 5.0, interpolate.PchipInterpolator(x, v)(q))),
    ]
    check_cases(cases, [V, Q, X], dtype, rtol, grad_rtol)
    xs = X.astype(dtype)   # float64 samples would make the result float64 (numpy's promotion)
    columns = np.stack([V, V ** 2 - 1, np.cos(V)], 1)   # MATLAB's matrix v: one set of values per column
    check_cases([("spline columns", lambda c, q: dl.interp1(xs, c, q, "spline"),
                  lambda c, q: interpolate.CubicSpline(X, c)(q)),
                 ("pchip columns", lambda c, q: dl.interp1(xs, c, q, "pchip"),
                  lambda c, q: interpolate.PchipInterpolator(X, c)(q))], [columns, Q], dtype, rtol, grad_rtol)
    for n in (2, 3, 4):   # a line, a parabola, the first not-a-knot system
        check_cases([(f"spline n={n}", lambda v, q: dl.interp1(xs[:n], v, q, "spline"),
                      lambda v, q: interpolate.CubicSpline(X[:n], v)(q)),
                     (f"pchip n={n}", lambda v, q: dl.interp1(xs[:n], v, q, "pchip"),
                      lambda v, q: interpolate.PchipInterpolator(X[:n], v)(q)),
                     (f"makima n={n}", lambda v, q: dl.interp1(xs[:n], v, q, "makima"),
                      lambda v, q: interpolate.Akima1DInterpolator(X[:n], v, method="makima", extrapolate=True)(q))],
                    [V[:n], Q], dtype, rtol, grad_rtol)
    flat = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])   # makima's zero weights: flat stays flat
    np.testing.assert_allclose(extractdata(dl.interp1(X, flat, Q, "makima")),
                               interpolate.Akima1DInterpolator(X, flat, method="makima", extrapolate=True)(Q), rtol=1e-14)


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_step_methods(dtype, rtol, grad_rtol):
    """nearest, previous, next: NaN outside, a number, or 'extrap' (previous: NaN left of x[0], next:
    NaN right of x[-1], as scipy's interp1d); the gradient reaches v only."""
    xs = X.astype(dtype)
    cases = [("nearest extrap", lambda v, q: dl.interp1(xs, v, q, "nearest", "extrap"), _step("nearest", "extrapolate"))]
    for kind in STEPS:
        cases += [(kind, lambda v, q, k=kind: dl.interp1(xs, v, np.clip(q, 0.1, 5.9), k),
                   lambda v, q, k=kind: _step(k, np.nan)(v, np.clip(q, 0.1, 5.9))),
                  (kind + " fill", lambda v, q, k=kind: dl.interp1(xs, v, q, k, -4.0), _step(kind, -4.0))]
    check_cases(cases, [V, Q], dtype, rtol, grad_rtol)
    for kind in STEPS:   # NaN where scipy has NaN, eager and compiled
        for fill in (np.nan, "extrapolate"):
            want = _step(kind, fill)(V, Q)
            extrapolation = "extrap" if fill == "extrapolate" else None
            for got in (dl.interp1(xs, V.astype(dtype), Q, kind, extrapolation),
                        dlfeval(lambda v: dl.interp1(xs, v, Q, kind, extrapolation), dlarray(V.astype(dtype)))):
                np.testing.assert_allclose(extractdata(got), want, rtol=rtol, err_msg=f"{kind} {fill}")
    assert np.isnan(float(dl.interp1(X, V, -0.7, "previous", "extrap")))   # nothing precedes x[0]
    assert np.isnan(float(dl.interp1(X, V, 6.4, "next", "extrap")))       # nothing follows x[-1]


def test_queries_on_the_samples_and_compiled_code():
    """At the sample points every method gives v; compiled and eager agree."""
    for method in ("nearest", "previous", "next", "pchip", "makima", "spline"):
        np.testing.assert_allclose(extractdata(dl.interp1(X, V, X, method)), V, rtol=1e-14, atol=1e-14)
        traced = dlfeval(lambda v, q: dl.interp1(X, v, q, method), dlarray(V), dlarray(Q))
        np.testing.assert_allclose(extractdata(traced), extractdata(dl.interp1(X, V, Q, method)), rtol=1e-14)
