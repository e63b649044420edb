"""Explained retraces: AcceleratedFunction.explain() and DLGRAD_EXPLAIN=1 name why a call missed."""
import logging

import numpy as np

import dlgrad as dl
from dlgrad.frontend import explain

OFFSET = 1.0


def weighted(x, w, scale, options):
    return dl.sum(x * w) * scale + OFFSET


def ones(*shape, dtype=np.float64, fmt=None):
    return dl.dlarray(np.ones(shape, dtype), fmt) if fmt else dl.dlarray(np.ones(shape, dtype))


def last(f):
    return f.explained.explanations[-1]


def test_each_reason_is_named():
    f = dl.dlaccelerate(weighted)
    x, w = ones(3), ones(3)
    f(x, w, 0.5, {"k": 1})
    assert "first call" in f.explain()
    f(ones(4), w[:1], 0.5, {"k": 1})
    assert "argument 1 (x): shape (3,) before, now (4,)" in last(f)
    assert "argument 2 (w): shape (3,) before, now (1,)" in last(f)
    f(ones(3, dtype=np.float32), w, 0.5, {"k": 1})
    assert "argument 1 (x): dtype float64 before, now float32" in last(f)
    assert "argument 2" not in last(f)
    f(ones(3, 2, fmt="CB"), ones(3, 2, fmt="CB"), 0.5, {"k": 1})
    assert "format None before, now 'CB'" in last(f)
    f(x, w, 0.25, {"k": 1})
    assert "argument 3 (scale): the static value 0.25 is new (traced before with 0.5)" in last(f)
    assert "as a dlarray" in last(f)
    f(x, w, 0.5, {"k": 1, "j": 2})
    assert "argument 4 (options): was a dict of ('k',), now a dict of ('k', 'j')" in last(f)
    f(x, np.ones(3), 0.5, {"k": 1})
    assert "argument 2 (w): was a dlarray, now a numpy array" in last(f)
    f(x, w, 0.5, {"k": 1}, )
    assert f.misses == 7   # a hit: nothing new to explain
    assert len(f.explained.explanations) == 7


def test_changed_captured_values_are_named():
    global OFFSET
    f = dl.dlaccelerate(weighted)
    f(ones(3), ones(3), 1.0, None)
    OFFSET = 2.0
    try:
        f(ones(3), ones(3), 1.0, None)
    finally:
        OFFSET = 1.0
    assert "OFFSET (a global) was 1.0 when traced, now 2.0" in last(f)
    limit = [3.0]

    def clipped(x):
        return dl.minimum(dl.sum(x), limit[0])
    g = dl.dlaccelerate(clipped)
    g(ones(2))
    limit[0] = 4.0
    g(ones(2))
    assert "limit[0] (read through a closure variable) was 3.0 when traced, now 4.0" in last(g)


def test_an_evicted_signature_is_told_apart():
    f = dl.dlaccelerate(lambda x: dl.sum(x), max_cache_size=1)
    f(ones(2))
    f(ones(3))
    f(ones(2))
    assert "traced before but is no longer in the cache (it keeps 1 signatures" in last(f)


def test_hits_record_nothing_and_explain_without_misses():
    f = dl.dlaccelerate(lambda x: dl.sum(x))
    assert f.explain() == "no call has missed the cache"
    x = ones(2)
    for _ in range(5):
        f(x)
    assert f.hits == 4 and len(f.explained.explanations) == 1 and len(f.explained.seen) == 1
    f.clear_cache()
    assert f.explain() == "no call has missed the cache"


def test_environment_variable_logs_misses_of_dlfeval_and_dlaccelerate(monkeypatch, caplog):
    def loss(x, k):
        return dl.sum(x) * k
    with caplog.at_level(logging.WARNING, logger="dlgrad"):
        dl.dlfeval(loss, ones(2), 2)
        dl.dlfeval(loss, ones(2), 3)
    assert not caplog.records   # off unless asked for
    monkeypatch.setenv(explain.ENV, "1")
    with caplog.at_level(logging.WARNING, logger="dlgrad"):
        dl.dlfeval(loss, ones(2), 4)
        dl.dlfeval(loss, ones(2), 4)
    assert len(caplog.records) == 1
    assert "argument 2 (k): the static value 4 is new (traced before with 3)" in caplog.records[0].getMessage()


def test_description_of_nested_and_unusual_arguments():
    class Opaque:
        def __eq__(self, other):
            raise AssertionError("== must not be called")
        __hash__ = object.__hash__
    first, second = Opaque(), Opaque()   # both alive: compared by identity
    before = explain.describe(weighted, ({"w": ones(2)}, [1, 2], first), {})
    now = explain.describe(weighted, ({"w": ones(3)}, [1, 5], second), {})
    lines = explain.differences(before, now)
    assert "argument 1 (x)['w']: shape (2,) before, now (3,)" in lines[0]
    assert "argument 2 (w)[1]: the static value 5 is new (traced before with 2)" in lines[1]
    assert lines[2].startswith("argument 3 (scale): the static value")
