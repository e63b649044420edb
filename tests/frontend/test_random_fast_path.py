"""Functions that draw random numbers on the fast call path: the native dispatcher (or, with
DLGRAD_FASTCALL=0, the generated Python call) takes the stream's key itself, so it serves them,
draws what the Python path and eager draws would from the same key, and never gives two calls one
key, across threads and interleaved with Python-path draws."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend import random
from dlgrad.frontend.checkmode import AccelerationCheckWarning
from dlgrad.graph.ops.random import uniform_numpy


def _noisy(x):
    return x + dl.rand(1, 8), dl.randn(2, 3)


def _draws_of(counter, seed):
    """What _noisy(0) returns for the key (seed, counter): its draws at offsets 0 and 8."""
    key = np.array([seed, counter], dtype=np.int64)
    return uniform_numpy(key, (1, 8), "float64", 0)


def _native_available():
    from dlgrad.runtime import fastcall
    return fastcall.enabled() and fastcall.get() is not None


def _path(f):
    if type(f.__call__).__name__ == "Dispatcher":
        return "native"
    return "python" if f.__call__ != f.slow else "none"


def test_the_fast_path_serves_functions_that_draw(call_path):
    f = dl.dlaccelerate(_noisy)
    x = dl.dlarray(np.zeros((1, 8)))
    dl.rng(3)
    calls = [f(x) for _ in range(5)]   # a miss, a hit, then the promoted fast slot
    assert _path(f) == call_path and (f.hits, f.misses) == (4, 1)
    assert dl.rng() == dl.RandomState(3, 5)
    for c, (u, z) in enumerate(calls):   # each call drew with its own key, as eagerly
        np.testing.assert_array_equal(dl.extractdata(u), _draws_of(c, 3))
        assert z.shape == (2, 3) and type(z) is dl.dlarray
    dl.rng(3)
    again = [f(x) for _ in range(5)]   # rng(seed) reproduces the fast path's draws
    for (u, z), (u2, z2) in zip(calls, again):
        np.testing.assert_array_equal(dl.extractdata(u), dl.extractdata(u2))
        np.testing.assert_array_equal(dl.extractdata(z), dl.extractdata(z2))


def test_fast_and_python_paths_draw_the_same_numbers(monkeypatch):
    """The same seed through the native dispatcher, then through the generated Python call, then
    interleaved with eager draws: one stream, the same numbers whichever path served a call."""
    x = dl.dlarray(np.zeros((1, 8)))
    results = {}
    for path in ("native", "python"):
        if path == "python":
            monkeypatch.setenv("DLGRAD_FASTCALL", "0")
        f = dl.dlaccelerate(_noisy)
        f(x), f(x)   # promoted after these
        dl.rng(9)
        results[path] = [dl.extractdata(v) for _ in range(3) for v in f(x)]
        assert _path(f) == path or path == "native" and not _native_available()
    for a, b in zip(results["native"], results["python"]):
        np.testing.assert_array_equal(a, b)
    monkeypatch.delenv("DLGRAD_FASTCALL")
    f = dl.dlaccelerate(_noisy)
    f(x), f(x)
    dl.rng(9)
    mixed = [dl.extractdata(f(x)[0]), dl.extractdata(dl.rand(1, 8)), dl.extractdata(f(x)[0])]
    for c, got in enumerate(mixed):
        np.testing.assert_array_equal(got, _draws_of(c, 9))


def test_dlfeval_of_a_function_that_draws_takes_the_fast_path():
    from dlgrad.frontend.cache import cache_for, missed
    x = dl.dlarray(np.zeros((1, 8)))
    dl.rng(4)
    got = [dl.extractdata(dl.dlfeval(_noisy, x)[0]) for _ in range(4)]
    assert cache_for(_noisy).__call__ is not missed   # promoted: dlfeval's fast slot serves it
    for c, u in enumerate(got):
        np.testing.assert_array_equal(u, _draws_of(c, 4))


def test_the_counter_wraps_on_both_paths(call_path):
    f = dl.dlaccelerate(_noisy)
    x = dl.dlarray(np.zeros((1, 8)))
    f(x), f(x)
    last = 2 ** 63 - 1
    dl.rng(dl.RandomState(2, last))
    u, _ = f(x)
    assert _path(f) == call_path and dl.rng() == dl.RandomState(2, 0)
    np.testing.assert_array_equal(dl.extractdata(u), _draws_of(last, 2))


def test_a_native_call_waits_while_python_updates_the_stream():
    """While a Python thread is inside an update of the stream (its lock held, busy set), a native
    call takes no key: it runs the Python path, which waits for the lock, then draws the key the
    update left."""
    f = dl.dlaccelerate(_noisy)
    x = dl.dlarray(np.zeros((1, 8)))
    f(x), f(x)
    if not _native_available():
        pytest.skip("no native call path")
    assert _path(f) == "native"
    dl.rng(6)
    update, out = random._stream(), []
    state = update.__enter__()   # as rng() or next_key() in another thread, midway
    try:
        caller = threading.Thread(target=lambda: out.append(f(x)))
        caller.start()
        caller.join(0.3)
        assert caller.is_alive() and random.STREAM.tolist() == [6, 0, 1]   # waiting, no key taken
        state[1] = 100   # what the update writes
    finally:
        update.__exit__(None, None, None)
    caller.join()
    np.testing.assert_array_equal(dl.extractdata(out[0][0]), _draws_of(100, 6))
    assert dl.rng() == dl.RandomState(6, 101) and random.STREAM[2] == 0


def test_threads_never_share_a_key(call_path):
    """Threads calling one function on the fast path while others draw eagerly (the Python path,
    under the lock): every counter is used exactly once."""
    f = dl.dlaccelerate(lambda x: x + dl.rand(1, 8))
    x = dl.dlarray(np.zeros((1, 8)))
    f(x), f(x)
    assert _path(f) == call_path
    dl.rng(5)
    out, lock = [], threading.Lock()

    def work(draw):
        for _ in range(40):
            v = dl.extractdata(draw())
            with lock:
                out.append(v)
    threads = [threading.Thread(target=work, args=(lambda: f(x),)) for _ in range(3)]
    threads.append(threading.Thread(target=work, args=(lambda: dl.rand(1, 8),)))
    import sys
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads often: inside Python's updates of the stream too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert dl.rng() == dl.RandomState(5, 160)
    expected = sorted(_draws_of(c, 5).tobytes() for c in range(160))
    assert sorted(v.tobytes() for v in out) == expected


def _dropout_step(w, x):
    mask = dl.rand(3, 4) > 0.5
    h = dl.relu(w @ x) * mask / 0.5 + 0.1 * dl.randn(3, 4)
    loss = dl.sum(h ** 2)
    return loss, dl.dlgradient(loss, w)


def test_checkmode_compares_gradients_of_draws_with_the_same_key():
    """CheckMode's uncompiled evaluation of a function that draws and differentiates reads the
    key the compiled call then draws with (no false alarm), and the stream advances once per
    call; with CheckMode off again, the native path serves the function, on the same stream."""
    import warnings
    f = dl.dlaccelerate(_dropout_step)
    f.CheckMode, f.CheckTolerance = "tolerance", 1e-12
    rng = np.random.default_rng(0)
    w, x = dl.dlarray(rng.standard_normal((3, 5))), dl.dlarray(rng.standard_normal((5, 4)))
    dl.rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = [f(w, x) for _ in range(3)]
    assert dl.rng() == dl.RandomState(1, 3) and _path(f) == "none"
    f.CheckMode = "none"
    dl.rng(1)
    fast = [f(w, x) for _ in range(3)]
    assert _path(f) == ("native" if _native_available() else "python")
    for (loss, grad), (loss2, grad2) in zip(checked, fast):
        assert float(loss) == float(loss2)
        np.testing.assert_array_equal(dl.extractdata(grad), dl.extractdata(grad2))
    # the check does compare: a draw of numpy's own generator, frozen into the trace, is caught
    g = dl.dlaccelerate(lambda w: dl.sum(w * np.random.default_rng().standard_normal(5)))
    g.CheckMode = "tolerance"
    v = dl.dlarray(np.ones(5))
    with pytest.warns(AccelerationCheckWarning):
        g(v)
