"""Register-blocked matrix products against numpy on awkward sizes, layouts and both dtypes."""
import numpy as np
import pytest

from dlgrad.codegen import lower
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import input_node
from dlgrad.runtime import load

SIZES = [(1, 7, 1), (7, 129, 33), (129, 17, 40), (16, 1000, 24), (9, 3, 130)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_products_of_every_layout(dtype):
    rng = np.random.default_rng(7)
    outputs, specs, arrays, expected = [], [], [], []
    for m, k, n in SIZES:
        a = input_node(len(specs), (m, k), dtype)
        specs.append(((m, k), dtype))
        b = input_node(len(specs), (k, n), dtype)
        specs.append(((k, n), dtype))
        at = input_node(len(specs), (k, m), dtype)   # A given transposed
        specs.append(((k, m), dtype))
        bt = input_node(len(specs), (n, k), dtype)   # B given transposed
        specs.append(((n, k), dtype))
        xa, xb = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
        arrays += [xa, xb, np.ascontiguousarray(xa.T), np.ascontiguousarray(xb.T)]
        swap = (1, 0)
        outputs += [L.matmul(a, b), L.matmul(M.permute(at, swap), b),
                    L.matmul(a, M.permute(bt, swap)), L.matmul(M.permute(at, swap), M.permute(bt, swap))]
        expected += [xa.astype(np.float64) @ xb.astype(np.float64)] * 4
    results = load(lower(outputs, specs))(*arrays)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for got, want in zip(results, expected):
        scale = np.abs(want).max() + 1e-30
        assert np.max(np.abs(got - want)) / scale < rtol * 50


PARALLEL_SIZES = [(128, 784, 128), (129, 300, 70), (7, 2000, 40)]   # blocked, remainders, row loop


def parallel_products(dtype):
    rng = np.random.default_rng(11)
    outputs, specs, arrays, expected = [], [], [], []
    for m, k, n in PARALLEL_SIZES:
        a, bt = input_node(len(specs), (m, k), dtype), input_node(len(specs) + 1, (n, k), dtype)
        specs += [((m, k), dtype), ((n, k), dtype)]
        xa, xbt = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
        arrays += [xa, xbt]
        outputs.append(L.matmul(a, M.permute(bt, (1, 0))))
        expected.append(xa.astype(np.float64) @ xbt.T.astype(np.float64))
    return outputs, specs, arrays, expected


@pytest.mark.parametrize("threads", ["1", "2"])
def test_products_split_between_threads_match_numpy(threads, monkeypatch):
    """DLGRAD_NUM_THREADS=2 builds with OpenMP: large products split their rows between threads."""
    from dlgrad.runtime import compiler
    monkeypatch.setenv("DLGRAD_NUM_THREADS", threads)
    outputs, specs, arrays, expected = parallel_products("float32")
    program = lower(outputs, specs)
    assert "DLGRAD_PARALLEL_ROWS" in program.source
    assert ("-fopenmp" in compiler.toolchain().flags) == (threads == "2")
    for got, want in zip(load(program)(*arrays), expected):
        assert np.max(np.abs(got - want)) / np.abs(want).max() < 1e-4


def test_small_products_stay_on_one_thread():
    a = input_node(0, (8, 16), "float64")
    assert "DLGRAD_PARALLEL_ROWS" not in lower([L.matmul(a, M.permute(a, (1, 0)))], [((8, 16), "float64")]).source


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_thread_counts_are_named(value, monkeypatch):
    from dlgrad.runtime import compiler
    monkeypatch.setenv("DLGRAD_NUM_THREADS", value)
    with pytest.raises(ValueError, match="DLGRAD_NUM_THREADS must be a positive integer"):
        compiler.toolchain()
