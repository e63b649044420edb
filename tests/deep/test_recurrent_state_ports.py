"""HasStateInputs / HasStateOutputs of lstmLayer, gruLayer and bilstmLayer (MATLAB's extra inputs
"hidden"/"cell" and outputs, connected by name in a layer graph: "enc/hidden" -> "dec/hidden")."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(30)
C, H, B, T = 3, 4, 2, 5
X = dl.dlarray(RNG.standard_normal((C, B, T)), "CBT")
Z = dl.dlarray(RNG.standard_normal((C, B, T)), "CBT")


def _weights(net, layer):
    return {r.Parameter: dl.extractdata(r.Value) for r in net.Learnables if r.Layer == layer}


def test_an_encoder_passes_its_final_states_to_a_decoder_by_name():
    g = dl.layerGraph([dl.sequenceInputLayer(C, name="x"),
                       dl.lstmLayer(H, HasStateOutputs=True, OutputMode="last", name="enc")])
    g = dl.addLayers(g, [dl.sequenceInputLayer(C, name="z"), dl.lstmLayer(H, HasStateInputs=True, name="dec"),
                         dl.fullyConnectedLayer(2, name="fc")])
    assert g.OutputNames == ["enc/out", "enc/hidden", "enc/cell", "fc"]
    g = dl.connectLayers(dl.connectLayers(g, "enc/hidden", "dec/hidden"), "enc/cell", "dec/cell")
    net = dl.dlnetwork(g, seed=0, dtype=np.float64)
    assert net.OutputNames == ["enc/out", "fc"] and net.InputNames == ["x", "z"]
    assert {r.Layer for r in net.State} == {"enc"}   # a layer with state inputs keeps no State
    last, hidden, cell, decoded = dl.predict(net, X, Z, Outputs=["enc", "enc/hidden", "enc/cell", "dec"])
    assert dl.dims(hidden) == dl.dims(cell) == "CB" and hidden.shape == cell.shape == (H, B)
    enc, dec = _weights(net, "enc"), _weights(net, "dec")
    _, h, c = dl.lstm(X, np.zeros(H), np.zeros(H), enc["InputWeights"], enc["RecurrentWeights"], enc["Bias"])
    want, _, _ = dl.lstm(Z, h, c, dec["InputWeights"], dec["RecurrentWeights"], dec["Bias"])
    np.testing.assert_allclose(dl.extractdata(hidden), dl.extractdata(h), rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(last), dl.extractdata(h), rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(cell), dl.extractdata(c), rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(decoded), dl.extractdata(want), rtol=1e-12)

    def loss(net, X, Z):   # gradients flow from the decoder into the encoder through the states
        value = dl.sum(dl.forward(net, X, Z, Outputs="fc") ** 2)
        return dl.dlgradient(value, net.Learnables)
    grads = dl.dlfeval(loss, net, X, Z)
    assert all(np.any(dl.extractdata(v) != 0) for layer, p, v in grads if layer == "enc" and p != "Bias")


@pytest.mark.parametrize("layer, states", [(dl.gruLayer, 1), (dl.bilstmLayer, 2)])
def test_state_inputs_from_the_network_inputs_and_state_outputs(layer, states):
    rows = 2 * H if layer is dl.bilstmLayer else H
    net = dl.dlnetwork(dl.layerGraph([dl.sequenceInputLayer(C, name="x"),
                                      layer(H, HasStateInputs=True, HasStateOutputs=True, name="r")]),
                       *[dl.dlarray(np.zeros((rows, 1)), "CB")] * states, seed=1, dtype=np.float64)
    ports = ["hidden", "cell"][:states]
    assert net.InputNames == ["x"] + [f"r/{p}" for p in ports]
    assert net.OutputNames == ["r/out"] + [f"r/{p}" for p in ports]
    starts = [dl.dlarray(RNG.standard_normal((rows, B)), "CB") for _ in range(states)]
    outs = dl.predict(net, X, *starts)
    w = _weights(net, "r")
    if layer is dl.gruLayer:
        want = dl.gru(X, starts[0], w["InputWeights"], w["RecurrentWeights"], w["Bias"])
    else:   # forward and backward directions, each from its half of the states
        f = dl.lstm(X, starts[0][:H], starts[1][:H], w["InputWeights"][:4 * H], w["RecurrentWeights"][:4 * H],
                    w["Bias"][:4 * H])
        want = [np.concatenate([dl.extractdata(f[k]), b], 0) for k, b in enumerate(_reverse_lstm(starts, w))]
    for got, expected in zip(outs, want):
        np.testing.assert_allclose(dl.extractdata(got), np.asarray(expected), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="input 'hidden' must have shape"):
        dl.predict(net, X, *[dl.dlarray(np.zeros((rows + 1, B)), "CB")] * states)


def _reverse_lstm(starts, w):
    """The backward direction of a bilstm: an lstm over the time-reversed sequence, re-reversed."""
    flipped = dl.dlarray(dl.extractdata(X)[:, :, ::-1], "CBT")
    y, h, c = dl.lstm(flipped, starts[0][H:], starts[1][H:], w["InputWeights"][4 * H:],
                      w["RecurrentWeights"][4 * H:], w["Bias"][4 * H:])
    return dl.extractdata(y)[:, :, ::-1], dl.extractdata(h), dl.extractdata(c)


def test_bad_values_and_unknown_ports_are_clear_errors():
    with pytest.raises(ValueError, match="HasStateOutputs must be true or false"):
        dl.lstmLayer(H, HasStateOutputs="yes")
    g = dl.layerGraph([dl.sequenceInputLayer(C, name="x"), dl.lstmLayer(H, name="a"),
                       dl.lstmLayer(H, HasStateInputs=True, name="b")])
    with pytest.raises(ValueError, match="has one output 'out'"):
        dl.connectLayers(g, "a/hidden", "b/hidden")
    with pytest.raises(ValueError, match=r"inputs \['in', 'hidden', 'cell'\]"):
        dl.connectLayers(g, "x", "b/state")
