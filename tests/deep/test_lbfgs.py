"""lbfgsupdate and lbfgsState: convergence, state fields, structures, option errors."""
import numpy as np
import pytest

import dlgrad as dl


def rosenbrock(x):
    loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    return loss, dl.dlgradient(loss, x)


@pytest.mark.parametrize("method", ["weak-wolfe", "strong-wolfe", "backtracking"])
def test_rosenbrock_converges_from_minus_one_two(method):
    x = dl.dlarray(np.array([-1.0, 2.0]))
    state = None
    loss_fcn = lambda x: dl.dlfeval(rosenbrock, x)  # noqa: E731
    for _ in range(50):
        x, state = dl.lbfgsupdate(x, loss_fcn, state, LineSearchMethod=method)
        if np.linalg.norm(np.asarray(x) - 1) < 1e-6:
            break
    assert isinstance(x, dl.dlarray)
    np.testing.assert_allclose(np.asarray(x), [1.0, 1.0], atol=1e-5)
    assert state.LineSearchStatus == "completed"
    assert state.Iteration <= 50


def test_state_fields():
    state = dl.lbfgsState()
    assert (state.HistorySize, state.InitialInverseHessianFactor, state.InitialStepSize) == (10, 1.0, None)
    assert state.Iteration == 0 and state.Loss is None and state.Gradients is None
    assert state.LineSearchStatus == "" and state.StepHistory == [] and state.HistoryIndices == []
    x = dl.dlarray(np.array([-1.0, 2.0]))
    calls = []

    def loss_fcn(x):
        calls.append(1)
        return dl.dlfeval(rosenbrock, x)

    x1, s1 = dl.lbfgsupdate(x, loss_fcn, dl.lbfgsState(HistorySize=3))
    assert s1.Iteration == 1 and s1.LineSearchStatus == "completed" and s1.StepSize > 0
    assert s1.LineSearchMethod == "weak-wolfe" and s1.MaximumNumLineSearchIterations == 20
    loss, grad = dl.dlfeval(rosenbrock, x1)
    np.testing.assert_allclose(float(np.asarray(s1.Loss)), float(np.asarray(loss)))
    np.testing.assert_allclose(np.asarray(s1.Gradients), np.asarray(grad))
    assert float(np.asarray(s1.Loss)) < 104.0            # the loss at [-1, 2]
    assert len(s1.StepHistory) == len(s1.GradientsDifferenceHistory) == 1
    np.testing.assert_allclose(s1.StepHistory[0], np.asarray(x1) - np.asarray(x))
    assert state.Iteration == 0                          # the given state is not modified
    n = len(calls)
    x2, s2 = dl.lbfgsupdate(x1, loss_fcn, s1)
    assert s2.Iteration == 2 and s1.Iteration == 1
    assert len(calls) - n <= 20                          # no evaluation at the start point again
    s = s2
    for _ in range(5):
        x2, s = dl.lbfgsupdate(x2, loss_fcn, s)
    assert len(s.StepHistory) <= 3 and s.HistoryIndices == list(range(len(s.StepHistory)))


def test_initial_step_size_scales_the_first_step():
    x = dl.dlarray(np.array([-1.0, 2.0]))
    loss_fcn = lambda x: dl.dlfeval(rosenbrock, x)  # noqa: E731
    _, state = dl.lbfgsupdate(x, loss_fcn, None, InitialStepSize=0.01)
    assert state.InitialStepSize == 0.01
    # lambda_0 = 0.01 / ||g||_inf: the first trial step is 0.01 long in the largest component
    np.testing.assert_allclose(np.max(np.abs(state.StepHistory[0])), 0.01 * state.StepSize)


