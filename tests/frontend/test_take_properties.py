"""Runtime-index gathers drawn by hypothesis: shapes, axis, index shapes and repeated indices.

Each draw compiles one function of (x, indices, u): the gather (np.take or np.take_along_axis),
the gradient of sum(gathered^2 * u) (a scatter-add: np.add.at) and x minus that gradient (the
scatter written into x, index_add). Values against numpy in float32 and float64, the gradient
against central finite differences in float64. Index counts reach past the blocked loops of
codegen/kinds/take.py (more than two cache lines of indices)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlgrad as dl


def _gathered(x, idx, u, axis, along):
    y = dl.take_along_axis(x, idx, axis) if along else dl.take(x, idx, axis)
    loss = dl.sum(y * y * u)
    grad = dl.dlgradient(loss, x)
    return y, loss, grad, x - grad


def _grids(shape, axis, idx):
    """The index tuple np.add.at needs for take_along_axis: idx on `axis`, positions elsewhere."""
    grids = list(np.indices(shape, sparse=True))
    grids[axis] = idx
    return tuple(grids)


def expected(x, idx, u, axis, along):
    """(gathered, loss, gradient) by numpy: the gradient as np.add.at of 2 * y * u."""
    y = np.take_along_axis(x, idx, axis) if along else np.take(x, idx, axis)
    contribution = 2 * y * u
    grad = np.zeros_like(x)
    if along:
        np.add.at(grad, _grids(idx.shape, axis, idx), contribution)
    else:   # idx's axes first, then x's other axes in order: the layout of np.moveaxis(grad, axis, 0)
        moved = np.moveaxis(contribution, list(range(axis, axis + idx.ndim)), list(range(idx.ndim)))
        np.add.at(np.moveaxis(grad, axis, 0), idx, moved)
    return y, np.sum(y * y * u), grad


@st.composite
def gathers(draw):
    """(x, idx, u, axis, along): x of 1-3 axes, idx with repeats (drawn from few values), u the
    weights of the gathered values."""
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = draw(st.integers(0, len(shape) - 1))
    along = draw(st.booleans())
    n = shape[axis]
    if along:
        index_shape = shape[:axis] + (draw(st.sampled_from([1, 3, 40])),) + shape[axis + 1:]
    else:
        index_shape = draw(st.sampled_from([(), (5,), (3, 2), (37,), (2, 37)]))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, draw(st.integers(1, n)), index_shape)   # values from [0, m): repeats
    x = rng.standard_normal(shape).astype(dtype)
    taken = np.take_along_axis(x, idx, axis) if along else np.take(x, idx, axis)
    u = rng.standard_normal(taken.shape).astype(dtype)
    return x, idx, u, axis, along


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gathers())
def test_gathers_and_scatters_against_numpy(case):
    x, idx, u, axis, along = case
    y, loss, grad, updated = dl.dlfeval(_gathered, dl.dlarray(x), idx, dl.dlarray(u), axis, along)
    want_y, want_loss, want_grad = expected(x.astype(np.float64), idx, u.astype(np.float64), axis, along)
    tol = dict(rtol=1e-12, atol=1e-12) if x.dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    assert np.array_equal(np.asarray(y), want_y.astype(x.dtype))   # a gather moves values unchanged
    for got, want in ((grad, want_grad), (updated, x - want_grad)):
        assert got.dtype == x.dtype
        np.testing.assert_allclose(np.asarray(got), want, **tol)
    assert float(loss) == pytest.approx(want_loss, rel=1e-4 if x.dtype == np.float32 else 1e-12)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gathers())
def test_gradient_against_central_differences(case):
    x, idx, u, axis, along = case
    x, u = x.astype(np.float64), u.astype(np.float64)
    f = dl.dlaccelerate(_gathered)
    direction = np.random.default_rng(0).standard_normal(x.shape)
    grad = np.asarray(f(dl.dlarray(x), idx, dl.dlarray(u), axis, along)[2])
    eps = 1e-6
    plus = float(f(dl.dlarray(x + eps * direction), idx, dl.dlarray(u), axis, along)[1])
    minus = float(f(dl.dlarray(x - eps * direction), idx, dl.dlarray(u), axis, along)[1])
    assert np.sum(grad * direction) == pytest.approx((plus - minus) / (2 * eps), rel=1e-6, abs=1e-8)
    assert f.misses == 1   # the shifted points reuse the compiled program
