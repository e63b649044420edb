"""lstm and gru (MATLAB's gate orders and options) against numpy loops and central finite differences."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(14)
C, B, T, H = 3, 2, 5, 4


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


GATES = {"sigmoid": sigmoid, "hard-sigmoid": lambda z: np.clip(0.2 * z + 0.5, 0, 1)}
STATES = {"tanh": np.tanh, "softsign": lambda z: z / (1 + np.abs(z)), "relu": lambda z: np.maximum(z, 0)}


def lstm_reference(x, h, c, W, R, b, gate="sigmoid", state="tanh"):
    """MATLAB's LSTM step by step: gates input, forget, cell candidate, output."""
    g, s, ys = GATES[gate], STATES[state], []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b.reshape(-1, 1)
        i, f, cand, o = g(z[:H]), g(z[H:2 * H]), s(z[2 * H:3 * H]), g(z[3 * H:])
        c = f * c + i * cand
        h = o * s(c)
        ys.append(h)
    return np.stack(ys, 2), h, c


def gru_reference(x, h, W, R, b, mode="after-multiplication"):
    """MATLAB's GRU step by step: gates reset, update, candidate."""
    ys = []
    bw, br = (b[:3 * H], b[3 * H:]) if mode == "recurrent-bias-after-multiplication" else (b, np.zeros(3 * H))
    for t in range(x.shape[2]):
        zx = W @ x[:, :, t] + bw.reshape(-1, 1)
        zh = R @ h + br.reshape(-1, 1)
        r, u = sigmoid(zx[:H] + zh[:H]), sigmoid(zx[H:2 * H] + zh[H:2 * H])
        if mode == "before-multiplication":
            cand = np.tanh(zx[2 * H:] + R[2 * H:] @ (r * h))
        else:
            cand = np.tanh(zx[2 * H:] + r * zh[2 * H:])
        h = (1 - u) * cand + u * h
        ys.append(h)
    return np.stack(ys, 2), h


