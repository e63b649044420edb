"""fullyconnect's flattening of S, C (and U) features: row-major by default, MATLAB's
column-major with FeatureOrder="column-major" so that weights brought from MATLAB give MATLAB's
answer. The reference for MATLAB is numpy's reshape with order='F' (MATLAB's reshape(X, [], N))."""
import numpy as np
import pytest

import dlgrad as dl

from .casetable import CaseTable

RNG = np.random.default_rng(31)
H, W, C, N, T = 3, 2, 4, 5, 2
X = RNG.standard_normal((H, W, C, N))
XT = RNG.standard_normal((H, W, C, N, T))
XU = RNG.standard_normal((H, C, N, 3))                 # S C B U
WEIGHTS = RNG.standard_normal((6, H * W * C))
WEIGHTS_U = RNG.standard_normal((6, H * C * 3))
BIAS = RNG.standard_normal(6)

CASES = {
    "row-major SSCB": (
        lambda x, w, b: dl.fullyconnect(x, w, b), [(X, "SSCB", 1), (WEIGHTS, None, 1), (BIAS, None, 1)],
        lambda x, w, b: w @ x.reshape(H * W * C, N) + b[:, None]),           # feature (h*W + w)*C + c
    "MATLAB column-major SSCB": (
        lambda x, w, b: dl.fullyconnect(x, w, b, FeatureOrder="column-major"),
        [(X, "SSCB", 1), (WEIGHTS, None, 1), (BIAS, None, 1)],
        lambda x, w, b: w @ x.reshape((H * W * C, N), order="F") + b[:, None]),   # h + H*(w + W*c)
    "MATLAB column-major SSCBT": (
        lambda x, w: dl.fullyconnect(x, w, FeatureOrder="column-major"), [(XT, "SSCBT", 1), (WEIGHTS, None, 1)],
        lambda x, w: np.stack([w @ x[..., t].reshape((H * W * C, N), order="F") for t in range(T)], -1)),
    "MATLAB column-major SCBU": (
        lambda x, w: dl.fullyconnect(x, w, FeatureOrder="column-major"), [(XU, "SCBU", 1), (WEIGHTS_U, None, 1)],
        lambda x, w: w @ np.transpose(x, (0, 1, 3, 2)).reshape((H * C * 3, N), order="F")),
}
TABLE = CaseTable(CASES)


@pytest.mark.parametrize("name", TABLE.names)
def test_value_float64_float32(name):
    TABLE.check_value(name)


@pytest.mark.parametrize("name", TABLE.names)
def test_gradient(name):
    TABLE.check_gradient(name)


def test_bad_feature_order():
    with pytest.raises(ValueError, match="FeatureOrder must be"):
        dl.fullyconnect(dl.dlarray(X, "SSCB"), WEIGHTS, FeatureOrder="F")


def test_fully_connected_layer_with_matlab_weights():
    net = dl.dlnetwork([dl.imageInputLayer((H, W, C), Normalization="none"),
                        dl.fullyConnectedLayer(6, FeatureOrder="column-major")], dtype=np.float64)
    values = iter([WEIGHTS, BIAS[:, None]])
    net = net.with_learnables(dl.dlupdate(lambda p: dl.dlarray(next(values)), net.Learnables))
    got = dl.extractdata(dl.predict(net, dl.dlarray(X, "SSCB")))
    np.testing.assert_allclose(got, WEIGHTS @ X.reshape((H * W * C, N), order="F") + BIAS[:, None], rtol=1e-12)
