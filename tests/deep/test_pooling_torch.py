"""maxpool/avgpool against torch.nn.functional (values and gradients); skipped without torch.

MATLAB's avgpool counts padding as zeros (torch's count_include_pad=True); PaddingValue="mean"
averages the elements inside the input alone (count_include_pad=False)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlgrad as dl

torch = pytest.importorskip("torch")
F = torch.nn.functional


@st.composite
def geometries(draw):
    window = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in window)   # torch's limit: half the window
    size = tuple(draw(st.integers(k, 7)) for k in window)
    return size + (draw(st.integers(1, 3)), draw(st.integers(1, 3))), window, stride, padding


def _pools(x, u, window, stride, padding):
    outputs = (dl.maxpool(x, window, Stride=stride, Padding=padding),
               dl.avgpool(x, window, Stride=stride, Padding=padding),
               dl.avgpool(x, window, Stride=stride, Padding=padding, PaddingValue="mean"))
    loss = sum(dl.sum(dl.stripdims(y) * w) for y, w in zip(outputs, u))
    return outputs, dl.dlgradient(loss, x)


def _nchw(a):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (3, 2, 0, 1))))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometries(), st.sampled_from(["float64", "float32"]), st.integers(0, 2**31 - 1))
def test_matches_torch_max_pool2d_and_avg_pool2d(geometry, dtype, seed):
    shape, window, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    xt = _nchw(x).requires_grad_(True)
    torch_out = [F.max_pool2d(xt, window, stride, padding),
                 F.avg_pool2d(xt, window, stride, padding, count_include_pad=True),
                 F.avg_pool2d(xt, window, stride, padding, count_include_pad=False)]
    u = [rng.standard_normal(tuple(t.shape[i] for i in (2, 3, 1, 0))).astype(dtype) for t in torch_out]
    sum(torch.sum(t * _nchw(w)) for t, w in zip(torch_out, u)).backward()
    fn = lambda a, *w: _pools(a, w, window, stride, padding)   # noqa: E731  (a program per example)
    ours, grad = dl.dlfeval(fn, dl.dlarray(x, "SSCB"), *u)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for y, t in zip(ours, torch_out):
        np.testing.assert_allclose(dl.extractdata(y), np.transpose(t.detach().numpy(), (2, 3, 1, 0)),
                                   rtol=tol, atol=tol)
    np.testing.assert_allclose(dl.extractdata(grad), np.transpose(xt.grad.numpy(), (2, 3, 1, 0)),
                               rtol=tol, atol=tol)
