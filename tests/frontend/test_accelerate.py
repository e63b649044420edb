"""dlaccelerate: an AcceleratedFunction with its own cache, statistics and clear_cache."""
import numpy as np
import pytest

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


def test_signature_called_twice_in_a_row_gets_a_generated_call(backend):
    """The hit path of the signature in use is one generated frame; any other call still works."""
    def f(x, w):
        y = dl.sum(x * w) ** 2
        return y, dlgradient(y, x)
    accfun = dlaccelerate(f)
    x, w = dlarray(np.array([1.0, 2.0])), dlarray(np.array([3.0, -1.0]))
    for _ in range(4):
        y, g = accfun(x, w)
        assert float(y) == 1.0 and extractdata(g).tolist() == [6.0, -2.0]
    assert _promoted(accfun) == (backend == "c")   # the numpy backend has no compiled call to join
    assert (accfun.hits, accfun.misses) == (3, 1)
    assert type(accfun) is AcceleratedFunction and not _promoted(dlaccelerate(f))
    # other shapes, formats, dtypes, structures and traced values leave the generated path
    y, g = accfun(dlarray(np.ones(3)), dlarray(np.ones(3)))
    assert float(y) == 9.0 and extractdata(g).tolist() == [6.0] * 3
    y, _ = accfun(dlarray(np.array([1.0, 2.0], np.float32)), dlarray(np.array([1.0, 1.0], np.float32)))
    assert y.dtype == np.float32 and float(y) == 9.0
    y, _ = accfun(dlarray(np.array([[1.0], [2.0]]), "CB"), dlarray(np.array([[3.0], [-1.0]]), "CB"))
    assert float(y) == 1.0
    assert float(accfun(x, 2.0)[0]) == 36.0
    assert float(dlfeval(lambda a, b: accfun(a, b)[0] * 2, x, w)) == 2.0
    assert (accfun.hits, accfun.misses) == (3, 5)   # inside a trace it is recorded inline
    accfun(x, w)
    assert accfun.hits == 4 and float(accfun(x, w)[0]) == 1.0
    accfun.enabled = False
    assert not _promoted(accfun)
    accfun.enabled = True
    accfun.clear_cache()
    assert not _promoted(accfun) and accfun.hits == 0


def _promoted(accfun):
    return accfun.__call__ != accfun.slow


def _hit_path(accfun):
    return "native" if type(accfun.__call__).__name__ == "Dispatcher" else "python"


def test_both_hit_paths_give_the_same_results(call_path):
    def f(x, w):
        y = dl.sum(x * w)
        return [y, (dlgradient(y, x), "tag", 3)], dlgradient(y, w)

    def g(x, w):
        return {"p": x * w, "q": x + 1}
    x = dlarray(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), "CB")
    w = dlarray(np.array([[0.5, -1.0], [2.0, 0.0]], np.float32), "CB")
    for fn in (f, g):
        accfun = dlaccelerate(fn)
        results = [accfun(x, w) for _ in range(4)]
        assert _hit_path(accfun) == call_path and (accfun.hits, accfun.misses) == (3, 1)
        first, last = dl.frontend.tree.flatten(results[0]), dl.frontend.tree.flatten(results[-1])
        assert first[1] == last[1]   # the same structure
        for a, b in zip(first[0], last[0]):
            if isinstance(a, dlarray):
                assert type(b) is dlarray and b._fmt == a._fmt and b.dtype == np.float32
                assert np.array_equal(extractdata(a), extractdata(b))
            else:
                assert a == b
    [y, (gx, tag, three)], gw = dlaccelerate(f)(x, w)
    assert float(y) == 4.5 and tag == "tag" and three == 3 and gx._fmt == "CB"


def test_donation_on_the_hit_path(call_path):
    step = dlaccelerate(lambda p, g: p - 0.5 * g, donate=0)
    p, g = dlarray(np.array([1.0, 2.0, 3.0])), dlarray(np.array([2.0, 2.0, 2.0]))
    address = p._data.__array_interface__["data"][0]   # (holding p._data would forbid overwriting it)
    for expected in ([0.0, 1.0, 2.0], [-1.0, 0.0, 1.0], [-2.0, -1.0, 0.0]):
        p = step(p, g)
        assert p._data.__array_interface__["data"][0] == address and p._data.tolist() == expected
    assert _hit_path(step) == call_path
    data = p._data
    data.flags.writeable = False
    q = step(p, g)
    assert q._data is not data and q._data.tolist() == [-3.0, -2.0, -1.0] and data.tolist() == [-2.0, -1.0, 0.0]
    q = step(g, g)   # the same array twice: not overwritten
    assert q._data.tolist() == [1.0] * 3 and g._data.tolist() == [2.0] * 3


def test_keyword_arguments_on_the_promoted_path(backend, call_path):
    x, w = dlarray(np.array([1.0, 2.0])), dlarray(np.array([0.5, -1.0]))
    accfun = dlaccelerate(lambda x, w=None: dl.sum(x * (1.0 if w is None else w)))
    for _ in range(3):
        assert float(accfun(x, w)) == -1.5
    assert float(accfun(x, w=w)) == -1.5 and float(accfun(x)) == 3.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'v'"):
        accfun(x, v=w)
