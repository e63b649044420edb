"""fullyconnect with U dimensions: S, C and U axes are all features (MATLAB), flattened S.., C, U.."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import FormatError


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fullyconnect_flattens_u_axes_into_features(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 5)).astype(dtype)      # S C B U
    W = rng.standard_normal((6, 2 * 3 * 5)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    R = rng.standard_normal((6, 4))
    X = dl.dlarray(x, "SCBU")
    assert dl.dims(X) == "SCBU"
    features = np.transpose(x, (0, 1, 3, 2)).reshape(30, 4)   # S, C, U first (row-major), then B
    want = W.astype(np.float64) @ features + b[:, None]

    def f(X, W, b):
        Y = dl.fullyconnect(X, W, b)
        loss = dl.sum(Y * R.astype(dtype))
        return Y, loss, dl.dlgradient(loss, X), dl.dlgradient(loss, W)

    Y, loss, gX, gW = dl.dlfeval(f, X, dl.dlarray(W), dl.dlarray(b))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert dl.dims(Y) == "CB" and Y.shape == (6, 4)
    np.testing.assert_allclose(np.asarray(Y), want, rtol=tol, atol=tol)
    gF = W.T.astype(np.float64) @ R                             # d loss / d features
    np.testing.assert_allclose(np.asarray(gX), np.transpose(gF.reshape(2, 3, 5, 4), (0, 1, 3, 2)),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(gW), R @ features.T, rtol=tol, atol=tol)
    eager = dl.fullyconnect(X, W, b)                            # untraced gives the same
    np.testing.assert_allclose(np.asarray(eager), want, rtol=tol, atol=tol)


def test_fullyconnect_u_with_time_keeps_b_and_t():
    x = np.ones((3, 2, 4, 5))                                   # C B T U
    Y = dl.fullyconnect(dl.dlarray(x, "CBTU"), np.ones((7, 15)))
    assert dl.dims(Y) == "CBT" and Y.shape == (7, 2, 4)
    np.testing.assert_allclose(np.asarray(Y), 15.0)


def test_fullyconnect_u_wrong_weights_names_the_feature_count():
    with pytest.raises(FormatError, match="15 features"):
        dl.fullyconnect(dl.dlarray(np.ones((3, 2, 5)), "CBU"), np.ones((7, 3)))
