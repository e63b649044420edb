"""Eager scan, lstm, gru and predict run the compiled loop (traced once per signature) instead of a
Python loop per step: the values are the old eager path's, a second call does not trace again, and
a step that cannot be traced still runs in Python."""
from __future__ import annotations

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.errors import ShapeError
from dlgrad.frontend import eager_loops, recurrence
from dlgrad.frontend.nn.recurrent import gru_scan, lstm_scan

RNG = np.random.default_rng(12)
C, H, B, T = 3, 4, 2, 7


def _lstm_args(dtype=np.float64):
    return (dl.dlarray(RNG.standard_normal((C, B, T)).astype(dtype), "CBT"), np.zeros(H), RNG.standard_normal(H),
            RNG.standard_normal((4 * H, C)), RNG.standard_normal((4 * H, H)) * 0.5, RNG.standard_normal(4 * H))


def _values(results):
    return [dl.extractdata(r) for r in results]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eager_lstm_and_gru_equal_the_python_loop_and_trace_once(dtype, monkeypatch):
    args = _lstm_args(dtype)
    X, W3, R3 = args[0], args[3][:3 * H], args[4][:3 * H]
    calls = [lambda: dl.lstm(*args), lambda: dl.gru(X, args[1], W3, R3, args[5][:3 * H],
                                                    ResetGateMode="before-multiplication", StateActivationFunction="softsign")]
    compiled = [_values(call()) for call in calls]
    lstm_misses, gru_misses = (eager_loops.programs[f.__wrapped__].misses for f in (lstm_scan, gru_scan))
    again = [_values(call()) for call in calls]
    assert eager_loops.programs[lstm_scan.__wrapped__].misses == lstm_misses   # no new trace
    assert eager_loops.programs[gru_scan.__wrapped__].misses == gru_misses
    monkeypatch.setattr(recurrence, "run_scan", lambda scan, step, init, xs, length, reverse, loop: loop())
    stepped = [_values(call()) for call in calls]
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for got, second, want in zip(compiled, again, stepped):
        for a, b, c in zip(got, second, want):
            assert a.dtype == c.dtype and a.shape == c.shape
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c, rtol=tol, atol=tol)


def test_eager_predict_with_an_lstm_layer_is_one_compiled_call():
    net = dl.dlnetwork([dl.sequenceInputLayer(C), dl.lstmLayer(H), dl.fullyConnectedLayer(2)], seed=1,
                       dtype=np.float64)
    X = dl.dlarray(RNG.standard_normal((C, B, 50)), "CBT")
    first = dl.extractdata(dl.predict(net, X))
    cache = eager_loops.programs[lstm_scan.__wrapped__]
    misses = cache.misses
    second = dl.extractdata(dl.predict(net, X * 1.0))
    assert cache.misses == misses
    np.testing.assert_array_equal(first, second)
    traced = dl.extractdata(dl.dlfeval(lambda net, X: dl.predict(net, X), net, X))
    np.testing.assert_allclose(first, traced, rtol=1e-12, atol=1e-14)


def test_eager_scan_is_compiled_per_step_and_reads_its_closure_each_call():
    X = dl.dlarray(RNG.standard_normal((30, 3)))

    def run(W):   # a new closure cell per call: values must follow W
        return dl.scan(lambda h, x: (dl.tanh(W * h + x), h * 2), dl.dlarray(np.zeros(3)), X)

    for _ in range(2):
        W = RNG.standard_normal(3)
        hT, ys = run(dl.dlarray(W))
        h, want = np.zeros(3), []
        for x in dl.extractdata(X):
            want.append(2 * h)
            h = np.tanh(W * h + x)
        np.testing.assert_allclose(dl.extractdata(hT), h, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(dl.extractdata(ys), want, rtol=1e-13, atol=1e-15)

    scale = dl.dlarray(np.full(3, 0.5))
    step = lambda h, x: (h * scale + x, None)   # noqa: E731  one function, its captured array changes
    first, _ = dl.scan(step, dl.dlarray(np.zeros(3)), X, reverse=True)
    cache = eager_loops._steps[eager_loops._step_key(step)[0]][1]
    scale = dl.dlarray(np.full(3, 0.25))   # the cell now holds another array: read at the next call
    second, _ = dl.scan(step, dl.dlarray(np.zeros(3)), X, reverse=True)
    assert cache.misses == 1 and cache.hits == 1
    for got, s in ((first, 0.5), (second, 0.25)):
        h = np.zeros(3)
        for x in dl.extractdata(X)[::-1]:
            h = h * s + x
        np.testing.assert_allclose(dl.extractdata(got), h, rtol=1e-13)


def test_a_step_that_needs_values_still_steps_in_python():
    def step(c, x):
        return (c + x if float(x[0]) > 0 else c - x), None   # Python control flow on a value
    X = dl.dlarray(np.array([[1.0, 2.0], [-1.0, 5.0], [3.0, 1.0]]))
    for _ in range(2):
        out, _ = dl.scan(step, dl.dlarray(np.zeros(2)), X)
        assert dl.extractdata(out).tolist() == [5.0, -2.0]
    with pytest.raises(ShapeError, match="same at every step"):   # an eager-only error, as before
        dl.scan(lambda c, x: (c, x[:1] if float(x[0]) > 0.5 else x), dl.dlarray(np.zeros(3)),
                dl.dlarray(np.eye(3)))


def test_a_random_draw_in_an_eager_step_draws_at_every_step_as_before():
    dl.rng(3)
    out, _ = dl.scan(lambda c, x: (c + x * dl.rand(1, 2)[0], None), dl.dlarray(np.zeros(2)),
                     dl.dlarray(np.ones((3, 2))))
    dl.rng(3)
    want = sum(dl.extractdata(dl.rand(1, 2)[0]) for _ in range(3))
    np.testing.assert_allclose(dl.extractdata(out), want, rtol=1e-15)
