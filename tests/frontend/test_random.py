"""rng/rand/randn/randi: Philox4x32-10 against the published answers, the C against the numpy
reference, new numbers on every call of a compiled function, reproducibility from a seed."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.codegen.lower import lower
from dlgrad.graph.ops.random import normal_numpy, philox4x32, random_normal, random_uniform, uniform_numpy
from dlgrad.graph.registry import input_node
from dlgrad.runtime import load

# Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words)
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox_known_answers(counter, key, expected):
    out = philox4x32([np.array([c], dtype=np.uint32) for c in counter], key)
    assert tuple(int(x[0]) for x in out) == expected


@pytest.fixture(scope="module")
def draws():
    """One C program drawing uniforms and normals in both dtypes, and its numpy references."""
    key = input_node(0, (2,), "int64")
    spec = [("random_uniform", (4, 250), "float32", 0), ("random_uniform", (1000,), "float64", 17),
            ("random_normal", (1000,), "float32", 5), ("random_normal", (2, 500), "float64", 2 ** 33)]
    build = {"random_uniform": random_uniform, "random_normal": random_normal}
    fn = load(lower([build[op](key, s, d, o) for op, s, d, o in spec], [((2,), "int64")]))
    return fn, spec


@pytest.mark.parametrize("key", [(0, 0), (12345678901234, 2 ** 40 + 7), (-1, 5)])
def test_c_equals_numpy_reference(draws, key):
    fn, spec = draws
    key = np.array(key, dtype=np.int64)
    reference = {"random_uniform": uniform_numpy, "random_normal": normal_numpy}
    for got, (op, shape, dtype, offset) in zip(fn(key), spec):
        want = reference[op](key, shape, dtype, offset)
        assert got.dtype == want.dtype and got.shape == want.shape
        if op == "random_uniform":   # bit for bit
            np.testing.assert_array_equal(got, want)
            assert got.min() >= 0 and got.max() < 1
        elif dtype == "float64":
            # Box-Muller through libm's (or libmvec's, within 4 ulp) log and cos against numpy's:
            # the error scales with the radius sqrt(-2 log(1 - u)), measured within 2 ulp of 4
            np.testing.assert_array_less(np.abs(got - want), 4 * np.spacing(np.maximum(np.abs(want), 4)))
        else:   # computed in double and rounded: float32 normals agree but for a rare 1-ulp tie
            np.testing.assert_array_less(np.abs(got - want), 1.5 * np.spacing(np.abs(want)))


def test_c_size_does_not_grow_with_draws():
    key = input_node(0, (2,), "int64")
    small = lower([random_normal(key, (10,), "float64", 0)], [((2,), "int64")]).source
    large = lower([random_normal(key, (10 ** 6,), "float64", 0)], [((2,), "int64")]).source
    assert abs(len(large) - len(small)) < 100   # the sizes written in digits, no table


def test_statistics():
    dl.rng(3)
    u = dl.extractdata(dl.rand(1, 100_000)).ravel()
    z = dl.extractdata(dl.randn(1, 100_000)).ravel()
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert abs(z.mean()) < 0.015 and abs(z.var() - 1) < 0.02
    k = dl.extractdata(dl.randi(6, 1, 60_000)).ravel()
    assert set(np.unique(k)) == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    assert np.all(np.abs(np.bincount(k.astype(int))[1:] - 10_000) < 500)
    m = dl.extractdata(dl.randi((-2, 2), 1000))
    assert m.min() == -2 and m.max() == 2 and np.all(m == np.round(m))


def test_matlab_sizes_and_dtypes():
    assert dl.rand().shape == () and dl.rand(3).shape == (3, 3) and dl.randn(2, 4, 5).shape == (2, 4, 5)
    assert dl.rand((2, 3)).shape == (2, 3) and dl.rand(2, 0).shape == (2, 0)
    assert dl.rand(2).dtype == np.float64 and dl.randn(2, dtype="single").dtype == np.float32
    assert dl.randi(5, 2, 2, dtype=np.float32).dtype == np.float32


def test_eager_reproducible_and_advancing():
    dl.rng(42)
    a, b = dl.extractdata(dl.rand(3, 4)), dl.extractdata(dl.rand(3, 4))
    assert not np.array_equal(a, b)
    before = dl.rng(42)
    assert before == dl.RandomState(42, 2)
    np.testing.assert_array_equal(dl.extractdata(dl.rand(3, 4)), a)
    state = dl.rng()
    c = dl.extractdata(dl.randn(5))
    dl.rng(state)
    np.testing.assert_array_equal(dl.extractdata(dl.randn(5)), c)


def _noisy(x):
    return x + dl.rand(2, 3), x + dl.randn(2, 3), dl.randi(10, 2, 3)


def test_compiled_draws_new_numbers_each_call_and_reproduces(backend):
    x = dl.dlarray(np.zeros((2, 3)))
    dl.rng(7)
    first = [dl.extractdata(v) for v in dl.dlfeval(_noisy, x)]
    second = [dl.extractdata(v) for v in dl.dlfeval(_noisy, x)]
    for a, b in zip(first, second):
        assert not np.array_equal(a, b)
    # two draws of one call differ (consecutive ranges of one key)
    assert not np.array_equal(first[0], first[1])
    dl.rng(7)
    again = [dl.extractdata(v) for v in dl.dlfeval(_noisy, x)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # the first draw of a call is the eager draw from the same key
    dl.rng(7)
    np.testing.assert_array_equal(first[0], dl.extractdata(dl.rand(2, 3)))
    assert dl.rng().Counter == 1


def test_compiled_equals_interpreter():
    """The same seed gives the same numbers in C and on the numpy backend (uniforms exactly)."""
    from dlgrad.frontend.cache import clear_caches
    x = dl.dlarray(np.zeros((2, 3)))
    results = []
    for name in ("c", "numpy"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DLGRAD_BACKEND", name)
            clear_caches()
            dl.rng(11)
            results.append([dl.extractdata(v) for v in dl.dlfeval(_noisy, x)])
    clear_caches()
    (c, n) = results
    np.testing.assert_array_equal(c[0], n[0])
    np.testing.assert_array_equal(c[2], n[2])
    np.testing.assert_allclose(c[1], n[1], rtol=0, atol=1e-14)


def test_accelerated_function_draws_each_call():
    f = dl.dlaccelerate(lambda x: x * dl.rand(4, dtype="single"))
    x = dl.dlarray(np.ones((4, 4), dtype=np.float32))
    dl.rng(0)
    values = [dl.extractdata(f(x)) for _ in range(3)]
    assert not np.array_equal(values[0], values[1]) and not np.array_equal(values[1], values[2])
    dl.rng(0)
    np.testing.assert_array_equal(dl.extractdata(f(x)), values[0])


def test_no_gradient_through_draws():
    def loss(w):
        noisy = w * (1 + 0 * dl.randn(3, 1)) + dl.rand(3, 1)
        return dl.sum(noisy), dl.dlgradient(dl.sum(noisy), w)
    w = dl.dlarray(np.array([[1.0], [2.0], [3.0]]))
    _, g = dl.dlfeval(loss, w)
    np.testing.assert_array_equal(dl.extractdata(g), np.ones((3, 1)))


def test_threads_take_distinct_keys():
    dl.rng(5)
    f = dl.dlaccelerate(lambda x: x + dl.rand(1, 8))
    x = dl.dlarray(np.zeros((1, 8)))
    f(x)
    out, lock = [], threading.Lock()

    def work():
        for _ in range(20):
            v = dl.extractdata(f(x)).tobytes()
            with lock:
                out.append(v)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 80 and dl.rng().Counter == 81


@pytest.mark.parametrize("call, message", [
    (lambda: dl.rand(-1), "sizes"), (lambda: dl.rand(2.5), "sizes"), (lambda: dl.rand(2, dtype=np.int32), "dtype"),
    (lambda: dl.randi(0), "range"), (lambda: dl.randi(1.5), "imax"), (lambda: dl.rng(-3), "seed"),
    (lambda: dl.rng("shuffle"), "seed"), (lambda: dl.randi(2 ** 30, dtype="single"), "range")])
def test_bad_arguments(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_key_among_captured_inputs():
    """A captured dlarray lifted to an input after the key (and one before it) is fed in its place."""
    weights = {"before": dl.dlarray(np.full((2, 3), 10.0)), "after": dl.dlarray(np.full((2, 3), 100.0))}

    def f(x):
        y = x * weights["before"]
        return y + dl.rand(2, 3) + weights["after"]
    x = dl.dlarray(np.ones((2, 3)))
    dl.rng(2)
    out = dl.extractdata(dl.dlfeval(f, x))
    dl.rng(2)
    np.testing.assert_array_equal(out, 10.0 + dl.extractdata(dl.rand(2, 3)) + 100.0)
    weights["after"] = dl.dlarray(np.full((2, 3), 1000.0))
    dl.rng(2)
    np.testing.assert_array_equal(dl.extractdata(dl.dlfeval(f, x)) - out, 900.0)


def test_checkmode_compares_with_the_same_draws():
    import warnings
    f = dl.dlaccelerate(lambda x: x + dl.randn(3, 4) + dl.rand(3, 4))
    f.CheckMode, f.CheckTolerance = "tolerance", 1e-12
    x = dl.dlarray(np.zeros((3, 4)))
    dl.rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, second = dl.extractdata(f(x)), dl.extractdata(f(x))
    assert not np.array_equal(first, second) and dl.rng().Counter == 2
