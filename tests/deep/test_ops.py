"""Every deep-learning function against a numpy reference, compiled, in float64 and float32;
gradients against central finite differences (float64). All cases share one compiled function
per dtype, so the file stays fast."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.formats import FormatError

from . import reference as ref

RNG = np.random.default_rng(7)


def away_from_zero(shape):
    x = RNG.standard_normal(shape)
    return x + 0.2 * np.sign(x)


X54 = RNG.standard_normal((5, 4))
T54 = np.eye(5)[:, [0, 3, 1, 4]]
P54 = (RNG.random((5, 4)) > 0.5).astype(float)
IMG = RNG.standard_normal((7, 6, 2, 3))
WC = RNG.standard_normal((3, 3, 2, 4)) * 0.5
MASK = (RNG.random((5, 4)) > 0.3).astype(float)
IDX = np.array([[0, 2, 1, 2, 3, 1]], dtype=float)
SP = dict(fmt=None)

# name: (function of dlarrays, [(array, format, differentiable)], numpy reference of the arrays)
CASES = {
    "fullyconnect": (lambda x, w, b: dl.fullyconnect(x, w, b),
                     [(X54, "CB", 1), (RNG.standard_normal((3, 5)), None, 1), (RNG.standard_normal(3), None, 1)],
                     lambda x, w, b: w @ x + b[:, None]),
    "fullyconnect_sscb": (lambda x, w: dl.fullyconnect(x, w),
                          [(IMG, "SSCB", 1), (RNG.standard_normal((2, 84)), None, 1)],
                          lambda x, w: w @ x.reshape(84, 3)),
    "relu": (dl.relu, [(away_from_zero((5, 4)), "CB", 1)], lambda x: np.maximum(x, 0)),
    "leakyrelu": (lambda x: dl.leakyrelu(x, 0.2), [(away_from_zero((5, 4)), "CB", 1)],
                  lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: dl.elu(x, 0.7), [(away_from_zero((5, 4)), "CB", 1)],
            lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "gelu": (dl.gelu, [(X54, "CB", 1)], ref.gelu),
    "gelu_tanh": (lambda x: dl.gelu(x, Approximation="tanh"), [(X54, "CB", 1)],
                  lambda x: ref.gelu(x, tanh=True)),
    "sigmoid": (dl.sigmoid, [(X54, "CB", 1)], lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (dl.tanh, [(X54, "CB", 1)], np.tanh),
    "softmax": (dl.softmax, [(X54, "CB", 1)], ref.softmax),
    "logsoftmax": (dl.logsoftmax, [(X54, "CB", 1)], lambda x: np.log(ref.softmax(x))),
    "crossentropy": (lambda x, t: dl.crossentropy(dl.softmax(x), t), [(X54, "CB", 1), (T54, None, 0)],
                     lambda x, t: -np.sum(t * np.log(ref.softmax(x))) / 4),
    "crossentropy_probabilities": (
        lambda x, t: dl.crossentropy(dl.sigmoid(x) * 0.8 + 0.1, t), [(X54, "CB", 1), (T54, None, 0)],
        lambda x, t: -np.sum(t * np.log(0.8 / (1 + np.exp(-x)) + 0.1)) / 4),
    "crossentropy_multilabel": (
        lambda x, t: dl.crossentropy(dl.sigmoid(x), t, ClassificationMode="multilabel"),
        [(X54, "CB", 1), (P54, None, 0)],
        lambda x, t: -np.sum(t * np.log(1 / (1 + np.exp(-x))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-x)))) / 4),
    "indexcrossentropy": (lambda x, t: dl.indexcrossentropy(dl.softmax(x), t),
                          [(X54, "CB", 1), (np.array([0, 3, 1, 4.0]), None, 0)],
                          lambda x, t: -np.sum(T54 * np.log(ref.softmax(x))) / 4),
    "mse": (lambda y, t: dl.mse(y, t), [(X54, "CB", 1), (T54, None, 1)],
            lambda y, t: np.sum((y - t) ** 2) / 2 / 4),
    "l2loss": (lambda y, t: dl.l2loss(y, t), [(X54, "CB", 1), (T54, None, 1)],
               lambda y, t: np.sum((y - t) ** 2) / 4),
    "l1loss": (lambda y, t: dl.l1loss(y, t, NormalizationFactor="all-elements"),
               [(X54, "CB", 1), (T54, None, 1)], lambda y, t: np.sum(np.abs(y - t)) / 20),
    "huber": (lambda y, t: dl.huber(y, t, TransitionPoint=0.5), [(X54, "CB", 1), (T54, None, 1)],
              lambda y, t: np.sum(np.where(np.abs(y - t) <= 0.5, (y - t) ** 2 / 2,
                                           0.5 * (np.abs(y - t) - 0.25))) / 4),
    "dropout": (lambda x, m: dl.dropout(x, m, 0.3), [(X54, "CB", 1), (MASK, None, 0)],
                lambda x, m: x * m / 0.7),
    "layernorm": (lambda x, o, s: dl.layernorm(x, o, s), [(X54, "CB", 1), (RNG.standard_normal(5), None, 1),
                                                          (RNG.standard_normal(5), None, 1)],
                  lambda x, o, s: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * s[:, None] + o[:, None]),
    "batchnorm": (lambda x, o, s: dl.batchnorm(x, o, s)[0],
                  [(IMG, "SSCB", 1), (RNG.standard_normal(2), None, 1), (RNG.standard_normal(2), None, 1)],
                  lambda x, o, s: ((x - x.mean((0, 1, 3), keepdims=True)) /
                                   np.sqrt(x.var((0, 1, 3), keepdims=True) + 1e-5) *
                                   s.reshape(1, 1, 2, 1) + o.reshape(1, 1, 2, 1))),
    "batchnorm_inference": (
        lambda x, o, s, m, v: dl.batchnorm(x, o, s, m, v),
        [(IMG, "SSCB", 1), (RNG.standard_normal(2), None, 1), (RNG.standard_normal(2), None, 1),
         (RNG.standard_normal(2), None, 0), (RNG.random(2) + 0.5, None, 0)],
        lambda x, o, s, m, v: ((x - m.reshape(1, 1, 2, 1)) / np.sqrt(v.reshape(1, 1, 2, 1) + 1e-5) *
                               s.reshape(1, 1, 2, 1) + o.reshape(1, 1, 2, 1))),
    "embed": (lambda i, w: dl.embed(i, w), [(IDX, "CB", 0), (RNG.standard_normal((3, 4)), None, 1)],
              lambda i, w: w[:, i[0].astype(int)]),
    "dlconv": (lambda x, w, b: dl.dlconv(x, w, b), [(IMG, "SSCB", 1), (WC, None, 1), (RNG.standard_normal(4), None, 1)],
               lambda x, w, b: ref.conv2d(x, w, b, 1, ((0, 0), (0, 0)), 1)),
    "dlconv_same_stride_dilation": (
        lambda x, w, b: dl.dlconv(x, w, b, Stride=2, DilationFactor=2, Padding="same"),
        [(IMG, "SSCB", 1), (WC, None, 1), (RNG.standard_normal(4), None, 1)],
        lambda x, w, b: ref.conv2d(x, w, b, 2, ((2, 2), (1, 2)), 2)),  # extra padding bottom/right
    "maxpool": (lambda x: dl.maxpool(x, 2, Stride=2), [(IMG, "SSCB", 1)],
                lambda x: ref.pool(x, 2, 2, 0, np.max)),
    "maxpool_padded": (lambda x: dl.maxpool(x, 3, Stride=2, Padding=1), [(IMG, "SSCB", 1)],
                       lambda x: ref.pool(x, 3, 2, 1, np.max, fill=-np.inf)),
    "avgpool": (lambda x: dl.avgpool(x, 3, Padding=1), [(IMG, "SSCB", 1)],
                lambda x: ref.pool(x, 3, 1, 1, np.mean)),
}
NAMES = list(CASES)
WEIGHTS = {}


def _inputs(dtype):
    return [[dl.dlarray(a.astype(dtype), f) if f else dl.dlarray(a.astype(dtype)) for a, f, _ in CASES[n][1]]
            for n in NAMES]


def _loss(name, args):
    fn = CASES[name][0]
    y = fn(*args)
    w = WEIGHTS.setdefault(name, np.random.default_rng(len(name)).standard_normal(y.shape))
    return y, dl.sum(dl.stripdims(y) * w.astype(y.dtype))


def everything(inputs):
    results = []
    for name, args in zip(NAMES, inputs):
        y, loss = _loss(name, args)
        wrt = [a for a, (_, _, d) in zip(args, CASES[name][1]) if d]
        results.append((y, dl.dims(y), dl.dlgradient(loss, wrt)))
    return results


_compiled = {}


def compiled(dtype):
    if dtype not in _compiled:
        _compiled[dtype] = dl.dlfeval(everything, _inputs(dtype))
    return _compiled[dtype]


@pytest.mark.parametrize("name", NAMES)
def test_value_against_reference(name):
    y64, _, _ = compiled(np.float64)[NAMES.index(name)]
    y32, _, _ = compiled(np.float32)[NAMES.index(name)]
    expected = CASES[name][2](*[a for a, _, _ in CASES[name][1]])
    np.testing.assert_allclose(dl.extractdata(y64), expected, rtol=1e-10, atol=1e-12)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(dl.extractdata(y32), expected, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_against_finite_differences(name):
    _, _, grads64 = compiled(np.float64)[NAMES.index(name)]
    _, _, grads32 = compiled(np.float32)[NAMES.index(name)]
    spec = CASES[name][1]
    arrays = [a for a, _, _ in spec]
    wrt = [i for i, (_, _, d) in enumerate(spec) if d]
    rng = np.random.default_rng(1)
    directions = {i: rng.standard_normal(arrays[i].shape) for i in wrt}

    def loss_at(step):
        args = [dl.dlarray(a + step * directions[i], f) if i in directions else dl.dlarray(a, f) if f
                else dl.dlarray(a) for i, (a, f, _) in enumerate(spec)]
        return float(_loss(name, args)[1])

    eps = 1e-6
    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    analytic = sum(float(np.sum(dl.extractdata(g) * directions[i])) for g, i in zip(grads64, wrt))
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    for g64, g32 in zip(grads64, grads32):
        np.testing.assert_allclose(dl.extractdata(g32), dl.extractdata(g64), rtol=2e-3, atol=2e-4)


def test_formats_of_results():
    dims = {name: fmt for name, (_, fmt, _) in zip(NAMES, compiled(np.float64))}
    assert dims["fullyconnect"] == "CB" and dims["fullyconnect_sscb"] == "CB"
    assert dims["softmax"] == "CB" and dims["dlconv"] == "SSCB" and dims["maxpool"] == "SSCB"
    assert dims["embed"] == "CB" and dims["crossentropy"] == ""


def _saturated(X, T):
    loss = dl.crossentropy(dl.softmax(X), T)
    multi = dl.crossentropy(dl.sigmoid(X), T, ClassificationMode="multilabel")
    index = dl.indexcrossentropy(dl.softmax(X), np.array([1.0, 2.0]))
    total = loss + multi + index
    return (loss, multi, index, dl.logsoftmax(X), dl.softmax(X),
            dl.dlgradient(total, X), dl.dlgradient(dl.sum(dl.logsoftmax(X)), X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_logits_of_magnitude_1e4(dtype):
    X = dl.dlarray(np.array([[1e4, -1e4], [-1e4, 1e4], [0, 0]], dtype=dtype), "CB")
    T = np.eye(3, dtype=dtype)[:, [1, 2]]
    results = dl.dlfeval(_saturated, X, T)
    for r in results:
        assert np.all(np.isfinite(dl.extractdata(r)))
    loss, _, index = results[:3]
    assert float(loss) == pytest.approx(15000) and float(index) == pytest.approx(15000)
    # (softmax - T) / N twice (crossentropy, indexcrossentropy) plus (sigmoid - T) / N
    np.testing.assert_allclose(dl.extractdata(results[5])[:, 0], [1.5, -1.5, 0.25], atol=1e-6)


def test_errors():
    with pytest.raises(FormatError, match="fullyconnect needs a formatted dlarray"):
        dl.fullyconnect(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(FormatError, match="do not fit an input with 3 features"):
        dl.fullyconnect(dl.dlarray(np.ones((3, 2)), "CB"), np.ones((2, 4)))
    with pytest.raises(FormatError, match="needs the label"):
        dl.softmax(dl.dlarray(np.ones((3, 2)), "SB"))
    with pytest.raises(FormatError, match="do not match predictions"):
        dl.crossentropy(dl.softmax(dl.dlarray(np.ones((3, 2)), "CB")), np.ones((3, 3)))
    with pytest.raises(FormatError, match="dlconv needs the label"):
        dl.dlconv(dl.dlarray(np.ones((3, 2)), "CB"), np.ones((1, 1, 3, 1)))
    # DataFormat names the axes of unformatted data; the result stays unformatted
    y = dl.softmax(np.zeros((2, 3)), DataFormat="CB")
    assert dl.dims(y) == "" and np.allclose(dl.extractdata(y), 0.5)
