"""dlnetwork: layers, initialisation, Learnables/State tables, forward/predict, dlfeval sharing,
dlupdate, a short training run whose loss falls."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(3)
X = RNG.standard_normal((8, 32)).astype(np.float32)
LABELS = (X[0] + X[1] > 0).astype(int) + 2 * (X[2] > 0)
T = np.eye(4, dtype=np.float32)[:, LABELS]

MLP = [dl.featureInputLayer(8), dl.fullyConnectedLayer(16), dl.batchNormalizationLayer(),
       dl.reluLayer(), dl.dropoutLayer(0.25), dl.fullyConnectedLayer(4), dl.softmaxLayer()]


def model_loss(net, X, T, masks):
    Y, state = dl.forward(net, X, return_state=True, DropoutMasks=masks)
    loss = dl.crossentropy(Y, T)
    return loss, dl.dlgradient(loss, net.Learnables), state


def test_initialisation_is_glorot_seeded_and_named():
    net = dl.dlnetwork(MLP, seed=5)
    assert [r.Layer for r in net.Learnables] == ["fc", "fc", "batchnorm", "batchnorm", "fc_1", "fc_1"]
    assert net.Learnables.Parameter[:2] == ["Weights", "Bias"]
    W = dl.extractdata(net.Learnables["fc", "Weights"])
    assert W.shape == (16, 8) and W.dtype == np.float32
    assert np.abs(W).max() <= np.sqrt(6 / 24) and np.abs(W).max() > 0.5 * np.sqrt(6 / 24)
    assert not dl.extractdata(net.Learnables["fc", "Bias"]).any()
    np.testing.assert_array_equal(W, dl.extractdata(dl.dlnetwork(MLP, seed=5).Learnables[0].Value))
    assert not np.array_equal(W, dl.extractdata(dl.dlnetwork(MLP, seed=6).Learnables[0].Value))
    assert [r.Parameter for r in net.State] == ["TrainedMean", "TrainedVariance"]
    assert "fullyConnectedLayer(outputSize=16)" in net.summary()
    with pytest.raises(KeyError):
        net.Learnables["fc", "Nope"]


def test_training_run_loss_falls_and_networks_share_code():
    net = dl.dlnetwork(MLP, seed=0)
    Xd = dl.dlarray(X, "CB")
    cache_before = None
    avg_g = avg_sq = None
    losses = []
    for it in range(1, 31):
        masks = dl.dropout_masks(net, 32, rng=it)
        loss, grads, state = dl.dlfeval(model_loss, net, Xd, T, masks)
        assert isinstance(grads, dl.Learnables) and grads.Layer == net.Learnables.Layer
        net.State = state
        net, avg_g, avg_sq = dl.adamupdate(net, grads, avg_g, avg_sq, it, 0.05)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    # the running statistics moved away from their initial values
    assert np.abs(dl.extractdata(net.State["batchnorm", "TrainedMean"])).max() > 0
    accuracy = np.mean(np.argmax(dl.extractdata(dl.predict(net, Xd)), 0) == LABELS)
    assert accuracy > 0.8
    # another network of the same architecture reuses the compiled function
    from dlgrad.frontend.cache import cache_for
    cache = cache_for(model_loss)
    misses = cache.misses
    other = dl.dlnetwork(MLP, seed=9)
    dl.dlfeval(model_loss, other, Xd, T, dl.dropout_masks(other, 32, rng=0))
    assert cache.misses == misses


def test_forward_without_masks_drops_out_from_the_global_stream():
    """As MATLAB's forward: dropout layers draw their own masks (dl.rand), new ones on every call
    of a compiled function, the same after the same dl.rng(seed)."""
    net = dl.dlnetwork([dl.featureInputLayer(8), dl.dropoutLayer(0.5)])
    Xd = dl.dlarray(np.ones((8, 500), dtype=np.float32), "CB")
    dl.rng(4)
    eager = dl.extractdata(dl.forward(net, Xd))
    assert set(np.unique(eager)) == {0.0, 2.0} and abs((eager == 0).mean() - 0.5) < 0.02
    step = dl.dlaccelerate(lambda net, X: dl.forward(net, X))
    dl.rng(4)
    first, second = dl.extractdata(step(net, Xd)), dl.extractdata(step(net, Xd))
    np.testing.assert_array_equal(first, eager)   # the first draw of a call is the eager one
    assert not np.array_equal(first, second)
    assert dl.predict(net, Xd).shape == (8, 500)


def test_dlupdate_on_network_and_structures():
    net = dl.dlnetwork(MLP)
    halved = dl.dlupdate(lambda p: p * 0.5, net)
    np.testing.assert_allclose(dl.extractdata(halved.Learnables[0].Value),
                               0.5 * dl.extractdata(net.Learnables[0].Value))
    summed = dl.dlupdate(lambda a, b: a + b, {"a": np.ones(2)}, {"a": np.ones(2)})
    np.testing.assert_allclose(dl.extractdata(summed["a"]), 2)


CNN = [dl.imageInputLayer((8, 8, 1)), dl.convolution2dLayer(3, 4, Padding="same"),
       dl.batchNormalizationLayer(), dl.reluLayer(), dl.maxPooling2dLayer(2, Stride=2),
       dl.convolution2dLayer(3, 4), dl.layerNormalizationLayer(), dl.geluLayer(), dl.eluLayer(),
       dl.averagePooling2dLayer(2), dl.flattenLayer(), dl.fullyConnectedLayer(10),
       dl.leakyReluLayer(), dl.tanhLayer(), dl.sigmoidLayer(), dl.softmaxLayer()]


def test_cnn_forward_and_gradients():
    net = dl.dlnetwork(CNN, seed=1, dtype=np.float64)
    assert net.Learnables["conv", "Weights"].shape == (3, 3, 1, 4)
    assert net.Learnables["fc", "Weights"].shape == (10, 4)
    images = dl.dlarray(RNG.standard_normal((8, 8, 1, 5)), "SSCB")
    targets = np.eye(10)[:, [1, 2, 3, 4, 5]]
    loss, grads, _ = dl.dlfeval(model_loss, net, images, targets, None)
    eager = dl.crossentropy(dl.forward(net, images), targets)
    assert float(loss) == pytest.approx(float(eager), rel=1e-10)
    assert all(np.isfinite(dl.extractdata(g.Value)).all() for g in grads)
    assert dl.extractdata(grads["conv", "Weights"]).any()


def test_bad_network_inputs():
    with pytest.raises(ValueError, match="input layer"):
        dl.dlnetwork([dl.fullyConnectedLayer(3)])
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)])
    with pytest.raises(ValueError, match="features"):
        dl.predict(net, dl.dlarray(np.ones((4, 2)), "CB"))


def test_batchnorm_running_variance_convention():
    """Normalise with the population variance; update the running variance with the unbiased one."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 2, 5))              # S S C B: m = 3 * 4 * 5 values per channel
    X = dl.dlarray(x, "SSCB")
    offset, scale = np.zeros(2), np.ones(2)
    mean0, var0 = np.array([0.5, -0.5]), np.array([2.0, 3.0])
    y, mu, var = dl.batchnorm(X, offset, scale)
    pop_mean, pop_var = x.mean(axis=(0, 1, 3)), x.var(axis=(0, 1, 3))
    np.testing.assert_allclose(np.asarray(mu), pop_mean, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(var), pop_var, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(y), (x - pop_mean[:, None]) / np.sqrt(pop_var[:, None] + 1e-5),
                               rtol=1e-10, atol=1e-12)
    y2, run_mean, run_var = dl.batchnorm(X, offset, scale, mean0, var0, training=True,
                                         MeanDecay=0.3, VarianceDecay=0.2)
    np.testing.assert_allclose(np.asarray(y2), np.asarray(y), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(run_mean), 0.3 * pop_mean + 0.7 * mean0, rtol=1e-12)
    m = 3 * 4 * 5
    np.testing.assert_allclose(np.asarray(run_var), 0.2 * pop_var * m / (m - 1) + 0.8 * var0, rtol=1e-12)
