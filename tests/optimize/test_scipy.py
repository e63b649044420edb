"""dlgrad.optimize against scipy.optimize's own Rosenbrock: values, derivatives, solvers, errors."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.optimize import objective

so = pytest.importorskip("scipy.optimize")
from dlgrad.optimize import minimize  # noqa: E402


def rosen(x):
    return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


X0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.3, 0.7, -0.9, 0.2, 1.1, 0.4])
OBJ = objective(rosen)   # shared: compiled once for the module


def test_value_and_gradient_equal_scipy_rosen():
    rng = np.random.default_rng(0)
    for x in (X0, rng.uniform(-2, 2, 10)):
        f, g = OBJ(x)
        assert type(f) is float and g.shape == (10,) and g.dtype == np.float64
        np.testing.assert_allclose(f, so.rosen(x), rtol=1e-13)
        np.testing.assert_allclose(g, so.rosen_der(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(OBJ.value(X0), so.rosen(X0), rtol=1e-13)
    np.testing.assert_allclose(OBJ.gradient(X0), so.rosen_der(X0), rtol=1e-12)


def test_hessp_and_hess_equal_scipy():
    p = np.random.default_rng(1).standard_normal(10)
    np.testing.assert_allclose(OBJ.hessp(X0, p), so.rosen_hess_prod(X0, p), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(OBJ.hess(X0), so.rosen_hess(X0), rtol=1e-12, atol=1e-10)


def test_lbfgsb_on_10d_rosenbrock_converges():
    result = so.minimize(OBJ, X0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    assert result.success
    np.testing.assert_allclose(result.x, np.ones(10), atol=1e-4)


def test_minimize_trust_ncg_converges_with_compiled_hessp():
    result = minimize(rosen, X0, method="trust-ncg")
    assert result.success and result.nhev > 0
    np.testing.assert_allclose(result.x, np.ones(10), atol=1e-6)
    np.testing.assert_allclose(result.params, result.x)


def test_minimize_trust_exact_takes_scipys_steps_with_the_compiled_hessian():
    # from X0, 10-D Rosenbrock's local minimum near x0 = -1 is what scipy's own derivatives reach too
    result = minimize(rosen, X0, method="trust-exact")
    reference = so.minimize(so.rosen, X0, jac=so.rosen_der, hess=so.rosen_hess, method="trust-exact")
    assert result.success and result.nit == reference.nit
    np.testing.assert_allclose(result.x, reference.x, atol=1e-8)


def test_minimize_without_derivatives_passes_the_value_only():
    result = minimize(rosen, np.array([-1.2, 1.0]), method="Nelder-Mead")
    assert result.success
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-3)


def test_slsqp_with_inequality_constraints_and_structured_parameters():
    # scipy's SLSQP tutorial problem: the minimum of (a0 - 1)^2 + (a1 - 2.5)^2 in a polygon is (1.4, 1.7)
    def f(p):
        return (p["a"][0] - 1) ** 2 + (p["a"][1] - 2.5) ** 2 + 0 * p["b"]

    cons = [{"type": "ineq", "fun": lambda p, k: p["a"][0] - k * p["a"][1] + 2, "args": (2.0,)},
            {"type": "ineq", "fun": lambda p: dl.stack([-p["a"][0] - 2 * p["a"][1] + 6,
                                                                -p["a"][0] + 2 * p["a"][1] + 2], 0)}]
    x0 = {"a": np.array([2.0, 0.0]), "b": 0.0}
    result = minimize(f, x0, method="SLSQP", bounds=((0, None), (0, None), (None, None)), constraints=cons)
    assert result.success
    np.testing.assert_allclose(result.params["a"], [1.4, 1.7], atol=1e-6)
    assert set(result.params) == {"a", "b"} and result.x.shape == (3,)


def test_trust_constr_with_a_nonlinear_constraint_gets_compiled_derivatives():
    # minimize x0 + x1 on the unit circle x0^2 + x1^2 <= 1: the answer is -(1, 1)/sqrt(2)
    con = so.NonlinearConstraint(lambda x: dl.sum(x ** 2), -np.inf, 1.0)
    result = minimize(lambda x: dl.sum(x), np.array([0.1, 0.2]), method="trust-constr", constraints=[con])
    np.testing.assert_allclose(result.x, -np.ones(2) / np.sqrt(2), atol=1e-4)


def test_structured_parameters_and_static_arrays():
    # least squares of A @ w + b = y: w a matrix, b a vector, A and y static data (runtime inputs)
    rng = np.random.default_rng(2)
    A, w_true, b_true = rng.standard_normal((20, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    y = A @ w_true + b_true

    def loss(p, A, y):
        return dl.sum((dl.matmul(A, p["w"]) + p["b"] - y) ** 2)

    like = {"w": np.zeros((3, 2)), "b": np.zeros(2)}
    obj = objective(loss, A, y, like=like)
    x0 = obj.x0(like)
    assert x0.shape == (8,)
    f, g = obj(x0)
    np.testing.assert_allclose(f, np.sum(y ** 2))
    np.testing.assert_allclose(obj.params(g)["w"], -2 * A.T @ y)
    result = so.minimize(obj, x0, jac=True, method="BFGS")
    np.testing.assert_allclose(obj.params(result.x)["w"], w_true, atol=1e-5)
    np.testing.assert_allclose(obj.params(result.x)["b"], b_true, atol=1e-5)


def test_one_compiled_call_per_evaluation():
    obj = objective(rosen)
    x = X0.copy()
    for _ in range(4):
        obj(x)
    made = obj._made["value_and_gradient"]
    assert made.misses == 1 and made.hits == 3 and list(obj._made) == ["value_and_gradient"]


def test_a_changed_global_read_by_fn_is_seen():
    obj = objective(_scaled)
    x = np.array([1.0, 2.0])
    assert obj(x)[0] == 5.0
    global SCALE
    SCALE = 3.0
    try:
        assert obj(x)[0] == 15.0
    finally:
        SCALE = 1.0


SCALE = 1.0


def _scaled(x):
    return SCALE * dl.sum(x ** 2)


def test_bad_input_gives_clear_errors():
    with pytest.raises(dl.ShapeError, match=r"x: expected a float64 vector of length 10.*shape \(9,\)"):
        OBJ(np.ones(9))
    with pytest.raises(TypeError, match="x: expected a float64 vector"):
        OBJ(np.array(["a"] * 10))
    with pytest.raises(dl.ShapeError, match=r"must return a scalar.*shape \(2,\)"):
        objective(lambda x: x * 2)(np.ones(2))
    with pytest.raises(TypeError, match="must return a scalar dlarray.*float"):
        objective(lambda x: 1.0)(np.ones(2))
    with pytest.raises(dl.ShapeError, match=r"p: expected a float64 vector of length 10.*shape \(3,\)"):
        OBJ.hessp(X0, np.ones(3))
    with pytest.raises(TypeError, match="expected a function"):
        objective(3)
    with pytest.raises(TypeError, match="minimize computes 'jac'"):
        minimize(rosen, X0, jac=True)
    # integer and list inputs are converted, not refused
    np.testing.assert_allclose(OBJ(list(np.ones(10)))[0], 0.0)
    assert OBJ(np.ones(10, dtype=int))[0] == 0.0


def test_the_evaluation_takes_the_native_call_path():
    # the wrapper's own closure (fn, the layout) is not guarded, so nothing keeps the hit path in Python
    from dlgrad.runtime import fastcall
    if fastcall.get() is None or not fastcall.enabled():
        pytest.skip("the native call path is not available here")
    obj = objective(rosen)
    obj(X0)
    obj.hessp(X0, X0)
    assert type(obj.__call__).__name__ == "Dispatcher" and type(obj.hessp).__name__ == "Dispatcher"
    f, g = obj(X0)   # numpy in, (float, ndarray) out, in one C frame
    assert type(f) is float and type(g) is np.ndarray and obj._made["value_and_gradient"].hits == 1


def test_a_list_of_numbers_is_one_vector():
    result = minimize(rosen, [-1.2, 1.0], method="BFGS")
    assert result.success and isinstance(result.params, np.ndarray)
    np.testing.assert_allclose(result.params, [1.0, 1.0], atol=1e-5)


def test_without_the_native_path_and_on_the_numpy_backend(monkeypatch):
    from dlgrad.frontend.cache import clear_caches
    p = np.random.default_rng(3).standard_normal(10)
    for variable, value in (("DLGRAD_FASTCALL", "0"), ("DLGRAD_BACKEND", "numpy")):
        with monkeypatch.context() as m:
            m.setenv(variable, value)
            clear_caches()
            obj = objective(rosen)
            for _ in range(2):
                f, g = obj(X0)
                np.testing.assert_allclose(f, so.rosen(X0), rtol=1e-13)
                np.testing.assert_allclose(g, so.rosen_der(X0), rtol=1e-12)
                np.testing.assert_allclose(obj.hessp(X0, p), so.rosen_hess_prod(X0, p), rtol=1e-12, atol=1e-10)
            assert type(obj.__call__).__name__ != "Dispatcher"
    clear_caches()