def test_regression_network_loss_falls():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (3, 64))
    T = np.sin(X.sum(axis=0, keepdims=True))
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(16), dl.tanhLayer(),
                        dl.fullyConnectedLayer(1)], seed=1, dtype=np.float64)
    Xd, Td = dl.dlarray(X, "CB"), dl.dlarray(T, "CB")

    def model_loss(net, X, T):
        loss = dl.mse(dl.forward(net, X), T)
        return loss, dl.dlgradient(loss, net.Learnables)

    loss_fcn = lambda net: dl.dlfeval(model_loss, net, Xd, Td)  # noqa: E731
    first = float(np.asarray(loss_fcn(net)[0]))
    state = dl.lbfgsState()
    for _ in range(30):
        net, state = dl.lbfgsupdate(net, loss_fcn, state)
    assert isinstance(net, dl.dlnetwork)
    assert isinstance(state.Gradients, dl.Learnables)
    last = float(np.asarray(state.Loss))
    assert last < 0.05 * first
    np.testing.assert_allclose(float(np.asarray(loss_fcn(net)[0])), last, rtol=1e-12)


def test_nested_float32_parameters_keep_structure_and_dtype():
    params = {"w": dl.dlarray(np.array([3.0, -2.0], np.float32)), "b": [np.ones((1, 1), np.float32)]}

    def quadratic(p):
        loss = dl.sum((p["w"] - 1) ** 2) + dl.sum(p["b"][0] ** 2)
        return loss, dl.dlgradient(loss, p)

    state = None
    for _ in range(5):
        params, state = dl.lbfgsupdate(params, lambda p: dl.dlfeval(quadratic, p), state)
    assert set(params) == {"w", "b"} and np.asarray(params["w"]).dtype == np.float32
    np.testing.assert_allclose(np.asarray(params["w"]), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(params["b"][0]), 0.0, atol=1e-5)


def test_extra_loss_function_outputs_are_kept():
    def loss_and_more(x):
        loss, g = rosenbrock(x)
        return loss, g, x[0] * 2
    x, state = dl.lbfgsupdate(dl.dlarray(np.array([-1.0, 2.0])), lambda x: dl.dlfeval(loss_and_more, x))
    assert len(state.AdditionalLossFunctionOutputs) == 1
    np.testing.assert_allclose(np.asarray(state.AdditionalLossFunctionOutputs[0]), 2 * np.asarray(x)[0])


def test_bad_options_are_clear_errors():
    x = dl.dlarray(np.array([-1.0, 2.0]))
    loss_fcn = lambda x: dl.dlfeval(rosenbrock, x)  # noqa: E731
    with pytest.raises(ValueError, match="LineSearchMethod"):
        dl.lbfgsupdate(x, loss_fcn, None, LineSearchMethod="wolfe")
    with pytest.raises(ValueError, match="MaximumNumLineSearchIterations"):
        dl.lbfgsupdate(x, loss_fcn, None, MaximumNumLineSearchIterations=0)
    with pytest.raises(ValueError, match="HistorySize"):
        dl.lbfgsState(HistorySize=0)
    with pytest.raises(ValueError, match="InitialInverseHessianFactor"):
        dl.lbfgsState(InitialInverseHessianFactor=-1)
    with pytest.raises(ValueError, match="InitialStepSize"):
        dl.lbfgsState(InitialStepSize="big")
    with pytest.raises(ValueError, match="belong to lbfgsState"):
        dl.lbfgsupdate(x, loss_fcn, dl.lbfgsState(), HistorySize=5)
    with pytest.raises(TypeError, match="unknown option .Foo."):
        dl.lbfgsupdate(x, loss_fcn, None, Foo=1)
    with pytest.raises(TypeError, match="solverState"):
        dl.lbfgsupdate(x, loss_fcn, {})
    with pytest.raises(TypeError, match=r"\(loss, gradients\)"):
        dl.lbfgsupdate(x, lambda x: dl.dlfeval(lambda x: dl.sum(x * x), x))
    with pytest.raises(ValueError, match="gradient arrays"):
        dl.lbfgsupdate(x, lambda x: (dl.sum(x * x), [x, x]))
    with pytest.raises(ValueError, match="scalar"):
        dl.lbfgsupdate(x, lambda x: (x, x))


def test_failed_line_search_is_reported_and_does_not_move():
    x = dl.dlarray(np.array([1.0]))
    # a "gradient" pointing the wrong way: no step along -g lowers the loss
    x2, state = dl.lbfgsupdate(x, lambda x: (dl.sum(x * x), -2 * x), None, MaximumNumLineSearchIterations=5)
    assert state.LineSearchStatus == "failed" and state.StepSize == 0
    np.testing.assert_array_equal(np.asarray(x2), [1.0])
