"""dlaccelerate: an AcceleratedFunction with its own cache, statistics and clear_cache."""
import numpy as np

import dlgrad as dl
from dlgrad import AcceleratedFunction, dlaccelerate, dlarray, dlfeval, dlgradient, extractdata


def _counted_loss():
    calls = []

    def loss(x, scale):
        calls.append(1)
        y = dl.sum(x ** 2) * scale
        return y, dlgradient(y, x)
    return loss, calls


def test_statistics_and_clear_cache(backend):
    loss, calls = _counted_loss()
    accfun = dlaccelerate(loss)
    assert isinstance(accfun, AcceleratedFunction) and accfun.function is loss and accfun.Function is loss
    x = dlarray(np.array([1.0, 2.0]))
    for _ in range(5):
        y, g = accfun(x, 1.0)
    assert float(y) == 5.0 and extractdata(g).tolist() == [2.0, 4.0]
    y, g = dlfeval(accfun, x, 2.0)                   # MATLAB's usage: dlfeval of the accelerated function
    assert float(y) == 10.0
    accfun(dlarray(np.ones(3)), 1.0)
    assert (accfun.hits, accfun.misses, accfun.cache_size) == (4, 3, 3)
    assert accfun.hit_rate == accfun.HitRate == 100 * 4 / 7
    assert len(calls) == 3
    assert "3 signatures" in repr(accfun)
    accfun.clear_cache()
    assert (accfun.hits, accfun.misses, accfun.cache_size) == (0, 0, 0)
    accfun(x, 1.0)
    assert len(calls) == 4 and accfun.misses == 1


def test_own_cache_is_separate_from_dlfeval():
    loss, calls = _counted_loss()
    accfun = dlaccelerate(loss)
    x = dlarray(np.array([1.0, 2.0]))
    dlfeval(loss, x, 1.0)
    accfun(x, 1.0)
    accfun(x, 1.0)
    assert len(calls) == 2 and accfun.hits == 1


def test_capacity_and_disabled():
    loss, calls = _counted_loss()
    accfun = dlaccelerate(loss, max_cache_size=2)
    x = dlarray(np.array([1.0, 2.0]))
    for scale in (1.0, 2.0, 3.0):
        accfun(x, scale)
    assert accfun.cache_size == 2 and accfun.Occupancy == 100.0
    accfun.clearCache()
    accfun.enabled = False
    accfun(x, 1.0)
    accfun(x, 1.0)
    assert accfun.cache_size == 0 and len(calls) == 5


def test_inside_another_trace_it_is_recorded_inline():
    inner = dlaccelerate(lambda x: dl.sum(dl.exp(x)))

    def outer(x):
        y = inner(x)
        return dlgradient(y, x)

    g = dlfeval(outer, dlarray(np.array([0.0, 1.0])))
    np.testing.assert_allclose(extractdata(g), np.exp([0.0, 1.0]), rtol=1e-15)
    assert inner.cache_size == 0
