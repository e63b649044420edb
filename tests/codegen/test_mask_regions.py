"""Elementwise kernels whose masks select row ranges (the adjoint of slicing a concatenation, an
LSTM's gates) run one loop per range with every condition decided: no test inside the loop."""
from __future__ import annotations

import re

import numpy as np

import dlgrad as dl


def _gates(z):
    H = z.shape[0] // 4
    i, f, g, o = dl.sigmoid(z[:H]), dl.sigmoid(z[H:2 * H]), dl.tanh(z[2 * H:3 * H]), dl.sigmoid(z[3 * H:])
    return dl.sum(i * g + f * o)


def _value_and_gradient(z):
    y = _gates(z)
    return y, dl.dlgradient(y, z)


def test_gate_gradient_is_right_and_unconditional():
    z = np.random.default_rng(0).standard_normal((64, 8))
    value, grad = dl.dlfeval(_value_and_gradient, dl.dlarray(z))
    s = lambda v: 1 / (1 + np.exp(-v))   # noqa: E731
    i, f, g, o = s(z[:16]), s(z[16:32]), np.tanh(z[32:48]), s(z[48:])
    assert abs(float(value) - np.sum(i * g + f * o)) < 1e-12
    want = np.concatenate([g * i * (1 - i), o * f * (1 - f), i * (1 - g ** 2), f * o * (1 - o)])
    np.testing.assert_allclose(dl.extractdata(grad), want, rtol=1e-12, atol=1e-15)
    source = dl.lower(_value_and_gradient, dl.dlarray(z)).c_source
    kernel = next(k for k in source.split("/* kernel ")[1:] if "elementwise over [64, 8]" in k.split("\n")[0])
    assert len(re.findall(r"for \(ptrdiff_t t = 0; t < 16; \+\+t\)", kernel)) == 4
    assert not re.search(r"const int m\d+ = \(", kernel) and not re.search(r"\? [a-z]+\d*\[", kernel), kernel
