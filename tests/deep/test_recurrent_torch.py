"""lstm and gru against torch.nn.LSTM and torch.nn.GRU in float64 (MATLAB's gate orders are PyTorch's;
gru's "recurrent-bias-after-multiplication" is PyTorch's GRU), values and gradients."""
import numpy as np
import pytest

import dlgrad as dl

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(21)
C, B, T, H = 4, 3, 7, 5
X = RNG.standard_normal((C, B, T))
H0, C0 = RNG.standard_normal((H, B)), RNG.standard_normal((H, B))


def _torch_run(module, x, states):
    """Outputs and input/weight gradients of sum(y^2 / 2 + y) for a torch module on (T, B, C) data."""
    tx = torch.tensor(x.transpose(2, 1, 0), requires_grad=True)
    y, _ = module(tx, states)
    (y * y / 2 + y).sum().backward()
    return y.detach().numpy().transpose(2, 1, 0), tx.grad.numpy().transpose(2, 1, 0)


def _ours(fn, x, *args):
    def loss(x, *a):
        y = dl.stripdims(fn(x, *a)[0])
        value = dl.sum(y * y / 2 + y)
        return y, dl.dlgradient(value, [x, *a])
    return dl.dlfeval(loss, dl.dlarray(x, "CBT"), *[dl.dlarray(a) for a in args])


def test_lstm_matches_torch_lstm():
    lstm = torch.nn.LSTM(C, H, dtype=torch.float64)
    W, R = lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    states = (torch.tensor(H0.T[None].copy()), torch.tensor(C0.T[None].copy()))
    want_y, want_dx = _torch_run(lstm, X, states)
    y, grads = _ours(lambda x, w, r, bias: dl.lstm(x, H0, C0, w, r, bias), X, W, R, b)
    np.testing.assert_allclose(dl.extractdata(y), want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[0]), want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[1]), lstm.weight_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[2]), lstm.weight_hh_l0.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[3]), lstm.bias_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gru_recurrent_bias_after_multiplication_matches_torch_gru():
    gru = torch.nn.GRU(C, H, dtype=torch.float64)
    W, R = gru.weight_ih_l0.detach().numpy(), gru.weight_hh_l0.detach().numpy()
    b = np.concatenate([gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()])
    want_y, want_dx = _torch_run(gru, X, torch.tensor(H0.T[None].copy()))
    y, grads = _ours(lambda x, w, r, bias: dl.gru(x, H0, w, r, bias,
                                                  ResetGateMode="recurrent-bias-after-multiplication"), X, W, R, b)
    np.testing.assert_allclose(dl.extractdata(y), want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[0]), want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[2]), gru.weight_hh_l0.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grads[3]),
                               np.concatenate([gru.bias_ih_l0.grad.numpy(), gru.bias_hh_l0.grad.numpy()]),
                               rtol=1e-10, atol=1e-12)
