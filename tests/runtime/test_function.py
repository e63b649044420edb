import threading

import numpy as np
import pytest

from dlgrad.errors import DlgradError, ShapeError
from dlgrad.runtime import load, trampoline
import runtime_programs as programs

X = np.array([-1.0, 2.0])


def check_rosenbrock(f):
    value, grad = f(X)
    assert value.shape == () and value.dtype == np.float64 and value == 104.0
    assert grad.dtype == np.float64 and grad.tolist() == [396.0, 200.0]


def test_rosenbrock():
    f = load(programs.rosenbrock())
    check_rosenbrock(f)
    assert f.program.entry == "rosenbrock" and f.so_path.endswith(".so")
    assert f.call(X)[0] == 104.0


def test_float32():
    f = load(programs.affine_f32())
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (y,) = f(x)
    assert y.dtype == np.float32 and np.array_equal(y, 2 * x + 1)


def test_workspace():
    f = load(programs.smooth())
    x = np.random.default_rng(0).standard_normal(2048)
    y, total = f(x)
    want, want_total = programs.smooth_reference(x)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(total, want_total, rtol=1e-10)


def test_threads_each_get_their_own_workspace():
    f = load(programs.smooth())
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal(2048) for _ in range(8)]
    serial = [f(x) for x in inputs]
    results = [[] for _ in inputs]
    start = threading.Barrier(len(inputs))

    def work(i):
        start.wait()
        for _ in range(25):
            results[i].append(f(inputs[i]))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for want, got in zip(serial, results):
        for y, total in got:
            assert np.array_equal(y, want[0]) and total == want[1]


def test_read_only_and_subclass_inputs_are_accepted():
    f = load(programs.rosenbrock())
    x = X.copy()
    x.flags.writeable = False
    assert f(x)[0] == 104.0

    class Sub(np.ndarray):
        pass
    assert f(X.view(Sub))[0] == 104.0


@pytest.mark.parametrize("args, error, words", [
    ((), TypeError, ["expected 1 input arrays, got 0"]),
    ((X, X), TypeError, ["expected 1 input arrays, got 2"]),
    (([-1.0, 2.0],), TypeError, ["input 0", "list"]),
    ((X.astype(np.float32),), TypeError, ["input 0", "float64", "float32"]),
    ((np.zeros(3),), ShapeError, ["input 0", "(2,)", "(3,)"]),
    ((np.zeros((2, 1)),), ShapeError, ["input 0", "(2,)", "(2, 1)"]),
    ((np.zeros(4)[::2],), ShapeError, ["input 0", "C-contiguous"]),
])
def test_bad_arguments_are_named(args, error, words):
    f = load(programs.rosenbrock())
    with pytest.raises(error) as info:
        f(*args)
    for word in words:
        assert word in str(info.value)


def test_call_into():
    f = load(programs.rosenbrock())
    value, grad = np.empty(()), np.empty(2)
    outs = f.call_into([X], [value, grad])
    assert outs[0] is value and value == 104.0 and grad.tolist() == [396.0, 200.0]
    with pytest.raises(ShapeError, match="output 1"):
        f.call_into([X], [value, np.empty(3)])
    frozen = np.empty(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="output 1 is read-only"):
        f.call_into([X], [value, frozen])
    with pytest.raises(TypeError, match="expected 2 output arrays"):
        f.call_into([X], [value])


def test_empty_arrays():
    f = load(programs.empty_arrays())
    y, total = f(np.empty(0))
    assert y.shape == (0,) and total == 0.0


def test_many_pointers_go_through_the_array_call():
    k = trampoline.MAX_DIRECT + 6
    f = load(programs.many_inputs(k))
    (total,) = f(*[np.array(float(i)) for i in range(k)])
    assert total == sum(range(k))


def test_failure_status_raises():
    f = load(programs.failing())
    with pytest.raises(DlgradError, match="failed with status 3"):
        f(np.zeros(1))


def test_abi_fallback(monkeypatch):
    def cannot_build():
        raise OSError("no Python headers")
    # a fresh, unbuilt extension for this test; the built one is restored afterwards
    monkeypatch.setattr(trampoline, "_extension", type(trampoline._extension)(cannot_build, "the fast call trampoline",
                                                                             "calling through cffi's slower ABI mode"))
    with pytest.warns(RuntimeWarning, match="slower ABI mode"):
        f = load(programs.rosenbrock())
    check_rosenbrock(f)
    value, grad = np.empty(()), np.empty(2)
    f.call_into([X], [value, grad])
    assert value == 104.0
    y, total = load(programs.smooth())(np.ones(2048))
    assert np.allclose(y, 1.0) and total == pytest.approx(2048.0)
    k = trampoline.MAX_DIRECT + 6
    assert load(programs.many_inputs(k))(*[np.array(1.0)] * k)[0] == k
    assert load(programs.empty_arrays())(np.empty(0))[1] == 0.0
    with pytest.raises(ShapeError, match="input 0"):
        f(np.zeros(3))


def test_workspace_is_64_byte_aligned():
    source = r"""
#include <stdint.h>
int misalignment(const void *const *in, void *const *out, void *work) {
    (void)in;
    *(double *)out[0] = (double)((uintptr_t)work % 64);
    return 0;
}
"""
    f = load(programs.Program(source, "misalignment", (), (((), "float64"),), work_bytes=24))
    assert f()[0] == 0.0
