"""The pool kernel kind: C whose size does not grow with the image, and OpenMP over
channels and batch that gives the same bits as one thread (and as the numpy reference)."""
from __future__ import annotations

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.codegen import lower
from dlgrad.graph.ops.pool import pooled_shape
from dlgrad.graph.registry import OPS, apply, input_node
from dlgrad.runtime import load

from .test_c_warnings import GCC, compile_strictly

MAX = {"axis": 0, "window": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0))}
AVG = {"axis": 0, "window": (3, 3), "stride": (1, 1), "padding": ((1, 1), (1, 1))}


def _net(x):
    """A small pooling net and its gradient: maxpool, relu, avgpool with padding."""
    y = dl.avgpool(dl.relu(dl.maxpool(x, 2, Stride=2)), 3, Padding=1)
    return dl.dlgradient(dl.sum(dl.stripdims(y) ** 2), x)


def test_c_size_does_not_grow_with_the_image():
    """28x28 and 112x112 images give C of the same size (within 10 %), without index tables:
    the windows are loops (the im2col gather wrote a table as large as the patches)."""
    sizes = []
    for n in (28, 112):
        x = dl.dlarray(np.zeros((n, n, 8, 16), dtype=np.float32), "SSCB")
        source = dl.lower(_net, x).c_source
        assert "_index" not in source and "pool over" in source
        sizes.append(len(source))
    assert abs(sizes[1] - sizes[0]) < 0.1 * sizes[0], sizes


def _graph(shape, dtype):
    """Every pooling op on one input x and cotangents g (max geometry) and h (avg geometry)."""
    x = input_node(0, shape, dtype)
    g = input_node(1, pooled_shape(shape, **MAX), dtype)
    h = input_node(2, pooled_shape(shape, **AVG), dtype)
    outputs = [apply("maxpool", x, **MAX), apply("maxpool_scatter", x, g, **MAX),
               apply("maxpool_gather", x, x, **MAX), apply("maxpool_index", x, **MAX),
               apply("avgpool", x, **AVG), apply("avgpool_spread", h, shape=shape, **AVG)]
    return outputs, [(tuple(n.shape), n.dtype) for n in (x, g, h)]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_threads_split_channels_and_batch_with_the_same_bits(threads, monkeypatch):
    """DLGRAD_NUM_THREADS=2: the tasks (batch x channel chunks) go to threads; each owns its
    outputs and its part of the adjoints, so the results are the numpy reference's bits."""
    from dlgrad.runtime import compiler
    monkeypatch.setenv("DLGRAD_NUM_THREADS", threads)
    shape = (32, 32, 16, 16)
    outputs, specs = _graph(shape, "float64")
    program = lower(outputs, specs)
    assert "DLGRAD_PARALLEL_ROWS" in program.source
    assert ("-fopenmp" in compiler.toolchain().flags) == (threads == "2")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s, _ in specs]
    arrays[0][:2, :2] = 0.5   # ties
    got = load(program)(*arrays)
    x, g, h = arrays
    want = [OPS["maxpool"].numpy(x, **MAX), OPS["maxpool_scatter"].numpy(x, g, **MAX),
            OPS["maxpool_gather"].numpy(x, x, **MAX), OPS["maxpool_index"].numpy(x, **MAX),
            OPS["avgpool"].numpy(x, **AVG), OPS["avgpool_spread"].numpy(h, shape=shape, **AVG)]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_small_pools_stay_on_one_thread():
    outputs, specs = _graph((4, 4, 2, 1), "float32")
    assert "DLGRAD_PARALLEL_ROWS" not in lower(outputs, specs).source


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("openmp", [(), ("-fopenmp", "-DDLGRAD_NUM_THREADS=2")], ids=["serial", "openmp"])
def test_pool_kernels_compile_warning_free(openmp, tmp_path):
    for dtype in ("float32", "float64"):
        compile_strictly(lower(*_graph((32, 32, 16, 16), dtype)).source, tmp_path, openmp)
