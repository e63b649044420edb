"""Nested dlgradient with enable_higher_derivatives: second, third and fourth derivatives in one
compiled function, checked against numbers known by hand, sympy and finite differences."""
import numpy as np
import pytest
import sympy as sp

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata

from .support import numeric_jacobian


def rosenbrock(x):
    return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_second_derivative_of_cube(backend):
    def d2(x):
        g = dlgradient(x ** 3, x, enable_higher_derivatives=True)
        return dlgradient(g, x)

    assert float(dlfeval(d2, dlarray(2.0))) == 12.0


def test_rosenbrock_hessian_by_nested_rows(backend):
    def hessian(x):
        g = dlgradient(rosenbrock(x), x, EnableHigherDerivatives=True)
        return dl.stack([dlgradient(g[i], x) for i in range(x.shape[0])])

    h = dlfeval(hessian, dlarray(np.array([-1.0, 2.0])))
    np.testing.assert_array_equal(extractdata(h), [[402.0, 400.0], [400.0, 200.0]])


def test_hessian_vector_product_against_differences_of_the_gradient(backend):
    def grad(x):
        return dlgradient(rosenbrock(x), x)

    def hvp(x, v):
        g = dlgradient(rosenbrock(x), x, enable_higher_derivatives=True)
        return dlgradient(dl.sum(g * v), x)

    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    want = numeric_jacobian(lambda x: extractdata(dlfeval(grad, dlarray(x))), x) @ v
    got = extractdata(dlfeval(hvp, dlarray(x), dlarray(v)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


t = sp.Symbol("t", real=True)
# (dlgrad function, the same function written in sympy by hand, points where it is smooth)
SCALAR_FUNCTIONS = [
    (lambda x: dl.sin(x) * dl.exp(x), sp.sin(t) * sp.exp(t), [-1.3, 0.2, 2.1]),
    (lambda x: dl.log(1 + x ** 2), sp.log(1 + t ** 2), [-2.0, 0.3, 1.7]),
    (lambda x: dl.tanh(x) ** 2 / (1 + x), sp.tanh(t) ** 2 / (1 + t), [-0.5, 0.4, 2.5]),
    (lambda x: dl.sqrt(x) * dl.atan(x), sp.sqrt(t) * sp.atan(t), [0.3, 1.0, 4.0]),
    (lambda x: dl.sigmoid(3 * x) - x ** 5, 1 / (1 + sp.exp(-3 * t)) - t ** 5, [-0.7, 0.0, 0.9]),
]


@pytest.mark.parametrize("case", range(len(SCALAR_FUNCTIONS)))
def test_third_derivatives_against_sympy(case):
    f, expr, points = SCALAR_FUNCTIONS[case]

    def derivatives(x):
        d1 = dlgradient(dl.sum(f(x)), x, enable_higher_derivatives=True)
        d2 = dlgradient(dl.sum(d1), x, enable_higher_derivatives=True)
        return d1, d2, dlgradient(dl.sum(d2), x)

    x = np.array(points)
    got = [extractdata(d) for d in dlfeval(derivatives, dlarray(x))]
    for order, value in enumerate(got, 1):
        want = sp.lambdify(t, sp.diff(expr, t, order), "numpy")(x)
        np.testing.assert_allclose(value, want, rtol=1e-11, atol=1e-11, err_msg=f"order {order}")


def test_fourth_derivative_in_one_function(backend):
    def d4(x):
        g = x
        y = dl.sum(dl.exp(2 * x) * dl.cos(x))
        for _ in range(3):
            g = dlgradient(y, x, enable_higher_derivatives=True)
            y = dl.sum(g)
        return dlgradient(y, x)

    x = np.array([-0.4, 0.8])
    want = sp.lambdify(t, sp.diff(sp.exp(2 * t) * sp.cos(t), t, 4), "numpy")(x)
    np.testing.assert_allclose(extractdata(dlfeval(d4, dlarray(x))), want, rtol=1e-12)


def test_gradient_penalty_against_finite_differences(backend):
    # penalty = |d f / d x|^2 for a small tanh network; its gradient w.r.t. the weights
    def penalty(w, b, v, x):
        f = dl.sum(v * dl.tanh(w @ x + b))
        gx = dlgradient(f, x, enable_higher_derivatives=True)
        p = dl.sum(gx ** 2)
        return p, dlgradient(p, w, b, v)

    rng = np.random.default_rng(2)
    w, b, v = rng.standard_normal((3, 2)), rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    x = dlarray(rng.standard_normal((2, 4)))
    p, (gw, gb, gv) = dlfeval(penalty, dlarray(w), dlarray(b), dlarray(v), x)

    def value(w=w, b=b, v=v):
        return float(dlfeval(penalty, dlarray(w), dlarray(b), dlarray(v), x)[0])

    for got, name, at in ((gw, "w", w), (gb, "b", b), (gv, "v", v)):
        want = numeric_jacobian(lambda a: value(**{name: a}), at)
        np.testing.assert_allclose(extractdata(got), want, rtol=1e-6, atol=1e-7, err_msg=name)


def test_without_the_option_a_gradient_is_a_constant():
    def f(x):
        g = dlgradient(dl.sum(x ** 3), x)
        return dlgradient(dl.sum(g * x), x)     # d/dx (g . x) with g constant is g

    np.testing.assert_array_equal(extractdata(dlfeval(f, dlarray([1.0, 2.0]))), [3.0, 12.0])
