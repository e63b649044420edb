"""lstmLayer, gruLayer and bilstmLayer: MATLAB's learnables and initializers, the functions they wrap,
State carried between calls and reset, and training in a layer list and a layer graph."""
import numpy as np
import pytest

import dlgrad as dl

from .test_recurrent import gru_reference, lstm_reference

C, B, T, H = 3, 2, 6, 4
X = np.random.default_rng(5).standard_normal((C, B, T))


def network(layer, dtype=np.float64):
    return dl.dlnetwork([dl.sequenceInputLayer(C), layer], dtype=dtype, seed=1)


def values(net, layer):
    return {r.Parameter: dl.extractdata(r.Value) for r in net.Learnables if r.Layer == layer}


def test_lstm_layer_learnables_state_and_initializers_are_matlabs():
    net = network(dl.lstmLayer(H, name="lstm"))
    p = values(net, "lstm")
    assert {k: v.shape for k, v in p.items()} == {"InputWeights": (4 * H, C), "RecurrentWeights": (4 * H, H),
                                                  "Bias": (4 * H, 1)}
    assert [(r.Layer, r.Parameter, r.Value.shape) for r in net.State] == [("lstm", "HiddenState", (H, 1)),
                                                                         ("lstm", "CellState", (H, 1))]
    np.testing.assert_array_equal(p["Bias"].ravel(), np.repeat([0.0, 1.0, 0.0, 0.0], H))   # unit-forget-gate
    np.testing.assert_allclose(p["RecurrentWeights"].T @ p["RecurrentWeights"], np.eye(H), atol=1e-12)  # orthogonal
    bound = np.sqrt(6 / (C + 4 * H))                                                         # glorot
    assert np.abs(p["InputWeights"]).max() <= bound and np.abs(p["InputWeights"]).max() > bound / 2
    gru = values(network(dl.gruLayer(H, ResetGateMode="recurrent-bias-after-multiplication", name="g")), "g")
    assert gru["InputWeights"].shape == (3 * H, C) and gru["Bias"].shape == (6 * H, 1) and not gru["Bias"].any()
    bi = network(dl.bilstmLayer(H, name="bi"))
    weights = values(bi, "bi")["InputWeights"]
    assert weights.shape == (8 * H, C) and np.abs(weights).max() <= np.sqrt(6 / (C + 8 * H))   # numOut = 8H
    assert [r.Value.shape for r in bi.State] == [(2 * H, 1), (2 * H, 1)]


@pytest.mark.parametrize("mode", ["sequence", "last"])
def test_layers_compute_the_functions_they_wrap(mode):
    x = dl.dlarray(X, "CBT")
    net = network(dl.lstmLayer(H, OutputMode=mode, name="lstm"))
    p = values(net, "lstm")
    want_y, want_h, _ = lstm_reference(X, np.zeros((H, B)), np.zeros((H, B)), p["InputWeights"],
                                       p["RecurrentWeights"], p["Bias"].ravel())
    y = dl.predict(net, x)
    assert dl.dims(y) == ("CBT" if mode == "sequence" else "CB")
    np.testing.assert_allclose(dl.extractdata(y), want_y if mode == "sequence" else want_h, rtol=1e-12, atol=1e-12)

    gnet = network(dl.gruLayer(H, OutputMode=mode, ResetGateMode="recurrent-bias-after-multiplication",
                               BiasInitializer="narrow-normal", name="g"))
    g = values(gnet, "g")
    want_y, want_h = gru_reference(X, np.zeros((H, B)), g["InputWeights"], g["RecurrentWeights"], g["Bias"].ravel(),
                                   "recurrent-bias-after-multiplication")
    np.testing.assert_allclose(dl.extractdata(dl.predict(gnet, x)), want_y if mode == "sequence" else want_h,
                               rtol=1e-12, atol=1e-12)


