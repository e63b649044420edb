"""imageInputLayer normalisation: zerocenter, zscore, rescale, none; statistics checks."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(3)
X = RNG.uniform(0, 4, (4, 5, 2, 6))


def _out(layer, x=X):
    net = dl.dlnetwork([layer])
    y = dl.predict(net, dl.dlarray(x, "SSCB"))
    assert dl.dims(y) == "SSCB"
    return np.asarray(y)


def test_default_is_zerocenter_and_without_mean_changes_nothing():
    layer = dl.imageInputLayer((4, 5, 2))
    assert layer.Normalization == "zerocenter" and layer.Mean is None
    np.testing.assert_allclose(_out(layer), X.astype(np.float32), rtol=1e-6)


def test_zerocenter_with_per_pixel_mean():
    mean = X.mean(axis=-1)
    y = _out(dl.imageInputLayer((4, 5, 2), Mean=mean))
    np.testing.assert_allclose(y, X - mean[..., None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)


@pytest.mark.parametrize("shape", [(2,), (1, 1, 2)])
def test_zscore_per_channel(shape):
    mean = X.mean(axis=(0, 1, 3))
    std = X.std(axis=(0, 1, 3))
    layer = dl.imageInputLayer((4, 5, 2), Normalization="zscore", Mean=mean.reshape(shape),
                               StandardDeviation=std.reshape(shape))
    y = _out(layer)
    np.testing.assert_allclose(y, (X - mean[:, None]) / std[:, None], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1, 3)), 1, rtol=1e-4)


def test_rescale_and_none():
    lo, hi = X.min(), X.max()
    y = _out(dl.imageInputLayer((4, 5, 2), Normalization="rescale-zero-one", Min=lo, Max=hi))
    np.testing.assert_allclose(y, (X - lo) / (hi - lo), rtol=1e-5, atol=1e-6)
    y = _out(dl.imageInputLayer((4, 5, 2), Normalization="rescale-symmetric", Min=lo, Max=hi))
    np.testing.assert_allclose(y, 2 * (X - lo) / (hi - lo) - 1, rtol=1e-5, atol=1e-6)
    y = _out(dl.imageInputLayer((4, 5, 2), Normalization="none", Mean=5.0))
    np.testing.assert_allclose(y, X.astype(np.float32))


def test_normalization_inside_dlfeval_and_equal_layers_share_code():
    mean = X.mean(axis=-1)
    layers = lambda: [dl.imageInputLayer((4, 5, 2), Mean=mean), dl.flattenLayer(),  # noqa: E731
                      dl.fullyConnectedLayer(3)]
    net, net2 = dl.dlnetwork(layers(), seed=1), dl.dlnetwork(layers(), seed=2)
    assert net.Layers[0] == net2.Layers[0] and hash(net.Layers[0]) == hash(net2.Layers[0])

    def loss(net, x):
        value = dl.sum(dl.forward(net, x))
        return value, dl.dlgradient(value, net.Learnables)

    x2 = X ** 2                               # not centred by `mean`
    value, grads = dl.dlfeval(loss, net, dl.dlarray(x2, "SSCB"))
    plain = dl.dlnetwork([dl.imageInputLayer((4, 5, 2), Normalization="none"), dl.flattenLayer(),
                          dl.fullyConnectedLayer(3)], seed=1)   # the same weights as net
    value0, grads0 = dl.dlfeval(loss, plain, dl.dlarray(x2 - mean[..., None], "SSCB"))
    assert abs(float(np.asarray(value))) > 1
    np.testing.assert_allclose(float(np.asarray(value)), float(np.asarray(value0)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grads["fc", "Weights"]), np.asarray(grads0["fc", "Weights"]),
                               rtol=1e-5, atol=1e-4)


def test_bad_statistics_and_modes_are_clear_errors():
    with pytest.raises(ValueError, match="Normalization must be one of"):
        dl.imageInputLayer((4, 5, 2), Normalization="center")
    with pytest.raises(ValueError, match=r"Mean of shape \(3,\) does not fit images of size \(4, 5, 2\)"):
        dl.imageInputLayer((4, 5, 2), Mean=np.zeros(3))
    with pytest.raises(ValueError, match="StandardDeviation must be positive"):
        dl.imageInputLayer((4, 5, 2), Normalization="zscore", StandardDeviation=0.0)
    with pytest.raises(ValueError, match="inputSize"):
        dl.imageInputLayer((4,))
