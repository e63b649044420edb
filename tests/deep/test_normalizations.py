"""instancenorm, groupnorm, crosschannelnorm and layernorm's OperationDimension against numpy
formulas of MATLAB's definitions, with gradients, in float64 and float32."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import FormatError

from .casetable import CaseTable

RNG = np.random.default_rng(41)
IMG = RNG.standard_normal((3, 2, 4, 2))          # S S C B
SEQ = RNG.standard_normal((2, 4, 3, 5))          # S C B T
OFF, SCALE = RNG.standard_normal(4), RNG.standard_normal(4)
EPS = 1e-5


def _norm(x, axes):
    mu = x.mean(axes, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axes, keepdims=True) + EPS)


def _affine(y, o, s, c_axis, ndim):
    shape = [1] * ndim
    shape[c_axis] = -1
    return y * s.reshape(shape) + o.reshape(shape)


def _group_ref(x, groups, o, s):
    h, w, c, b = x.shape
    g = x.reshape(h, w, groups, c // groups, b)
    return _affine(_norm(g, (0, 1, 3)).reshape(x.shape), o, s, 2, 4)


def _lrn_ref(x, window, alpha=1e-4, beta=0.75, k=2.0):
    """MATLAB's crossChannelNormalizationLayer: the floor((w-1)/2) channels before, floor(w/2) after."""
    c = x.shape[2]
    out = np.empty_like(x)
    for i in range(c):
        lo, hi = max(0, i - (window - 1) // 2), min(c, i + window // 2 + 1)
        ss = (x[:, :, lo:hi] ** 2).sum(2)
        out[:, :, i] = x[:, :, i] / (k + alpha * ss / window) ** beta
    return out


AFFINE = [(OFF, None, 1), (SCALE, None, 1)]
CASES = {
    "instancenorm": (lambda x, o, s: dl.instancenorm(x, o, s), [(IMG, "SSCB", 1)] + AFFINE,
                     lambda x, o, s: _affine(_norm(x, (0, 1)), o, s, 2, 4)),
    "instancenorm SCBT": (lambda x, o, s: dl.instancenorm(x, o, s), [(SEQ, "SCBT", 1)] + AFFINE,
                          lambda x, o, s: _affine(_norm(x, (0, 3)), o, s, 1, 4)),
    "groupnorm 2 groups": (lambda x, o, s: dl.groupnorm(x, 2, o, s), [(IMG, "SSCB", 1)] + AFFINE,
                           lambda x, o, s: _group_ref(x, 2, o, s)),
    "groupnorm all-channels": (lambda x, o, s: dl.groupnorm(x, "all-channels", o, s), [(IMG, "SSCB", 1)] + AFFINE,
                               lambda x, o, s: _group_ref(x, 1, o, s)),
    "groupnorm channel-wise": (lambda x, o, s: dl.groupnorm(x, "channel-wise", o, s), [(IMG, "SSCB", 1)] + AFFINE,
                               lambda x, o, s: _affine(_norm(x, (0, 1)), o, s, 2, 4)),
    "crosschannelnorm 3": (lambda x: dl.crosschannelnorm(x, 3), [(IMG, "SSCB", 1)], lambda x: _lrn_ref(x, 3)),
    "crosschannelnorm 4 (asymmetric), options": (
        lambda x: dl.crosschannelnorm(x, 4, Alpha=0.5, Beta=0.6, K=1.5), [(IMG, "SSCB", 1)],
        lambda x: _lrn_ref(x, 4, 0.5, 0.6, 1.5)),
    "layernorm channel-only": (lambda x, o, s: dl.layernorm(x, o, s, OperationDimension="channel-only"),
                               [(IMG, "SSCB", 1)] + AFFINE, lambda x, o, s: _affine(_norm(x, (2,)), o, s, 2, 4)),
    "layernorm auto (images)": (lambda x, o, s: dl.layernorm(x, o, s), [(IMG, "SSCB", 1)] + AFFINE,
                                lambda x, o, s: _affine(_norm(x, (0, 1, 2)), o, s, 2, 4)),
    "layernorm auto (sequences)": (lambda x, o, s: dl.layernorm(x, o, s), [(SEQ, "SCBT", 1)] + AFFINE,
                                   lambda x, o, s: _affine(_norm(x, (1,)), o, s, 1, 4)),
    "layernorm spatial-channel": (lambda x, o, s: dl.layernorm(x, o, s, OperationDimension="spatial-channel"),
                                  [(SEQ, "SCBT", 1)] + AFFINE, lambda x, o, s: _affine(_norm(x, (0, 1)), o, s, 1, 4)),
    "layernorm batch-excluded": (lambda x, o, s: dl.layernorm(x, o, s, OperationDimension="batch-excluded"),
                                 [(SEQ, "SCBT", 1)] + AFFINE, lambda x, o, s: _affine(_norm(x, (0, 1, 3)), o, s, 1, 4)),
}
TABLE = CaseTable(CASES)


@pytest.mark.parametrize("name", TABLE.names)
def test_value_float64_float32(name):
    TABLE.check_value(name)


@pytest.mark.parametrize("name", TABLE.names)
def test_gradient(name):
    TABLE.check_gradient(name)


def test_formats_are_kept():
    assert dl.dims(dl.groupnorm(dl.dlarray(IMG, "SSCB"), 2, OFF, SCALE)) == "SSCB"
    assert dl.dims(dl.crosschannelnorm(dl.dlarray(IMG, "SSCB"), 3)) == "SSCB"


def test_errors():
    x = dl.dlarray(IMG, "SSCB")
    with pytest.raises(ValueError, match="dividing the 4 channels"):
        dl.groupnorm(x, 3, OFF, SCALE)
    with pytest.raises(ValueError, match="windowSize must be a positive integer"):
        dl.crosschannelnorm(x, 0)
    with pytest.raises(ValueError, match="OperationDimension must be"):
        dl.layernorm(x, OFF, SCALE, OperationDimension="channel")
    with pytest.raises(FormatError, match="S, T or U axes"):
        dl.instancenorm(dl.dlarray(np.ones((4, 2)), "CB"), OFF, SCALE)


def test_normalization_layers_apply_their_functions():
    layers = [dl.imageInputLayer((3, 2, 4), Normalization="none"), dl.instanceNormalizationLayer(),
              dl.groupNormalizationLayer(2), dl.crossChannelNormalizationLayer(3, K=1.0),
              dl.layerNormalizationLayer(OperationDimension="channel-only")]
    net = dl.dlnetwork(layers, dtype=np.float64)
    assert [r.Layer for r in net.Learnables][::2] == ["instancenorm", "groupnorm", "layernorm"]
    y = dl.extractdata(dl.predict(net, dl.dlarray(IMG, "SSCB")))
    ones, zeros = np.ones(4), np.zeros(4)
    want = _affine(_norm(_lrn_ref(_group_ref(_affine(_norm(IMG, (0, 1)), zeros, ones, 2, 4), 2, zeros, ones),
                                  3, k=1.0), (2,)), zeros, ones, 2, 4)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    assert "layerNormalizationLayer(Epsilon=1e-05, OperationDimension='channel-only')" in net.summary()
