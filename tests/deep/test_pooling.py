"""maxpool, avgpool, maxunpool and the pooling layers: values against a brute-force numpy
reference, gradients against central finite differences, MATLAB's options and conventions."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dlgrad as dl

FORMATS = {1: "SCB", 2: "SSCB", 3: "SSSCB"}


def reference(x, d, window, stride, pads, kind):
    """Pooling of (S.., C, B) data by explicit windows over a padded copy (-inf or 0 padding)."""
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, [tuple(p) for p in pads] + [(0, 0)] * (x.ndim - d), constant_values=fill)
    sizes = [(n + lo + hi - k) // s + 1 for n, k, s, (lo, hi) in zip(x.shape, window, stride, pads)]
    y = np.empty(sizes + list(x.shape[d:]), dtype=np.float64)
    for o in np.ndindex(*sizes):
        win = xp[tuple(slice(i * s, i * s + k) for i, s, k in zip(o, stride, window))]
        y[o] = win.max(axis=tuple(range(d))) if kind == "max" else win.sum(axis=tuple(range(d))) / np.prod(window)
    return y


@st.composite
def geometries(draw):
    d = draw(st.sampled_from([1, 2, 3]))
    window = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    pads = tuple((draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for k in window)
    size = tuple(draw(st.integers(1, 6 if d < 3 else 4)) for _ in range(d))
    for n, k, (lo, hi) in zip(size, window, pads):
        assume(n + lo + hi >= k)
    channels, batch = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    return d, size + (channels, batch), window, stride, pads


def _objective(x, u, v, window, stride, padding):
    """The pooled values and the gradient of a weighted sum of both (window etc. static)."""
    ymax = dl.maxpool(x, window, Stride=stride, Padding=padding)
    yavg = dl.avgpool(x, window, Stride=stride, Padding=padding)
    loss = dl.sum(dl.stripdims(ymax) * u) + dl.sum(dl.stripdims(yavg) * v)
    return ymax, yavg, dl.dlgradient(loss, x)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometries(), st.integers(0, 2**31 - 1))
def test_values_and_gradients_match_a_brute_force_reference(geometry, seed):
    """Random window/stride/padding in 1-D, 2-D and 3-D: compiled values in float64 and float32
    against explicit windows, the gradient against central differences of the reference."""
    d, shape, window, stride, pads = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    want_max, want_avg = reference(x, d, window, stride, pads, "max"), reference(x, d, window, stride, pads, "avg")
    u, v = rng.standard_normal(want_max.shape), rng.standard_normal(want_avg.shape)
    padding = tuple(zip(*pads))   # MATLAB's [t l; b r]: the first row holds the starts
    objective = lambda *args: _objective(*args, window, stride, padding)   # noqa: E731  (a program per example)
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        xd = dl.dlarray(x.astype(dtype), FORMATS[d])
        ymax, yavg, grad = dl.dlfeval(objective, xd, u.astype(dtype), v.astype(dtype))
        assert dl.dims(ymax) == FORMATS[d] and ymax.dtype == np.dtype(dtype)
        np.testing.assert_allclose(dl.extractdata(ymax), want_max, rtol=tol, atol=tol)
        np.testing.assert_allclose(dl.extractdata(yavg), want_avg, rtol=tol, atol=tol)
    direction = rng.standard_normal(shape)

    def f(z):
        return (np.sum(u * reference(z, d, window, stride, pads, "max"))
                + np.sum(v * reference(z, d, window, stride, pads, "avg")))
    eps = 1e-6
    numeric = (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)
    ymax, yavg, grad = dl.dlfeval(objective, dl.dlarray(x, FORMATS[d]), u, v)
    assert np.isclose(np.sum(dl.extractdata(grad) * direction), numeric, rtol=1e-6, atol=1e-7)


def _max_gradient(x):
    y, indx, size = dl.maxpool(x, 2, Stride=2, return_indices=True)
    return y, indx, dl.dlgradient(dl.sum(y), x)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_ties_send_the_gradient_to_the_first_maximum_in_window_order(compiled):
    """Equal values in a window: the argmax (gradient and indx) is the first in window order,
    the window scanned with its last spatial dimension fastest."""
    x = np.zeros((4, 4, 1, 2))
    x[:2, :2, 0, 0] = 1.0               # the whole first window ties at 1
    x[2, 3, 0, 0] = x[3, 2, 0, 0] = 2.0   # the last window ties at 2 at its (0, 1) and (1, 0)
    xd = dl.dlarray(x, "SSCB")
    y, indx, grad = dl.dlfeval(_max_gradient, xd) if compiled else _eager_tie(xd)
    g = dl.extractdata(grad)
    want = np.zeros_like(x)
    want[0, 0, 0, :] = 1.0          # first element of each tied window
    want[0, 2, 0, :] = want[2, 0, 0, :] = 1.0
    want[2, 3, 0, 0] = 1.0          # (0, 1) comes before (1, 0) in window order
    want[2, 2, 0, 1] = 1.0
    np.testing.assert_array_equal(g, want)
    flat = dl.extractdata(indx).astype(int)
    np.testing.assert_array_equal(x.ravel()[flat], dl.extractdata(y))
    assert flat[1, 1, 0, 0] == np.ravel_multi_index((2, 3, 0, 0), x.shape)


def _eager_tie(xd):
    """maxpool's eager (numpy reference) results, the gradient from its adjoint op."""
    from dlgrad.frontend.dispatch import apply
    y, indx, _ = dl.maxpool(xd, 2, Stride=2, return_indices=True)
    attrs = {"axis": 0, "window": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0))}
    return y, indx, apply("maxpool_scatter", dl.stripdims(xd), np.ones(y.shape), **attrs)


