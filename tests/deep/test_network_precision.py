"""A dlnetwork meeting data of the other float type computes in single, as MATLAB's single
combined with double is single (its class rules for arithmetic): a float32 network given float64
data answers in float32, and so does a float64 network given float32 data; gradients keep each
learnable's own type."""
import numpy as np

import dlgrad as dl

LAYERS = [dl.featureInputLayer(3), dl.fullyConnectedLayer(2, name="fc"), dl.batchNormalizationLayer(name="bn")]
X = np.random.default_rng(0).standard_normal((3, 4))


def _loss(net, x):
    y, state = dl.forward(net, x, return_state=True)
    loss = dl.sum(y * y)
    return loss, dl.dlgradient(loss, net.Learnables), state


def test_single_network_given_double_data_answers_in_single():
    net = dl.dlnetwork(LAYERS)   # float32 learnables
    x64 = dl.dlarray(X, "CB")
    for y in (dl.predict(net, x64), dl.forward(net, x64)):
        assert y.dtype == np.float32
    np.testing.assert_array_equal(dl.extractdata(dl.predict(net, x64)),
                                  dl.extractdata(dl.predict(net, dl.dlarray(X.astype(np.float32), "CB"))))
    loss, grads, state = dl.dlfeval(_loss, net, x64)
    assert loss.dtype == np.float32
    assert {g.dtype for g in grads.Value} == {np.dtype(np.float32)} == {v.dtype for v in state.Value}


def test_double_network_given_single_data_answers_in_single():
    net = dl.dlnetwork(LAYERS, dtype=np.float64)
    x32 = dl.dlarray(X.astype(np.float32), "CB")
    assert dl.predict(net, x32).dtype == np.float32
    loss, grads, _ = dl.dlfeval(_loss, net, x32)
    assert loss.dtype == np.float32
    assert {g.dtype for g in grads.Value} == {np.dtype(np.float64)}   # each learnable's own type
    assert dl.predict(net, dl.dlarray(X, "CB")).dtype == np.float64   # one type: unchanged
