"""dlconv and dltranspconv (1-D, 2-D, 3-D, grouped, strided, dilated, padded) against loops written
here, gradients against central finite differences, second derivatives, torch when installed,
and the size of the generated C of a CNN, which must not grow with the image."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlgrad as dl
from dlgrad.errors import ShapeError
from dlgrad.frontend.formats import FormatError

FORMATS = {1: "SCB", 2: "SSCB", 3: "SSSCB"}


# --- references: plain loops over output positions ----------------------------------------
def ref_conv(x, w, stride, dilation, pads, fill=0.0):
    """x (S..., C, B); w MATLAB's (K..., Cg, Fg, G); pads ((lo, hi), ...) -> (O..., G*Fg, B)."""
    d = x.ndim - 2
    w = w.reshape(w.shape + (1,) * (d + 3 - w.ndim))
    xp = np.pad(x, list(pads) + [(0, 0), (0, 0)], constant_values=fill)
    kernel, (cg, fg, groups) = w.shape[:d], w.shape[d:]
    out = [(xp.shape[k] - (kernel[k] - 1) * dilation[k] - 1) // stride[k] + 1 for k in range(d)]
    y = np.zeros(out + [groups * fg, x.shape[-1]])
    for o in np.ndindex(*out):
        window = tuple(slice(o[k] * stride[k], o[k] * stride[k] + (kernel[k] - 1) * dilation[k] + 1, dilation[k])
                       for k in range(d))
        patch = xp[window]
        for g in range(groups):
            y[o][g * fg:(g + 1) * fg] = np.tensordot(w[..., g], patch[..., g * cg:(g + 1) * cg, :],
                                                     axes=(list(range(d + 1)), list(range(d + 1))))
    return y


def ref_transpconv(x, w, stride, dilation, crops):
    """x (S..., C, B); w MATLAB's (K..., Fg, Cg, G): every input position spreads over its window."""
    d = x.ndim - 2
    w = w.reshape(w.shape + (1,) * (d + 3 - w.ndim))
    kernel, (fg, cg, groups) = w.shape[:d], w.shape[d:]
    full = [(x.shape[k] - 1) * stride[k] + (kernel[k] - 1) * dilation[k] + 1 for k in range(d)]
    z = np.zeros(full + [groups * fg, x.shape[-1]])
    for i in np.ndindex(*x.shape[:d]):
        window = tuple(slice(i[k] * stride[k], i[k] * stride[k] + (kernel[k] - 1) * dilation[k] + 1, dilation[k])
                       for k in range(d))
        for g in range(groups):
            z[window + (slice(g * fg, (g + 1) * fg),)] += np.einsum("...fc,cb->...fb", w[..., g],
                                                                     x[i][g * cg:(g + 1) * cg])
    return z[tuple(slice(lo, n - hi) for n, (lo, hi) in zip(full, crops))]


def flat(pads):
    return [v for pair in pads for v in pair]


# --- drawn geometries ---------------------------------------------------------------------------
@st.composite
def geometries(draw, transposed=False):
    d = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 5)) for _ in range(d)]
    kernel = [draw(st.integers(1, 3)) for _ in range(d)]
    stride = [draw(st.integers(1, 3)) for _ in range(d)]
    dilation = [draw(st.integers(1, 2)) for _ in range(d)]
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(d)]
    groups, cg, fg, batch = (draw(st.sampled_from(v)) for v in ([1, 2], [1, 2], [1, 3], [1, 3]))
    if transposed:   # crops leave at least one output position
        full = [(n - 1) * s + (k - 1) * dl + 1 for n, s, k, dl in zip(sizes, stride, kernel, dilation)]
        pads = [(min(lo, f - 1), min(hi, f - 1 - min(lo, f - 1))) for (lo, hi), f in zip(pads, full)]
    else:            # the padded input holds at least one window
        sizes = [max(n, (k - 1) * dl + 1 - lo - hi) for n, k, dl, (lo, hi) in zip(sizes, kernel, dilation, pads)]
    return d, sizes, kernel, stride, dilation, pads, groups, cg, fg, batch


def _arrays(geometry, seed, transposed=False):
    d, sizes, kernel, stride, dilation, pads, groups, cg, fg, batch = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(sizes + [groups * cg, batch])
    w = rng.standard_normal(kernel + ([fg, cg] if transposed else [cg, fg]) + [groups])
    return x, w