X = RNG.standard_normal((C, B, T))
W4, R4, B4 = RNG.standard_normal((4 * H, C)), RNG.standard_normal((4 * H, H)) * 0.5, RNG.standard_normal(4 * H)
W3, R3, B6 = RNG.standard_normal((3 * H, C)), RNG.standard_normal((3 * H, H)) * 0.5, RNG.standard_normal(6 * H)
H0, C0 = RNG.standard_normal((H, B)), RNG.standard_normal((H, B))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gate, state", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign"), ("sigmoid", "relu")])
def test_lstm_matches_a_numpy_loop(dtype, gate, state):
    tol = 2e-5 if dtype == np.float32 else 1e-12
    args = [a.astype(dtype) for a in (H0, C0, W4, R4, B4)]
    y, h, c = dl.dlfeval(lambda x, *a: dl.lstm(x, *a, StateActivationFunction=state, GateActivationFunction=gate),
                         dl.dlarray(X.astype(dtype), "CBT"), *args)
    assert dl.dims(y) == "CBT" and y.shape == (H, B, T) and h.shape == c.shape == (H, B)
    assert y.dtype == dtype
    for got, want in zip((y, h, c), lstm_reference(X, H0, C0, W4, R4, B4, gate, state)):
        np.testing.assert_allclose(dl.extractdata(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["after-multiplication", "before-multiplication",
                                  "recurrent-bias-after-multiplication"])
def test_gru_matches_a_numpy_loop_in_each_reset_gate_mode(dtype, mode):
    tol = 2e-5 if dtype == np.float32 else 1e-12
    bias = B6 if mode == "recurrent-bias-after-multiplication" else B6[:3 * H]
    y, h = dl.dlfeval(lambda x, *a: dl.gru(x, *a, ResetGateMode=mode), dl.dlarray(X.astype(dtype), "CBT"),
                      *[a.astype(dtype) for a in (H0, W3, R3, bias)])
    assert dl.dims(y) == "CBT" and y.shape == (H, B, T) and h.shape == (H, B)
    want_y, want_h = gru_reference(X, H0, W3, R3, bias, mode)
    np.testing.assert_allclose(dl.extractdata(y), want_y, rtol=tol, atol=tol)
    np.testing.assert_allclose(dl.extractdata(h), want_h, rtol=tol, atol=tol)


def _directional_check(loss, arrays, fmt_first="CBT"):
    """<gradient, v> against the central difference of the loss along v, for each argument (float64)."""
    def wrap(values):
        return [dl.dlarray(values[0], fmt_first)] + [dl.dlarray(a) for a in values[1:]]

    def grads(*args):
        value = loss(*args)
        return value, dl.dlgradient(value, list(args))
    _, g = dl.dlfeval(grads, *wrap(arrays))
    rng = np.random.default_rng(3)
    for k, a in enumerate(arrays):
        v = rng.standard_normal(a.shape)
        eps = 1e-6
        plus = [b.copy() for b in arrays]
        minus = [b.copy() for b in arrays]
        plus[k] = plus[k] + eps * v
        minus[k] = minus[k] - eps * v
        fd = (float(dl.extractdata(loss(*wrap(plus)))) - float(dl.extractdata(loss(*wrap(minus))))) / (2 * eps)
        got = float(np.sum(dl.extractdata(g[k]) * v))
        assert abs(got - fd) < 1e-6 * max(1.0, abs(fd)), (k, got, fd)


def test_lstm_gradients_match_finite_differences():
    def loss(x, h0, c0, w, r, b):
        y, h, c = dl.lstm(x, h0, c0, w, r, b)
        return dl.sum(dl.stripdims(y) * dl.stripdims(y)) + dl.sum(h * c)
    _directional_check(loss, [X, H0, C0, W4, R4, B4])


@pytest.mark.parametrize("mode", ["after-multiplication", "before-multiplication",
                                  "recurrent-bias-after-multiplication"])
def test_gru_gradients_match_finite_differences(mode):
    bias = B6 if mode == "recurrent-bias-after-multiplication" else B6[:3 * H]

    def loss(x, h0, w, r, b):
        y, h = dl.gru(x, h0, w, r, b, ResetGateMode=mode)
        return dl.sum(dl.stripdims(y) * dl.stripdims(y) * 0.5 + dl.stripdims(y)) + dl.sum(h)
    _directional_check(loss, [X, H0, W3, R3, bias])


def test_one_initial_state_serves_every_observation_and_formats_follow_matlab():
    y, h, c = dl.lstm(dl.dlarray(X, "CBT"), dl.dlarray(H0[:, :1], "CB"), np.zeros(H), W4, R4, B4)
    want = lstm_reference(X, np.repeat(H0[:, :1], B, 1), np.zeros((H, B)), W4, R4, B4)
    np.testing.assert_allclose(dl.extractdata(y), want[0], rtol=1e-12, atol=1e-12)
    assert dl.dims(h) == "CB" and h.shape == (H, B) and dl.dims(c) == ""   # formatted like H0 / C0
    # an unformatted X with DataFormat gives an unformatted Y; "CT" (one observation) keeps its two axes
    y2, h2, _ = dl.lstm(X, H0, C0, W4, R4, B4, DataFormat="CBT")
    assert dl.dims(y2) == "" and y2.shape == (H, B, T) and dl.dims(h2) == ""
    y3, h3, _ = dl.lstm(dl.dlarray(X[:, 1], "CT"), H0[:, 1], C0[:, 1:], W4, R4, B4)
    assert dl.dims(y3) == "CT" and y3.shape == (H, T) and h3.shape == (H, 1)
    np.testing.assert_allclose(dl.extractdata(y3), lstm_reference(X, H0, C0, W4, R4, B4)[0][:, 1],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4[:, :2], R4, B4), "weights must have shape"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4[:, :2], B4), "recurrentWeights"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4, B4[:3]), "bias must be a vector of 16"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4, B4.reshape(4, 4)), r"bias .*got shape \(4, 4\)"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4, B4.reshape(1, 16)), r"\(16, 1\), got shape \(1, 16\)"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0[:, :1].repeat(3, 1), C0, W4, R4, B4), "H0 must have shape"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4, B4, StateActivationFunction="gelu"),
     "StateActivationFunction"),
    (lambda: dl.lstm(dl.dlarray(X, "CBT"), H0, C0, W4, R4, B4, GateActivationFunction="tanh"),
     "GateActivationFunction"),
    (lambda: dl.lstm(X, H0, C0, W4, R4, B4), "formatted"),
    (lambda: dl.lstm(dl.dlarray(X[None], "SCBT"), H0, C0, W4, R4, B4), "'C' axis and optional"),
    (lambda: dl.gru(dl.dlarray(X, "CBT"), H0, W3, R3, B6), "bias must be a vector of 12"),
    (lambda: dl.gru(dl.dlarray(X, "CBT"), H0, W3, R3, B6[:12].reshape(3, 4)), r"bias .*got shape \(3, 4\)"),
    (lambda: dl.gru(dl.dlarray(X, "CBT"), H0, W3, R3, B6[:12], ResetGateMode="recurrent-bias-after-multiplication"),
     "bias must be a vector of 24"),
    (lambda: dl.gru(dl.dlarray(X, "CBT"), H0, W3, R3, B6[:12], ResetGateMode="after"), "ResetGateMode"),
])
def test_bad_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
