"""dljacobian, dldivergence, dllaplacian: values, shapes per observation, both ways of building
the rows (one batched sweep, one sweep per row), the higher-derivatives option, and errors."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import (GradientError, ShapeError, dlarray, dldivergence, dlfeval, dlgradient,
                    dljacobian, dllaplacian, extractdata)
from dlgrad.frontend import higher

from .support import numeric_jacobian

RNG = np.random.default_rng(3)


@pytest.fixture(params=["batched", "rows"])
def rows_by(request, monkeypatch):
    """Jacobian rows from one batched sweep (the default), then from one sweep per row."""
    if request.param == "rows":
        monkeypatch.setattr(higher, "batch", lambda *args: None)
    yield request.param


def evaluate(fn, *arrays):
    out = dlfeval(fn, *(dlarray(a) for a in arrays))
    return extractdata(out) if not isinstance(out, tuple) else tuple(extractdata(o) for o in out)


def rosenbrock(x):
    return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_rosenbrock_hessian(backend, rows_by):
    def hessian(x):
        return dljacobian(dlgradient(rosenbrock(x), x, enable_higher_derivatives=True), x, 0)

    np.testing.assert_array_equal(evaluate(hessian, np.array([-1.0, 2.0])), [[402.0, 400.0], [400.0, 200.0]])


@pytest.mark.parametrize("n", [1, 4])
def test_laplacian_of_sum_of_squares_and_divergence_of_x(n, backend):
    def f(x):
        return dllaplacian(dl.sum(x ** 2), x, 0), dldivergence(x, x, 0)

    lap, div = evaluate(f, RNG.standard_normal(n))
    assert lap.shape == () and lap == 2 * n
    assert div.shape == (1,) and div == n


def test_per_observation_shapes_and_values(rows_by):
    # x: 3 coordinates of 5 observations; u one value per observation
    def f(x):
        u = dl.sum(x ** 2, axis=0, keepdims=True) + dl.sin(x[0:1] * x[2:3])
        return dllaplacian(u, x, 0), dldivergence(x ** 2, x, 0), dljacobian(u, x, 0)

    x = RNG.standard_normal((3, 5))
    lap, div, jac = evaluate(f, x)
    a, c = x[0], x[2]
    assert lap.shape == (1, 5) and div.shape == (1, 5) and jac.shape == (1, 3, 5)
    np.testing.assert_allclose(lap[0], 6 - (a ** 2 + c ** 2) * np.sin(a * c), rtol=1e-12)
    np.testing.assert_allclose(div[0], 2 * x.sum(axis=0), rtol=1e-12)
    want = 2 * x + np.stack([c * np.cos(a * c), 0 * a, a * np.cos(a * c)])
    np.testing.assert_allclose(jac[0], want, rtol=1e-12)


def test_operation_axis_last_and_several_components(rows_by):
    # x: 4 observations (axis 0) of 3 coordinates (axis 1); u: 2 components per observation
    w = RNG.standard_normal((3, 2))

    def f(x):
        u = dl.tanh(x @ w)                                  # (4, 2)
        return dljacobian(u, x, 1), dllaplacian(u, x, -1)

    x = RNG.standard_normal((4, 3))
    jac, lap = evaluate(f, x)
    t = np.tanh(x @ w)
    assert jac.shape == (4, 2, 3) and lap.shape == (4, 2)
    np.testing.assert_allclose(jac, (1 - t ** 2)[:, :, None] * w.T[None], rtol=1e-12)
    np.testing.assert_allclose(lap, -2 * t * (1 - t ** 2) * (w ** 2).sum(axis=0), rtol=1e-12)


def test_weights_on_the_left_of_the_observations(rows_by):
    # x: 2 coordinates (axis 0) of 6 observations (axis 1), u = v' tanh(W x + b) as in a network
    w, b, v = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 1)), RNG.standard_normal((1, 4))

    def f(x):
        u = v @ dl.tanh(w @ x + b)                           # (1, 6)
        return dljacobian(u, x, 0), dllaplacian(u, x, 0)

    x = RNG.standard_normal((2, 6))
    jac, lap = evaluate(f, x)
    t = np.tanh(w @ x + b)
    np.testing.assert_allclose(jac[0], w.T @ (v.T * (1 - t ** 2)), rtol=1e-12)
    curvature = v.T * -2 * t * (1 - t ** 2) * (w ** 2).sum(axis=1, keepdims=True)   # per hidden unit
    np.testing.assert_allclose(lap[0], curvature.sum(axis=0), rtol=1e-12)


def test_jacobians_of_random_maps_against_finite_differences(rows_by):
    a = RNG.standard_normal((3, 4))

    def maps(x):
        return dl.sin(x) * x ** 2 + dl.exp(-x), a @ dl.tanh(x) + dl.sum(x ** 3)

    def jacobians(x):
        elementwise, matmul = maps(x)
        return dljacobian(elementwise, x, 0), dljacobian(matmul, x, 0)

    x = RNG.standard_normal(4)
    got = evaluate(jacobians, x)
    for k in range(2):
        want = numeric_jacobian(lambda x: extractdata(dlfeval(maps, dlarray(x))[k]), x)
        np.testing.assert_allclose(got[k], want, rtol=1e-7, atol=1e-8)


def test_jacobian_of_a_gradient_against_finite_differences_of_gradients(rows_by):
    # many op kinds on the way: gather, reshape, permute, matmul, max, broadcasting, slices
    m = RNG.standard_normal((2, 2))

    def f(x):
        y = dl.reshape(x[[2, 0, 1, 3]], (2, 2))
        z = dl.transpose(y) @ m + dl.max(y, axis=0)
        return dl.sum(dl.softplus(z) * x[1:3]) + dl.sum(dl.cos(x) ** 3)

    def grad(x):
        return dlgradient(f(x), x)

    def hessian(x):
        return dljacobian(dlgradient(f(x), x, enable_higher_derivatives=True), x, 0)

    x = RNG.standard_normal(4)
    want = numeric_jacobian(lambda x: extractdata(dlfeval(grad, dlarray(x))), x)
    got = evaluate(hessian, x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-13)


def test_float32_stays_float32():
    def f(x):
        return dljacobian(dl.sin(x), x, 0), dllaplacian(dl.sum(x ** 3), x, 0)

    jac, lap = dlfeval(f, dlarray(np.array([0.5, 1.0], np.float32)))
    assert jac.dtype == np.float32 and lap.dtype == np.float32
    np.testing.assert_allclose(extractdata(jac), np.diag(np.cos([0.5, 1.0])), rtol=1e-6)
    np.testing.assert_allclose(float(lap), 9.0, rtol=1e-6)


@pytest.mark.parametrize("spelling", ["enable_higher_derivatives", "EnableHigherDerivatives"])
def test_higher_derivatives_option(spelling):
    def f(x, higher_):
        lap = dllaplacian(dl.sum(x ** 4), x, 0, **{spelling: higher_})   # 12 sum x^2
        return dlgradient(lap, x)

    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(extractdata(dlfeval(f, dlarray(x), True)), 24 * x)
    with pytest.raises(GradientError, match="not traced.*EnableHigherDerivatives=false"):
        dlfeval(f, dlarray(x), False)   # MATLAB's error, not a silent zero


def test_laplacian_inside_a_loss_differentiated_by_parameters(backend):
    # PINN-style: d/dw of mean((u_xx + 1)^2) for u = v . tanh(w x + b), a third-order derivative
    def loss(w, b, v, x):
        u = dl.sum(v * dl.tanh(w * x + b), axis=0, keepdims=True)      # (1, batch)
        residual = dllaplacian(u, x, 0) + 1
        value = dl.mean(residual ** 2)
        return value, dlgradient(value, w, b, v)

    w, b, v = (RNG.standard_normal((3, 1)) for _ in range(3))
    x = dlarray(RNG.standard_normal((1, 6)))
    _, grads = dlfeval(loss, dlarray(w), dlarray(b), dlarray(v), x)
    for got, name, at in zip(grads, "wbv", (w, b, v)):
        args = {"w": w, "b": b, "v": v}

        def value(a):
            return float(dlfeval(loss, *(dlarray(a if k == name else args[k]) for k in "wbv"), x)[0])

        np.testing.assert_allclose(extractdata(got), numeric_jacobian(value, at), rtol=1e-6, atol=1e-7)


def test_rows_and_batched_graphs_agree_and_the_batched_one_is_small():
    def hessian(x):
        return dljacobian(dlgradient(rosenbrock(x), x, enable_higher_derivatives=True), x, 0)

    text = dl.lower(hessian, dlarray(np.zeros(40))).graph_text
    after = int(text.split()[text.split().index("after") - 1].rstrip(","))
    assert after <= 30       # one sweep over 40 copies, not 40 sweeps


# --- errors -------------------------------------------------------------------------------


def raises(exc, match, fn, *arrays):
    with pytest.raises(exc, match=match):
        dlfeval(fn, *(dlarray(a) for a in arrays))


def test_dim_errors():
    x = np.ones((3, 5))
    raises(ShapeError, r"dim=2 is out of range for x of shape \(3, 5\)", lambda x: dllaplacian(x[:1], x, 2), x)
    raises(ShapeError, r"dim=-3", lambda x: dljacobian(x, x, -3), x)
    raises(TypeError, "dim must be an int", lambda x: dljacobian(x, x, 0.0), x)
    raises(TypeError, "dim must be an int", lambda x: dljacobian(x, x, True), x)


def test_size_errors():
    x = np.ones((3, 5))
    raises(ShapeError, r"u must have x's shape except along dim=0, that is \(M, 5\)",
           lambda x: dllaplacian(x[:, :4], x, 0), x)
    raises(ShapeError, "u must have x's shape except along dim=1",
           lambda x: dljacobian(dl.reshape(x, (15,)), x, 1), x)
    raises(ShapeError, r"dldivergence: u must have the shape of x \(3, 5\)",
           lambda x: dldivergence(x[:2], x, 0), x)


@pytest.mark.parametrize("u, why", [
    (lambda x: dl.sum(x ** 2, axis=1, keepdims=True) + 0 * x[:1], "sum reduces an observation axis"),
    (lambda x: x[:, 1:] - x[:, :-1], "shape"),                              # also a size error
    (lambda x: dl.concatenate([x[:, 1:], x[:, :1]], axis=1), "not aligned"),  # a cyclic shift
    (lambda x: x[:1] @ dl.transpose(x[:1]) + 0 * x[:1], "matmul sums over an observation axis"),
    (lambda x: x[:1, 2:3] * np.ones((1, 5)), "broadcasts an observation axis"),
])
def test_cross_observation_dependence_is_an_error(u, why):
    x = RNG.standard_normal((3, 5))
    exc = ShapeError if why == "shape" else GradientError
    raises(exc, why if why != "shape" else "u must have", lambda x: dllaplacian(u(x), x, 0), x)


def test_per_observation_functions_pass_the_check():
    # a gradient that slices observations and pads them back is still per observation
    def f(x):
        g = dlgradient(dl.sum(dl.sin(x[:, 1:]) * x[:, 1:]), x, enable_higher_derivatives=True)
        return dllaplacian(dl.sum(g, axis=0, keepdims=True), x, 0)

    x = RNG.standard_normal((2, 4))
    lap = evaluate(f, x)
    y = x[:, 1:]
    third = -3 * np.sin(y) - y * np.cos(y)               # d^3/dy^3 (y sin y)
    np.testing.assert_allclose(lap[0, 1:], third.sum(axis=0), rtol=1e-12)
    assert lap[0, 0] == 0


def test_unfollowed_reshapes_are_not_errors():
    # a flatten and back cannot be followed structurally: no check, and the values are right
    def f(x):
        u = dl.sum(dl.reshape(dl.reshape(x, (15,)) ** 3, (3, 5)), axis=0, keepdims=True)
        return dllaplacian(u, x, 0)

    x = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(evaluate(f, x), 6 * x.sum(axis=0, keepdims=True), rtol=1e-12)


def test_argument_errors():
    with pytest.raises(GradientError, match="inside a function evaluated by dlfeval"):
        dljacobian(dlarray([1.0]), dlarray([1.0]), 0)
    raises(GradientError, "x is not traced", lambda x: dllaplacian(x, dlarray([1.0]), 0), np.ones(1))
    raises(GradientError, "u is not traced", lambda x: dllaplacian(np.ones(1), x, 0), np.ones(1))
    raises(TypeError, "unknown option 'RetainData'", lambda x: dljacobian(x, x, 0, RetainData=True), np.ones(1))