def _check_value_and_gradients(forward, reference, x, w, rng, rtol=1e-9):
    """forward compiled by dlfeval with its gradients, against the reference and finite differences."""
    u = rng.standard_normal(reference(x, w).shape)

    def objective(x, w, u):
        y = forward(x, w)
        return y, dl.dlgradient(dl.sum(y * u), (x, w))
    y, (gx, gw) = dl.dlfeval(objective, dl.dlarray(x), dl.dlarray(w), u)
    want = reference(x, w)
    np.testing.assert_allclose(np.asarray(y), want, rtol=rtol, atol=rtol * (1 + np.abs(want).max()))
    vx, vw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    eps = 1e-3   # the loss is bilinear: central differences are exact up to rounding
    numeric = np.sum(u * (reference(x + eps * vx, w + eps * vw) - reference(x - eps * vx, w - eps * vw))) / (2 * eps)
    analytic = np.sum(np.asarray(gx) * vx) + np.sum(np.asarray(gw) * vw)
    assert abs(numeric - analytic) <= 1e-7 * (1 + abs(numeric))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometries())
def test_dlconv_against_loops_and_finite_differences(geometry):
    d, _, _, stride, dilation, pads, *_ = geometry
    x, w = _arrays(geometry, 0)

    def forward(x, w):
        return dl.dlconv(dl.dlarray(x, FORMATS[d]), w, 0, Stride=stride, DilationFactor=dilation,
                         Padding=flat(pads))
    _check_value_and_gradients(forward, lambda x, w: ref_conv(x, w, stride, dilation, pads), x, w,
                               np.random.default_rng(1))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometries(transposed=True))
def test_dltranspconv_against_loops_and_finite_differences(geometry):
    d, _, _, stride, dilation, crops, *_ = geometry
    x, w = _arrays(geometry, 2, transposed=True)

    def forward(x, w):
        return dl.dltranspconv(dl.dlarray(x, FORMATS[d]), w, 0, Stride=stride, DilationFactor=dilation,
                               Cropping=flat(crops))
    _check_value_and_gradients(forward, lambda x, w: ref_transpconv(x, w, stride, dilation, crops), x, w,
                               np.random.default_rng(3))


# --- fixed cases, compiled together -------------------------------------------------------------
RNG = np.random.default_rng(5)
X2 = RNG.standard_normal((7, 6, 4, 3))
W2 = RNG.standard_normal((3, 2, 2, 3, 2))          # grouped: 2 channels and 3 filters per group
X1 = RNG.standard_normal((9, 3, 2))
W1 = RNG.standard_normal((3, 3, 5))
X3 = RNG.standard_normal((4, 5, 3, 2, 2))
W3 = RNG.standard_normal((2, 3, 2, 2, 3))
B2 = RNG.standard_normal(6)


WT = np.moveaxis(W2[..., 0], 2, 3)                 # transposed: (3, 2, 3 filters, 2 channels)


def several(x2, w2, x1, w1, x3, w3, b2, wt):
    return (dl.dlconv(x2, w2, b2, Stride=(2, 1), DilationFactor=(1, 2), Padding="same"),
            dl.dlconv(x1, w1, 0, Stride=2, Padding="causal", DilationFactor=2),
            dl.dlconv(x3, w3, 0, Padding=np.array([[1, 0, 1], [0, 2, 1]]), PaddingValue=0.5),
            dl.dltranspconv(x2[..., :2, :], wt, 0, Stride=2,
                            Cropping="same"))


