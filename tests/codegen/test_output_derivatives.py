"""Derivatives in terms of the op's own output: the backward pass reuses the forward value.

exp' = exp(x) is the forward value itself, sigmoid' = s(x) s(-x) reuses s(x); counting the calls in the generated C shows the forward value is not recomputed.
"""
from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import dlgrad as dl

lower = importlib.import_module("dlgrad.frontend.dlfeval").lower   # the module, not dlgrad.dlfeval


def calls(source, name):
    """Calls of the C function `name` inside kernels (declarations and helpers excluded)."""
    kernels = "\n".join(re.findall(r"/\* kernel \d+.*?\n}\n", source, flags=re.S))
    return len(re.findall(rf"(\b|_){name}\(", kernels))


def _softmax_crossentropy(z, t):
    loss = dl.crossentropy(dl.softmax(z), t)
    return loss, dl.dlgradient(loss, z)


def test_softmax_crossentropy_gradient_calls_exp_once_per_element():
    rng = np.random.default_rng(0)
    Z = dl.dlarray(rng.standard_normal((10, 64)), "CB")
    T = dl.dlarray(np.eye(10)[:, rng.integers(0, 10, 64)], "CB")
    source = lower(_softmax_crossentropy, Z, T).c_source
    assert calls(source, "exp") == 1
    loss, grad = dl.dlfeval(_softmax_crossentropy, Z, T)
    Zd, Td = dl.extractdata(Z), dl.extractdata(T)
    p = np.exp(Zd - Zd.max(0)) / np.exp(Zd - Zd.max(0)).sum(0)
    np.testing.assert_allclose(dl.extractdata(grad), (p - Td) / 64, rtol=1e-12, atol=1e-15)


def _sum_of(name):
    def f(x):
        y = dl.sum(getattr(dl, name)(x))
        return y, dl.dlgradient(y, x)
    return f


@pytest.mark.parametrize("name, helper, count", [("sigmoid", "dl_sigmoid", 2), ("exp", "exp", 1)])
def test_value_and_gradient_reuse_the_forward_value(name, helper, count):
    # sigmoid: s(x) once for the value, s(-x) once for s(x) s(-x); it was s(x) three times
    x = dl.dlarray(np.linspace(0.5, 3.0, 1000))
    source = lower(_sum_of(name), x).c_source
    assert calls(source, helper) == count


def test_tanh_keeps_its_accurate_derivative():
    # 1 - y^2 would reuse tanh's output but cancels for |x| > 10 (docs/numerics.md): tanh' stays
    # 4 s(2x) s(-2x) of the input, exact where it matters
    _, grad = dl.dlfeval(_sum_of("tanh"), dl.dlarray(np.array([20.0, -20.0, 0.0])))
    np.testing.assert_allclose(dl.extractdata(grad), 1 / np.cosh([20.0, -20.0, 0.0]) ** 2, rtol=1e-14)