def test_nan_in_a_window_is_its_maximum():
    x = np.arange(16.0).reshape(4, 4, 1, 1)
    x[0, 1] = np.nan
    fn = lambda z: dl.maxpool(z, 2, Stride=2)   # noqa: E731
    for y in (dl.dlfeval(fn, dl.dlarray(x, "SSCB")), fn(dl.dlarray(x, "SSCB"))):
        y = dl.extractdata(y)
        assert np.isnan(y[0, 0, 0, 0]) and np.array_equal(y.ravel()[1:], [7.0, 13.0, 15.0])


def test_global_pool_size_pools_every_spatial_dimension():
    """poolsize "global" (which failed with ValueError: invalid literal for int())."""
    x = np.random.default_rng(1).standard_normal((5, 3, 4, 2))
    xd = dl.dlarray(x, "SSCB")
    ymax, yavg = dl.dlfeval(lambda z: (dl.maxpool(z, "global"), dl.avgpool(z, "global")), xd)
    assert ymax.shape == (1, 1, 4, 2) and dl.dims(ymax) == "SSCB"
    np.testing.assert_allclose(dl.extractdata(ymax), x.max(axis=(0, 1), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(yavg), x.mean(axis=(0, 1), keepdims=True), rtol=1e-12)
    t = dl.dlarray(np.random.default_rng(2).standard_normal((7, 3, 2)), "TCB")   # stored as CBT
    assert dl.dims(t) == "CBT"
    np.testing.assert_allclose(dl.extractdata(dl.maxpool(t, "global")),
                               dl.extractdata(t).max(axis=2, keepdims=True))


@pytest.mark.parametrize("padding, pads", [
    (1, ((1, 1), (1, 1))), ((1, 0), ((1, 1), (0, 0))), (np.array([[1, 0], [2, 1]]), ((1, 2), (0, 1))),
    ((0, 1, 2, 1), ((0, 1), (2, 1))), ("same", ((1, 1), (1, 1)))])
def test_padding_forms(padding, pads):
    """Padding as an int, one per dimension, [t l; b r], (t, b, l, r) and "same" (3x3 windows)."""
    x = np.random.default_rng(3).standard_normal((5, 6, 2, 1))
    y = dl.avgpool(dl.dlarray(x, "SSCB"), 3, Padding=padding)
    np.testing.assert_allclose(dl.extractdata(y), reference(x, 2, (3, 3), (1, 1), pads, "avg"), rtol=1e-12)


def test_same_padding_with_stride_gives_ceil_of_size_over_stride():
    x = dl.dlarray(np.ones((7, 5, 1, 1)), "SSCB")
    assert dl.maxpool(x, (2, 3), Stride=(2, 2), Padding="same").shape == (4, 3, 1, 1)


def test_padding_value_mean_averages_only_the_elements_inside():
    x = np.random.default_rng(4).standard_normal((4, 5, 2, 2))
    got = dl.dlfeval(lambda z: dl.avgpool(z, 3, Padding=1, PaddingValue="mean"), dl.dlarray(x, "SSCB"))
    xp = np.pad(x, [(1, 1), (1, 1), (0, 0), (0, 0)], constant_values=np.nan)
    want = np.stack([np.stack([np.nanmean(xp[i:i + 3, j:j + 3], axis=(0, 1)) for j in range(5)]) for i in range(4)])
    np.testing.assert_allclose(dl.extractdata(got), want, rtol=1e-12)
    five = dl.avgpool(dl.dlarray(np.zeros((2, 2, 1, 1)), "SSCB"), 2, Stride=2, Padding=1,
                      PaddingValue=5.0)
    np.testing.assert_allclose(dl.extractdata(five)[:, :, 0, 0], [[3.75, 3.75], [3.75, 3.75]])


@pytest.mark.parametrize("call, match", [
    (lambda x: dl.maxpool(x, "everything"), "poolsize must be 'global'"),
    (lambda x: dl.maxpool(x, 0), "poolsize must be an integer >= 1"),
    (lambda x: dl.maxpool(x, 2, Stride=(1, 2, 3)), "Stride must be"),
    (lambda x: dl.maxpool(x, 2, Stride="two"), "Stride must be"),
    (lambda x: dl.maxpool(x, 2, Padding=[[1, 0], [1]]), "Padding must hold non-negative integers"),
    (lambda x: dl.avgpool(x, 2, Padding=2), "smaller than the pool size"),
    (lambda x: dl.avgpool(x, 2, Padding="valid"), "Padding must be 'same'"),
    (lambda x: dl.avgpool(x, 2, PaddingValue="median"), "PaddingValue must be"),
    (lambda x: dl.maxpool(x, 9), "larger than the padded input"),
    (lambda x: dl.maxpool(dl.stripdims(x), 2), "formatted dlarray"),
    (lambda x: dl.maxpool(dl.dlarray(np.ones((3, 4)), "CB"), 2), "'S' \\(spatial\\) or 'T'"),
])
def test_bad_options_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(dl.dlarray(np.ones((4, 4, 1, 1)), "SSCB"))


def _unpool(x):
    y, indx, size = dl.maxpool(x, 3, Stride=2, Padding=1, return_indices=True)
    z = dl.maxunpool(y, indx, size)
    return y, indx, z, dl.dlgradient(dl.sum(dl.stripdims(z) ** 2), x)


def test_maxunpool_puts_each_maximum_back_where_it_came_from():
    x = np.random.default_rng(5).standard_normal((5, 6, 2, 3))
    xd = dl.dlarray(x, "SSCB")
    y, indx, z, grad = dl.dlfeval(_unpool, xd)
    flat = dl.extractdata(indx).astype(np.int64)
    want = np.zeros(x.size)
    np.add.at(want, flat.ravel(), dl.extractdata(y).ravel())
    np.testing.assert_allclose(dl.extractdata(z), want.reshape(x.shape), rtol=1e-12)
    assert dl.dims(z) == "SSCB"
    ey, eindx, esize = dl.maxpool(xd, 3, Stride=2, Padding=1, return_indices=True)   # eager: a scatter
    assert esize == x.shape
    np.testing.assert_array_equal(dl.extractdata(dl.maxunpool(ey, eindx, esize)), dl.extractdata(z))
    # z = the maxima where they were (each counted once per window it wins): d sum(z^2) = 2 z * count
    counts = np.bincount(flat.ravel(), minlength=x.size).reshape(x.shape)
    np.testing.assert_allclose(dl.extractdata(grad), 2 * dl.extractdata(z) * counts, rtol=1e-12)
    with pytest.raises(ValueError, match="integer positions in \\[0, 180\\)"):
        dl.maxunpool(ey, dl.extractdata(eindx) + 180, esize)
    with pytest.raises(ValueError, match="indices maxpool returned in the same function"):
        dl.dlfeval(lambda a, i: dl.maxunpool(a, i, esize), ey, dl.dlarray(dl.extractdata(eindx), "SSCB"))


def _second(x, w):
    g = dl.dlgradient(dl.sum(dl.stripdims(dl.maxpool(x, 2, Stride=1)) ** 2), x, EnableHigherDerivatives=True)
    return g, dl.dlgradient(dl.sum(dl.stripdims(g) * w), x)


def test_second_derivatives_through_the_max_pool_adjoint():
    """d/dx <w, d/dx sum(maxpool(x)^2)> = 2 maxpool_scatter(x, maxpool_gather(x, w)) (the adjoint
    of the adjoint is the gather at the same argmax positions); checked by differences of the
    compiled first gradient."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((4, 5, 2, 1)), rng.standard_normal((4, 5, 2, 1))
    g, h = dl.dlfeval(_second, dl.dlarray(x, "SSCB"), w)
    direction, eps = rng.standard_normal(x.shape), 1e-6
    first = lambda z: dl.extractdata(dl.dlfeval(_second, dl.dlarray(z, "SSCB"), w)[0])   # noqa: E731
    numeric = np.sum((first(x + eps * direction) - first(x - eps * direction)) * w) / (2 * eps)
    assert np.isclose(np.sum(dl.extractdata(h) * direction), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("layer, fmt, shape, want", [
    (dl.maxPooling1dLayer(2, Stride=2), "SCB", (6, 2, 1), lambda x: x.reshape(3, 2, 2, 1).max(axis=1)),
    (dl.averagePooling1dLayer(3, Padding=1, PaddingValue="mean"), "SCB", (4, 1, 1),
     lambda x: np.array([x[:2].mean(), x[:3].mean(), x[1:].mean(), x[2:].mean()]).reshape(4, 1, 1)),
    (dl.maxPooling2dLayer([2, 2], Stride=[2, 2], Padding=np.array([[0, 0], [0, 0]])), "SSCB", (4, 4, 1, 1),
     lambda x: x.reshape(2, 2, 2, 2, 1, 1).max(axis=(1, 3))),
    (dl.averagePooling3dLayer(2, Stride=2), "SSSCB", (4, 2, 2, 1, 1),
     lambda x: x.reshape(2, 2, 1, 2, 1, 2, 1, 1).mean(axis=(1, 3, 5))),
    (dl.maxPooling3dLayer(2), "SSSCB", (3, 2, 2, 1, 1), lambda x: np.maximum(x[:-1], x[1:]).max(axis=(1, 2), keepdims=True)),
    # over time: one vector per sequence ("CBT" -> "CB", as MATLAB's sequence-to-label layers need)
    (dl.globalMaxPooling1dLayer(), "TCB", (5, 2, 1), lambda x: x.max(axis=0)),
    (dl.globalAveragePooling2dLayer(), "SSCB", (3, 4, 2, 1), lambda x: x.mean(axis=(0, 1), keepdims=True)),
    (dl.globalMaxPooling2dLayer(), "SSCB", (3, 4, 2, 1), lambda x: x.max(axis=(0, 1), keepdims=True)),
    (dl.globalAveragePooling3dLayer(), "SSSCB", (2, 3, 2, 1, 1), lambda x: x.mean(axis=(0, 1, 2), keepdims=True)),
    (dl.globalMaxPooling3dLayer(), "SSSCB", (2, 3, 2, 1, 1), lambda x: x.max(axis=(0, 1, 2), keepdims=True)),
    (dl.globalAveragePooling1dLayer(), "SCB", (5, 2, 1), lambda x: x.mean(axis=0, keepdims=True)),
])
def test_layers(layer, fmt, shape, want):
    x = np.random.default_rng(7).standard_normal(shape)
    y = layer.forward({}, dl.dlarray(x, fmt))
    np.testing.assert_allclose(dl.extractdata(y), want(x), rtol=1e-12)
    assert hash(layer) == hash(type(layer)(**vars(layer))) and layer == type(layer)(**vars(layer))


def test_layers_check_their_number_of_spatial_dimensions():
    with pytest.raises(dl.FormatError, match="pools over 2 spatial dimension"):
        dl.maxPooling2dLayer(2).forward({}, dl.dlarray(np.ones((4, 3, 1)), "SCB"))


def _network_loss(net, x, t):
    value = dl.crossentropy(dl.forward(net, x), t)
    return value, dl.dlgradient(value, net.Learnables)


def test_global_pooling_network_gradients():
    layers = [dl.imageInputLayer((6, 6, 2)), dl.convolution2dLayer(3, 4, Padding="same"), dl.reluLayer(),
              dl.averagePooling2dLayer(2, Stride=2), dl.globalMaxPooling2dLayer(),
              dl.fullyConnectedLayer(3), dl.softmaxLayer()]
    net = dl.dlnetwork(layers, seed=1, dtype=np.float64)
    x = dl.dlarray(np.random.default_rng(8).standard_normal((6, 6, 2, 4)), "SSCB")
    t = np.eye(3)[:, [0, 1, 2, 0]]
    value, grads = dl.dlfeval(_network_loss, net, x, t)
    eager = dl.crossentropy(dl.forward(net, x), t)
    assert float(value) == pytest.approx(float(eager), rel=1e-10)
    assert dl.extractdata(grads["conv", "Weights"]).any()


def _pooled_sum(z):
    return (dl.maxpool(z, 2, Padding=(0, 1), DataFormat="SCB")
            + dl.avgpool(z, 3, Padding=1, DataFormat="SCB"))


def test_jacobian_along_the_pooled_axis_through_the_batching_rules():
    """dljacobian replays the pooling ops with a leading batch axis (their batching rules);
    pooling along an observation axis is refused by their layout rule."""
    x = np.random.default_rng(9).standard_normal((6, 2, 3))
    jacobian = dl.extractdata(dl.dlfeval(lambda z: dl.dljacobian(_pooled_sum(z), z, 0), dl.dlarray(x)))
    eps, numeric = 1e-6, np.zeros((6, 6, 2, 3))
    for j in range(6):
        step = np.zeros_like(x)
        step[j] = eps
        numeric[:, j] = (dl.extractdata(_pooled_sum(x + step)) - dl.extractdata(_pooled_sum(x - step))) / (2 * eps)
    np.testing.assert_allclose(jacobian, numeric, atol=1e-8)
    with pytest.raises(dl.GradientError, match="maxpool pools along an observation axis"):
        dl.dlfeval(lambda z: dl.dljacobian(_pooled_sum(z), z, 1), dl.dlarray(x))


def test_data_format_may_name_time_first_as_in_matlab():
    """DataFormat="TCB" on an unformatted (T, C, B) array pools along T and keeps that order,
    the same numbers as dlarray(X, "TCB") (stored as "CBT")."""
    x = np.random.default_rng(10).standard_normal((7, 3, 2))
    plain = dl.dlfeval(lambda z: dl.maxpool(z, 3, Stride=2, Padding="same", DataFormat="TCB"), dl.dlarray(x))
    assert plain.shape == (4, 3, 2) and dl.dims(plain) == ""
    labelled = dl.maxpool(dl.dlarray(x, "TCB"), 3, Stride=2, Padding="same")
    np.testing.assert_array_equal(dl.extractdata(plain), np.transpose(dl.extractdata(labelled), (2, 0, 1)))
    with pytest.raises(dl.FormatError, match="must be adjacent"):
        dl.avgpool(dl.dlarray(np.ones((3, 2, 3, 1))), 2, DataFormat="SCSB")