def several_reference():
    same = ((1, 1), (1, 1))   # 'same' for 7x6, kernel 3x2, stride (2, 1), dilation (1, 2): 4x6 outputs
    return [ref_conv(X2, W2, (2, 1), (1, 2), same) + B2.reshape(6, 1),
            ref_conv(X1, W1, (2,), (2,), ((4, 0),)),
            ref_conv(X3, W3, (1, 1, 1), (1, 1, 1), ((1, 0), (0, 2), (1, 1)), fill=0.5),
            ref_transpconv(X2[..., :2, :], WT, (2, 2), (1, 1),
                           ((0, 1), (0, 0)))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_options_in_both_dtypes(dtype):
    args = [dl.dlarray(X2.astype(dtype), "SSCB"), W2.astype(dtype), dl.dlarray(X1.astype(dtype), "SCB"),
            W1.astype(dtype), dl.dlarray(X3.astype(dtype), "SSSCB"), W3.astype(dtype), B2.astype(dtype),
            WT.astype(dtype)]
    got = dl.dlfeval(several, *args)
    eager = several(*args)
    tol = 1e-12 if dtype == "float64" else 2e-5
    for g, e, want in zip(got, eager, several_reference()):
        assert np.asarray(g).dtype == dtype and g.shape == want.shape
        np.testing.assert_allclose(np.asarray(g), want, rtol=tol, atol=tol * np.abs(want).max())
        np.testing.assert_allclose(np.asarray(e), want, rtol=tol, atol=tol * np.abs(want).max())


def test_time_sequences_match_spatial_data():
    """"CBT" data (MATLAB's "TCB") is convolved along T, like "SCB" data along S."""
    x = RNG.standard_normal((3, 2, 8))
    got = dl.dlconv(dl.dlarray(x, "CBT"), W1, 0, Padding="same")
    assert dl.dims(got) == "CBT"
    want = ref_conv(np.moveaxis(x, 2, 0), W1, (1,), (1,), ((1, 1),))
    np.testing.assert_allclose(np.asarray(got), np.moveaxis(want, 0, 2), rtol=1e-12)


def test_second_derivatives():
    """d/dw of |dL/dx|^2: the adjoint of an adjoint, against finite differences of the first one."""
    x, w = X2[..., :2, :], W2[..., :1]
    u = RNG.standard_normal(ref_conv(x, w, (1, 2), (1, 1), ((1, 0), (0, 1))).shape)

    def first(x, w):
        y = dl.dlconv(dl.dlarray(x, "SSCB"), w, 0, Stride=(1, 2), Padding=[1, 0, 0, 1])
        return dl.dlgradient(dl.sum(y * u), x, enable_higher_derivatives=True)

    def second(x, w):
        g = first(x, w)
        return dl.dlgradient(dl.sum(g * g), w)
    g2 = np.asarray(dl.dlfeval(second, dl.dlarray(x), dl.dlarray(w)))
    v, eps = RNG.standard_normal(w.shape), 1e-4
    norm = lambda w: float(np.sum(np.asarray(dl.dlfeval(first, dl.dlarray(x), dl.dlarray(w))) ** 2))  # noqa: E731
    numeric = (norm(w + eps * v) - norm(w - eps * v)) / (2 * eps)
    assert abs(numeric - np.sum(g2 * v)) <= 1e-6 * abs(numeric)


def test_errors_name_the_argument():
    x = dl.dlarray(X2, "SSCB")
    with pytest.raises(FormatError, match="numChannelsPerGroup"):
        dl.dlconv(x, RNG.standard_normal((3, 3, 3, 2)), 0)
    with pytest.raises(ValueError, match="Stride"):
        dl.dlconv(x, W2, 0, Stride=0)
    with pytest.raises(ValueError, match="Padding"):
        dl.dlconv(x, W2, 0, Padding="valid")
    with pytest.raises(ValueError, match="mirrors at most"):
        dl.dlconv(dl.dlarray(X2[:2], "SSCB"), W2, 0, Padding=2, PaddingValue="symmetric-exclude-edge")
    with pytest.raises(ValueError, match="PaddingValue"):
        dl.dlconv(x, W2, 0, Padding=1, PaddingValue="mirror")
    with pytest.raises(ShapeError, match="larger than the padded input"):
        dl.dlconv(x, RNG.standard_normal((9, 1, 4, 1)), 0)
    with pytest.raises(FormatError, match="needs the label S"):
        dl.dlconv(dl.dlarray(np.ones((3, 2)), "CB"), np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match="Cropping"):
        dl.dltranspconv(x, RNG.standard_normal((2, 2, 3, 4)), 0, Cropping=5)


def test_layers_in_a_network():
    """1-D, grouped, channel-wise, transposed and 3-D layers initialise with MATLAB's weight shapes
    and train (a gradient for every learnable)."""
    net = dl.dlnetwork([dl.imageInputLayer((6, 6, 4)), dl.groupedConvolution2dLayer(3, 3, 2, Padding="same"),
                        dl.groupedConvolution2dLayer(3, 1, "channel-wise"), dl.reluLayer(),
                        dl.transposedConv2dLayer(2, 2, Stride=2, Cropping=[1, 0, 0, 1]),
                        dl.convolution2dLayer(3, 2, Padding=np.array([[1, 0], [1, 2]]))])
    shapes = {(row[0], row[1]): row[2].shape for row in net.Learnables}
    assert shapes[("groupconv", "Weights")] == (3, 3, 2, 3, 2)
    assert shapes[("groupconv_1", "Weights")] == (3, 3, 1, 1, 6)
    assert shapes[("transposedconv", "Weights")] == (2, 2, 2, 6)
    x = dl.dlarray(RNG.standard_normal((6, 6, 4, 2)).astype(np.float32), "SSCB")

    def loss(net, x):
        value = dl.sum(dl.forward(net, x) ** 2)
        return value, dl.dlgradient(value, net.Learnables)
    value, grads = dl.dlfeval(loss, net, x)
    assert all(np.abs(np.asarray(row[2])).max() > 0 for row in grads)
    seq = dl.dlnetwork([dl.sequenceInputLayer(3, MinLength=4), dl.convolution1dLayer(3, 5, Padding="causal")])
    assert dl.predict(seq, dl.dlarray(RNG.standard_normal((3, 2, 9)).astype(np.float32), "CBT")).shape == (5, 2, 9)
    vol = dl.dlnetwork([dl.image3dInputLayer((4, 4, 4, 2)), dl.convolution3dLayer(3, 2, Stride=2)])
    assert dl.predict(vol, dl.dlarray(RNG.standard_normal((4, 4, 4, 2, 1)).astype(np.float32),
                                      "SSSCB")).shape == (1, 1, 1, 2, 1)


# --- the size of the C ---------------------------------------------------------------------------
def mnist_cnn(size):
    """MATLAB's "Train Network Using Custom Training Loop" CNN for size x size images."""
    return dl.dlnetwork([dl.imageInputLayer((size, size, 1), Normalization="none"),
                         dl.convolution2dLayer(5, 20, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
                         dl.convolution2dLayer(3, 20, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
                         dl.convolution2dLayer(3, 20, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
                         dl.fullyConnectedLayer(10), dl.softmaxLayer()], seed=0)


def train_step(net, X, T, m, v, iteration):
    loss = dl.crossentropy(dl.forward(net, X), T)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration)
    return net, m, v, loss


def predict_step(net, X):
    return dl.predict(net, X)


def exported_sizes(size, directory):
    net = mnist_cnn(size)
    X = dl.dlarray(np.zeros((size, size, 1, 128), np.float32), "SSCB")
    T = np.zeros((10, 128), np.float32)
    zeros = dl.dlupdate(lambda p: dl.dlarray(np.zeros(p.shape, p.dtype)), net.Learnables)
    train = dl.export_c(train_step, net, X, T, zeros, zeros, dl.dlarray(1.0), name=f"train{size}",
                        directory=directory)
    predict = dl.export_c(predict_step, net, X, name=f"predict{size}", directory=directory)
    return os.path.getsize(train["source"]), os.path.getsize(predict["source"])


def test_cnn_c_size_does_not_grow_with_the_image(tmp_path):
    """The training step and prediction of the CNN: under 1 MB of C, within 10% from 28x28 to 128x128
    (the im2col tables were 172 MB at 28x28)."""
    small, large = exported_sizes(28, tmp_path), exported_sizes(128, tmp_path)
    for a, b in zip(small, large):
        assert a < 1 << 20 and b < 1 << 20
        assert abs(b - a) <= 0.1 * a


# --- torch.nn.functional as an independent reference --------------------------------------------
TORCH_CASES = [  # (data shape, MATLAB weights shape, stride, dilation, pads)
    ((9, 3, 2), (3, 3, 4), (2,), (1,), ((1, 2),)),
    ((7, 8, 4, 3), (3, 3, 2, 3, 2), (1, 2), (2, 1), ((2, 1), (0, 1))),
    ((6, 6, 3, 2), (3, 3, 1, 2, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),      # channel-wise, 2 per channel
    ((4, 5, 3, 2, 2), (2, 3, 2, 2, 4), (1, 2, 1), (1, 1, 2), ((1, 0), (1, 1), (0, 2))),
]


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal(c[0]) for c in TORCH_CASES]
    ws = [rng.standard_normal(c[1]) for c in TORCH_CASES]
    xt, wt = rng.standard_normal((5, 4, 4, 2)), rng.standard_normal((3, 2, 3, 2, 2))

    def run(xs, ws, xt, wt):
        ys = [dl.dlconv(dl.dlarray(x, FORMATS[len(c[2])]), w, 0, Stride=c[2], DilationFactor=c[3],
                        Padding=flat(c[4])) for x, w, c in zip(xs, ws, TORCH_CASES)]
        return ys + [dl.dltranspconv(dl.dlarray(xt, "SSCB"), wt, 0, Stride=(2, 3), DilationFactor=(1, 2),
                                     Cropping=[1, 1, 2, 2])]
    got = dl.dlfeval(run, xs, ws, xt, wt)
    for y, x, w, (_, _, stride, dilation, pads) in zip(got, xs, ws, TORCH_CASES):
        d = x.ndim - 2
        w = w.reshape(w.shape + (1,) * (d + 3 - w.ndim))
        cg, fg, groups = w.shape[d:]
        tx = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, (d + 1, d), (0, 1))))
        tx = tf.pad(tx, [v for lo_hi in reversed(pads) for v in lo_hi])
        tw = torch.from_numpy(np.ascontiguousarray(
            np.moveaxis(w, (d + 2, d + 1, d), (0, 1, 2)).reshape((groups * fg, cg) + w.shape[:d])))
        want = getattr(tf, f"conv{d}d")(tx, tw, stride=stride, dilation=dilation, groups=groups).numpy()
        np.testing.assert_allclose(np.asarray(y), np.moveaxis(want, (0, 1), (d + 1, d)), rtol=1e-10, atol=1e-10)
    # conv_transpose2d weights (in channels, out channels per group, kh, kw); padding crops both sides
    tw = np.moveaxis(wt, (4, 3, 2), (0, 1, 2)).reshape(4, 3, 3, 2)
    want = tf.conv_transpose2d(torch.from_numpy(np.ascontiguousarray(np.moveaxis(xt, (3, 2), (0, 1)))),
                               torch.from_numpy(np.ascontiguousarray(tw)), stride=(2, 3), padding=(1, 2),
                               dilation=(1, 2), groups=2).numpy()
    np.testing.assert_allclose(np.asarray(got[-1]), np.moveaxis(want, (0, 1), (3, 2)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode, numpy_mode", [("replicate", "edge"), ("symmetric-include-edge", "symmetric"),
                                              ("symmetric-exclude-edge", "reflect")])