def test_bilstm_runs_forward_and_reverse_and_concatenates():
    net = network(dl.bilstmLayer(H, name="bi"))
    p = values(net, "bi")
    W, R, b = p["InputWeights"], p["RecurrentWeights"], p["Bias"].ravel()
    zeros = np.zeros((H, B))
    forward, hf, _ = lstm_reference(X, zeros, zeros, W[:4 * H], R[:4 * H], b[:4 * H])
    backward, hb, _ = lstm_reference(X[:, :, ::-1], zeros, zeros, W[4 * H:], R[4 * H:], b[4 * H:])
    y, state = dl.forward(net, dl.dlarray(X, "CBT"), return_state=True)
    assert y.shape == (2 * H, B, T)
    np.testing.assert_allclose(dl.extractdata(y), np.concatenate([forward, backward[:, :, ::-1]]), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(state[0].Value), np.concatenate([hf, hb]), rtol=1e-12, atol=1e-12)
    last = network(dl.bilstmLayer(H, OutputMode="last", name="bi"))
    np.testing.assert_allclose(dl.extractdata(dl.predict(last, dl.dlarray(X, "CBT"))), np.concatenate([hf, hb]),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", [dl.lstmLayer(H, name="r"), dl.gruLayer(H, name="r")])
def test_state_carries_a_sequence_across_calls_and_reset_state_clears_it(layer):
    net = network(layer)
    whole = dl.extractdata(dl.forward(net, dl.dlarray(X, "CBT")))
    first, state = dl.forward(net, dl.dlarray(X[:, :, :2], "CBT"), return_state=True)
    assert state[0].Value.shape == (H, B)
    net.State = state
    second = dl.forward(net, dl.dlarray(X[:, :, 2:], "CBT"))
    np.testing.assert_allclose(np.concatenate([dl.extractdata(first), dl.extractdata(second)], 2), whole,
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="resetState"):
        dl.forward(net, dl.dlarray(X[:, :1], "CBT"))          # a state of 2 observations, data of 1
    net = dl.resetState(net)
    assert all(r.Value.shape == (H, 1) and not dl.extractdata(r.Value).any() for r in net.State)
    np.testing.assert_allclose(dl.extractdata(dl.forward(net, dl.dlarray(X, "CBT"))), whole, rtol=1e-12)


def _train(net, x, targets, steps=40):
    def loss_fn(net, x, t):
        loss = dl.crossentropy(dl.softmax(dl.forward(net, x)), t)
        return loss, dl.dlgradient(loss, net.Learnables)
    m = v = None
    losses = []
    for it in range(1, steps + 1):
        loss, grad = dl.dlfeval(loss_fn, net, x, targets)
        net, m, v = dl.adamupdate(net, grad, m, v, it, 0.05)
        losses.append(float(dl.extractdata(loss)))
    return losses


def test_sequence_classifiers_train_from_a_layer_list_and_a_layer_graph():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((C, 8, T)).astype(np.float32)
    labels = (x[0].sum(1) > 0).astype(int)            # needs the whole sequence
    targets = dl.dlarray(np.eye(2, dtype=np.float32)[labels].T, "CB")
    xs = dl.dlarray(x, "CBT")
    net = dl.dlnetwork([dl.sequenceInputLayer(C), dl.lstmLayer(8, OutputMode="last"), dl.fullyConnectedLayer(2)])
    losses = _train(net, xs, targets)
    assert losses[-1] < 0.3 * losses[0]
    g = dl.layerGraph([dl.sequenceInputLayer(C, name="in"), dl.bilstmLayer(4, name="bi"),
                       dl.concatenationLayer(0, 2, name="cat"), dl.gruLayer(6, OutputMode="last", name="gru"),
                       dl.fullyConnectedLayer(2, name="fc")])
    g = dl.addLayers(g, dl.gruLayer(3, name="side"))
    g = dl.connectLayers(g, "in", "side")
    g = dl.connectLayers(g, "side", "cat/in2")
    losses = _train(dl.dlnetwork(g), xs, targets)
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("make, message", [
    (lambda: dl.lstmLayer(0), "numHiddenUnits"),
    (lambda: dl.lstmLayer(4, OutputMode="all"), "OutputMode"),
    (lambda: dl.lstmLayer(4, StateActivationFunction="sigmoid"), "StateActivationFunction"),
    (lambda: dl.gruLayer(4, ResetGateMode="before"), "ResetGateMode"),
    (lambda: dl.gruLayer(4, BiasInitializer="unit-forget-gate"), "BiasInitializer"),
    (lambda: dl.bilstmLayer(4, RecurrentWeightsInitializer="identity"), "RecurrentWeightsInitializer"),
])
def test_bad_options_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_checkpoint_keeps_the_layers_and_their_state(tmp_path):
    net = network(dl.bilstmLayer(H, OutputMode="last", name="bi"))
    _, state = dl.forward(net, dl.dlarray(X, "CBT"), return_state=True)
    net.State = state
    dl.save_checkpoint(tmp_path / "net.npz", net)
    back = dl.load_checkpoint(tmp_path / "net.npz")
    assert back.Layers == net.Layers
    np.testing.assert_array_equal(dl.extractdata(dl.predict(back, dl.dlarray(X, "CBT"))),
                                  dl.extractdata(dl.predict(net, dl.dlarray(X, "CBT"))))
