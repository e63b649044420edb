"""dlnetwork from a layer graph: branches, several inputs and outputs, initialisation on demand,
resetState, and per-parameter learn-rate and L2 factors honoured by the update functions."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 6))


def residual_graph():
    """input -> fc -> relu -> add <- skip <- input; add -> head (MATLAB's addLayers/connectLayers)."""
    g = dl.layerGraph([dl.featureInputLayer(4), dl.fullyConnectedLayer(5), dl.reluLayer(),
                       dl.additionLayer(2, name="add"), dl.fullyConnectedLayer(3, name="head")])
    g = dl.addLayers(g, dl.fullyConnectedLayer(5, name="skip"))
    g = dl.connectLayers(g, "input", "skip")
    return dl.connectLayers(g, "skip", "add/in2")


def numpy_residual(net, x):
    p = {(r.Layer, r.Parameter): dl.extractdata(r.Value) for r in net.Learnables}
    h = np.maximum(p["fc", "Weights"] @ x + p["fc", "Bias"], 0)
    s = p["skip", "Weights"] @ x + p["skip", "Bias"]
    return p["head", "Weights"] @ (h + s) + p["head", "Bias"], h + s


@pytest.fixture(scope="module")
def net():
    return dl.dlnetwork(residual_graph(), seed=3, dtype=np.float64)


def test_branches_match_a_numpy_reference(net):
    assert net.InputNames == ["input"] and net.OutputNames == ["head"]
    y = dl.predict(net, dl.dlarray(X, "CB"))
    ref, added = numpy_residual(net, X)
    assert dl.dims(y) == "CB"
    np.testing.assert_allclose(dl.extractdata(y), ref, rtol=1e-12)
    head, add = dl.predict(net, dl.dlarray(X, "CB"), Outputs=["head", "add/out"])
    np.testing.assert_allclose(dl.extractdata(add), added, rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(head), ref, rtol=1e-12)


def loss(net, x):
    y = dl.forward(net, x)
    value = dl.sum(y * y)
    return value, dl.dlgradient(value, net.Learnables)


def test_gradient_through_both_branches_matches_finite_differences(net):
    _, grad = dl.dlfeval(loss, net, dl.dlarray(X, "CB"))
    for row, g in zip(net.Learnables, grad):
        if row.Layer != "skip":
            continue
        w = dl.extractdata(row.Value).copy()
        k, h = np.unravel_index(1, w.shape), 1e-6

        def value(delta):
            w2 = w.copy()
            w2[k] += delta
            table = net.Learnables.map(lambda v: v)
            table._values[[i for i, r in enumerate(net.Learnables) if r[:2] == row[:2]][0]] = dl.dlarray(w2)
            return float(np.sum(dl.extractdata(dl.predict(net.with_learnables(table), dl.dlarray(X, "CB"))) ** 2))
        fd = (value(h) - value(-h)) / (2 * h)
        assert abs(dl.extractdata(g.Value)[k] - fd) < 1e-6 * max(1, abs(fd))


def test_residual_block_with_conv_and_batchnorm_trains():
    g = dl.layerGraph([dl.imageInputLayer((6, 6, 2), Normalization="none"),
                       dl.convolution2dLayer(3, 4, Padding="same"), dl.batchNormalizationLayer(),
                       dl.reluLayer(name="relu1"), dl.convolution2dLayer(3, 4, Padding="same", name="conv2"),
                       dl.additionLayer(2, name="add"), dl.reluLayer(name="relu2"), dl.flattenLayer(),
                       dl.fullyConnectedLayer(2)])
    g = dl.connectLayers(g, "relu1", "add/in2")
    net = dl.dlnetwork(g, seed=0)
    x = dl.dlarray(RNG.standard_normal((6, 6, 2, 8)).astype(np.float32), "SSCB")
    t = dl.dlarray(np.eye(2, dtype=np.float32)[:, RNG.integers(0, 2, 8)], "CB")

    def step(net, x, t):
        y, state = dl.forward(net, x, return_state=True)
        l = dl.mse(y, t)
        return l, dl.dlgradient(l, net.Learnables), state

    losses, m, v = [], None, None
    for it in range(1, 16):
        l, grad, state = dl.dlfeval(step, net, x, t)
        net.State = state
        net, m, v = dl.adamupdate(net, grad, m, v, it, 0.01)
        losses.append(float(dl.extractdata(l)))
    assert losses[-1] < 0.5 * losses[0]
    assert not np.allclose(dl.extractdata(net.State["batchnorm", "TrainedMean"]), 0)
    reset = dl.resetState(net)
    np.testing.assert_array_equal(dl.extractdata(reset.State["batchnorm", "TrainedMean"]), 0)
    np.testing.assert_array_equal(dl.extractdata(reset.State["batchnorm", "TrainedVariance"]), 1)
    assert reset.Learnables is net.Learnables


def test_two_inputs_and_concatenation():
    g = dl.layerGraph([dl.featureInputLayer(3, name="a"), dl.concatenationLayer(0, 2, name="cat"),
                       dl.fullyConnectedLayer(2, name="fc")])
    g = dl.addLayers(g, dl.featureInputLayer(2, name="b"))
    g = dl.connectLayers(g, "b", "cat/in2")
    net = dl.dlnetwork(g, seed=1, dtype=np.float64)
    assert net.InputNames == ["a", "b"]
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    y = dl.predict(net, dl.dlarray(a, "CB"), dl.dlarray(b, "CB"))
    W, B = (dl.extractdata(net.Learnables["fc", k]) for k in ("Weights", "Bias"))
    np.testing.assert_allclose(dl.extractdata(y), W @ np.vstack([a, b]) + B, rtol=1e-12)
    with pytest.raises(ValueError, match="2 inputs"):
        dl.predict(net, dl.dlarray(a, "CB"))


def test_network_without_input_layer_takes_example_inputs():
    layers = [dl.fullyConnectedLayer(3), dl.reluLayer()]
    with pytest.raises(ValueError, match="example inputs"):
        dl.dlnetwork(layers)
    x = dl.dlarray(np.ones((5, 1), np.float32), "CB")
    net = dl.dlnetwork(layers, x)
    assert net.InputNames == ["fc"] and net.Learnables["fc", "Weights"].shape == (3, 5)
    lazy = dl.dlnetwork(layers, Initialize=False)
    assert not lazy.Initialized
    with pytest.raises(ValueError, match="not initialized"):
        dl.predict(lazy, x)
    ready = dl.initialize(lazy, x)
    assert ready.Initialized
    np.testing.assert_array_equal(dl.extractdata(ready.Learnables[0].Value),
                                  dl.extractdata(net.Learnables[0].Value))


def test_initialize_false_then_initialize_equals_direct_construction():
    layers = [dl.featureInputLayer(4), dl.fullyConnectedLayer(3)]
    lazy = dl.dlnetwork(layers, Initialize=False, seed=4)
    assert "uninitialized" in repr(lazy)
    with pytest.raises(ValueError, match="uninitialized"):
        dl.dlfeval(loss, lazy, dl.dlarray(X, "CB"))
    ready, direct = dl.initialize(lazy), dl.dlnetwork(layers, seed=4)
    for a, b in zip(ready.Learnables, direct.Learnables):
        np.testing.assert_array_equal(dl.extractdata(a.Value), dl.extractdata(b.Value))
    assert dl.initialize(ready) is ready


@pytest.mark.parametrize("build, message", [
    (lambda g: dl.connectLayers(dl.disconnectLayers(g, "input", "fc"), "head", "fc"), "cycle"),
    (lambda g: dl.connectLayers(g, "input", "add/in1"), "already connected"),
    (lambda g: dl.connectLayers(g, "nope", "head"), "no layer named 'nope'"),
    (lambda g: dl.connectLayers(g, "input", "add/in3"), "has inputs"),
    (lambda g: dl.connectLayers(g, "fc", "input"), "input layer"),
    (lambda g: dl.addLayers(g, dl.reluLayer(name="fc")), "unique"),
])
def test_bad_graphs_are_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        dl.dlnetwork(build(residual_graph()))


def test_disconnect_and_remove_layers():
    g = dl.disconnectLayers(residual_graph(), "skip", "add/in2")
    with pytest.raises(ValueError, match="example inputs"):
        dl.dlnetwork(g)      # add/in2 is now a network input without an input layer
    g = dl.removeLayers(g, ["skip", "add"])
    assert [l.name for l in g.Layers] == ["input", "fc", "relu", "head"]
    assert g.OutputNames == ["relu", "head"]


def test_learn_rate_factor_scales_and_freezes(net):
    _, grad = dl.dlfeval(loss, net, dl.dlarray(X, "CB"))
    frozen = dl.setLearnRateFactor(net, "fc", "Weights", 0)
    doubled = dl.setLearnRateFactor(net, "fc/Bias", 2)
    assert dl.getLearnRateFactor(doubled, "fc", "Bias") == 2 and dl.getLearnRateFactor(net, "fc", "Bias") == 1
    plain, _ = dl.sgdmupdate(net, grad, None, 0.1)
    a, _ = dl.sgdmupdate(frozen, grad, None, 0.1)
    b, _ = dl.sgdmupdate(doubled, grad, None, 0.1)
    old = {k: dl.extractdata(v) for k, v in zip(net.Learnables._keys, net.Learnables.Value)}
    g = {k: dl.extractdata(v) for k, v in zip(net.Learnables._keys, grad.Value)}
    np.testing.assert_array_equal(dl.extractdata(a.Learnables["fc", "Weights"]), old["fc", "Weights"])
    np.testing.assert_allclose(dl.extractdata(b.Learnables["fc", "Bias"]),
                               old["fc", "Bias"] - 0.2 * g["fc", "Bias"], rtol=1e-12)
    np.testing.assert_array_equal(dl.extractdata(b.Learnables["head", "Weights"]),
                                  dl.extractdata(plain.Learnables["head", "Weights"]))


def test_l2_regularization_uses_matlab_default_factors(net):
    _, grad = dl.dlfeval(loss, net, dl.dlarray(X, "CB"))
    lam, lr = 0.5, 0.1
    assert dl.getL2Factor(net, "fc", "Weights") == 1 and dl.getL2Factor(net, "fc", "Bias") == 0
    new, _ = dl.sgdmupdate(net, grad, None, lr, L2Regularization=lam)
    biased, _ = dl.sgdmupdate(dl.setL2Factor(net, "fc", "Bias", 3), grad, None, lr, L2Regularization=lam)
    old = {k: dl.extractdata(v) for k, v in zip(net.Learnables._keys, net.Learnables.Value)}
    g = {k: dl.extractdata(v) for k, v in zip(net.Learnables._keys, grad.Value)}
    for key in (("fc", "Weights"), ("head", "Weights")):
        np.testing.assert_allclose(dl.extractdata(new.Learnables[key]),
                                   old[key] - lr * (g[key] + lam * old[key]), rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(new.Learnables["fc", "Bias"]),
                               old["fc", "Bias"] - lr * g["fc", "Bias"], rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(biased.Learnables["fc", "Bias"]),
                               old["fc", "Bias"] - lr * (g["fc", "Bias"] + 3 * lam * old["fc", "Bias"]),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="nonnegative"):
        dl.setL2Factor(net, "fc", "Bias", -1)
    with pytest.raises(ValueError, match="no learnable 'Offset'"):
        dl.setLearnRateFactor(net, "fc", "Offset", 1)


def test_factors_inside_a_compiled_training_step(net):
    frozen = dl.setLearnRateFactor(net, "head", "Weights", 0)

    def step(net, x, it, m, v):
        _, grad = loss(net, x)
        return dl.adamupdate(net, grad, m, v, it, 0.01, L2Regularization=0.1)

    new, m, v = dl.dlfeval(step, frozen, dl.dlarray(X, "CB"), dl.dlarray(1.0), None, None)
    eager, _, _ = dl.adamupdate(frozen, dl.dlfeval(loss, frozen, dl.dlarray(X, "CB"))[1], None, None, 1, 0.01,
                                L2Regularization=0.1)
    np.testing.assert_array_equal(dl.extractdata(new.Learnables["head", "Weights"]),
                                  dl.extractdata(net.Learnables["head", "Weights"]))
    for a, b in zip(new.Learnables.Value, eager.Learnables.Value):
        np.testing.assert_allclose(dl.extractdata(a), dl.extractdata(b), rtol=1e-10)