def test_edge_padding_values_match_numpy_pad(mode, numpy_mode):
    """MATLAB's edge PaddingValue modes equal a convolution of np.pad's padded input; gradients by
    finite differences."""
    x = RNG.standard_normal((5, 6, 2, 2))
    w = RNG.standard_normal((3, 2, 2, 3))
    pads = ((2, 1), (1, 0))

    def f(x, w):
        y = dl.dlconv(x, w, 0, Padding=np.array([[2, 1], [1, 0]]), PaddingValue=mode)
        return y, dl.dlgradient(dl.sum(y * y), x)

    y, g = dl.dlfeval(f, dl.dlarray(x, "SSCB"), dl.dlarray(w))
    padded = np.pad(x, pads + ((0, 0), (0, 0)), mode=numpy_mode)
    ref = dl.extractdata(dl.dlconv(dl.dlarray(padded, "SSCB"), w, 0))
    np.testing.assert_allclose(dl.extractdata(y), ref, rtol=1e-12, atol=1e-12)
    k, h = (1, 0, 1, 0), 1e-6
    value = lambda d: float(np.sum(dl.extractdata(dl.dlconv(dl.dlarray(x + d, "SSCB"), w, 0,
                                                            Padding=np.array([[2, 1], [1, 0]]),
                                                            PaddingValue=mode)) ** 2))
    e = np.zeros_like(x)
    e[k] = h
    assert abs((value(e) - value(-e)) / (2 * h) - dl.extractdata(g)[k]) < 1e-5
