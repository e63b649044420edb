"""Objectives that draw random numbers: common random numbers (one key fixed for the objective,
taken from the global stream at the first draw), so scipy sees one deterministic function;
resample() draws a new sample. The reference is the same function evaluated eagerly with the
same key (rng(seed) then eager draws), and the closed-form minimiser of the sampled objective."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.optimize import objective

so = pytest.importorskip("scipy.optimize")
from dlgrad.optimize import minimize  # noqa: E402

N = 40


def noisy(w):
    """sum_i |w - 0.1 z_i|^2 over N normal draws z_i of w's length: minimised by 0.1 mean(z)."""
    z = dl.randn(N, 3)
    return dl.sum((dl.reshape(w, (1, 3)) - 0.1 * z) ** 2)


def _sample(seed, counter):
    """The draws of noisy for the key (seed, counter): the eager draw from that key."""
    before = dl.rng(dl.RandomState(seed, counter))
    z = dl.extractdata(dl.randn(N, 3))
    dl.rng(before)
    return z


def _value(w, z):
    return float(np.sum((w[None, :] - 0.1 * z) ** 2))


OBJ = objective(noisy)   # shared: compiled once for the module


def test_every_evaluation_sees_one_sample():
    dl.rng(21)
    x = np.array([0.3, -0.2, 0.1])
    first = OBJ(x)
    key = OBJ.random_key
    assert dl.rng().Counter == key[1] + 1   # the objective took one key from the stream
    z = _sample(*key)
    for _ in range(3):   # the raw native path after the first call: the same numbers
        f, g = OBJ(x)
        assert f == first[0]
        np.testing.assert_array_equal(g, first[1])
    np.testing.assert_allclose(first[0], _value(x, z), rtol=1e-13)
    np.testing.assert_allclose(first[1], 2 * np.sum(x[None, :] - 0.1 * z, axis=0), rtol=1e-12)
    assert OBJ.value(x) == first[0]   # the value alone, the Hessian: the same sample
    np.testing.assert_allclose(OBJ.hessp(x, np.ones(3)), np.full(3, 2.0 * N), rtol=1e-13)
    assert OBJ.random_key == key and dl.rng().Counter == key[1] + 1


def test_lbfgsb_minimises_the_sample_and_resample_draws_a_new_one():
    obj = objective(noisy)
    dl.rng(5)
    result = so.minimize(obj, np.zeros(3), jac=True, method="L-BFGS-B", options={"gtol": 1e-12})
    assert result.success and obj.random_key == (5, 0)
    np.testing.assert_allclose(result.x, 0.1 * _sample(5, 0).mean(axis=0), atol=1e-8)
    before = obj(result.x)[0]
    obj.resample()
    assert obj.random_key == (5, 1)
    after = obj(result.x)[0]
    assert after != before
    np.testing.assert_allclose(after, _value(result.x, _sample(5, 1)), rtol=1e-13)


def test_rng_reproduces_a_solve():
    solutions = []
    for _ in range(2):
        dl.rng(8)
        solutions.append(minimize(noisy, np.zeros(3), method="BFGS").x)
    np.testing.assert_array_equal(solutions[0], solutions[1])
    np.testing.assert_allclose(solutions[0], 0.1 * _sample(8, 0).mean(axis=0), atol=1e-6)


def test_constraints_that_draw_see_the_objectives_sample():
    """sum(w) >= 1 + 0.1 sum of the first row of the draws (active at the solution): the
    constraint draws the objective's numbers."""
    def row_bound(w):
        z = dl.randn(N, 3)
        return dl.reshape(dl.sum(w) - 0.1 * dl.sum(z[0, :]) - 1, (1,))
    dl.rng(13)
    result = minimize(noisy, np.zeros(3), method="SLSQP",
                      constraints={"type": "ineq", "fun": row_bound})
    z = _sample(13, 0)
    assert result.success and dl.rng().Counter == 1
    np.testing.assert_allclose(result.x.sum(), 1 + 0.1 * z[0].sum(), atol=1e-8)


def test_an_objective_that_does_not_draw_takes_no_key():
    obj = objective(lambda w: dl.sum(w ** 2))
    dl.rng(2)
    obj(np.ones(3)), obj(np.ones(3))
    obj.resample()   # nothing to resample
    assert obj.random_key is None and obj.inputs == () and dl.rng() == dl.RandomState(2, 0)
