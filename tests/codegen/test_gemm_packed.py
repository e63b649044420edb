"""Packed-panel matrix products (codegen/gemm.py `packs`): transposed operands read through
their strides, edge panels, overlapping last row blocks and k blocks, against numpy."""
import numpy as np
import pytest

from dlgrad.codegen import gemm, lower
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import input_node
from dlgrad.runtime import load

SWAP = (1, 0)
# (m, k, n) on the awkward sizes 1, 7, 129, 1000, each packed for a transposed B from 8 rows
SHAPES = [(129, 7, 1000), (1000, 129, 7), (129, 1000, 129), (8, 129, 1), (10, 1, 129), (7, 129, 129),
          (1, 1000, 7), (1000, 7, 129), (16, 33, 16)]


def product_case(shapes, dtype, layouts, seed=3):
    rng = np.random.default_rng(seed)
    outputs, specs, arrays, expected = [], [], [], []
    for m, k, n in shapes:
        xa, xb = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
        for transpose_a, transpose_b in layouts:
            a = input_node(len(specs), (k, m) if transpose_a else (m, k), dtype)
            b = input_node(len(specs) + 1, (n, k) if transpose_b else (k, n), dtype)
            specs += [(a.shape, dtype), (b.shape, dtype)]
            arrays += [np.ascontiguousarray(xa.T) if transpose_a else xa,
                       np.ascontiguousarray(xb.T) if transpose_b else xb]
            outputs.append(L.matmul(M.permute(a, SWAP) if transpose_a else a,
                                    M.permute(b, SWAP) if transpose_b else b))
            expected.append(xa.astype(np.float64) @ xb.astype(np.float64))
    return outputs, specs, arrays, expected


def assert_close(results, expected, dtype):
    # float32: a sum of k products of unit normals is off by about sqrt(k) eps relative to its scale
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for got, want in zip(results, expected):
        scale = np.abs(want).max() + 1e-30
        assert np.max(np.abs(got - want)) / scale < rtol, (got.shape, np.max(np.abs(got - want)) / scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_on_awkward_sizes_in_every_layout(dtype):
    layouts = [(False, False), (False, True), (True, False), (True, True)]
    outputs, specs, arrays, expected = product_case(SHAPES, dtype, layouts)
    program = lower(outputs, specs)
    assert "panel[" in program.source
    assert_close(load(program)(*arrays), expected, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_k_longer_than_a_panel_is_summed_in_blocks(dtype):
    """k > KC: partial sums over k blocks, and the overlapping last row block summed aside."""
    k = gemm.KC[{"float32": "float", "float64": "double"}[dtype]] * 2 + 37
    shapes = [(13, k, 21), (16, k, 16), (9, k, 3)]
    outputs, specs, arrays, expected = product_case(shapes, dtype, [(False, True), (True, True)])
    program = lower(outputs, specs)
    assert "last[" in program.source and "k0 += " in program.source
    assert_close(load(program)(*arrays), expected, dtype)


def test_batched_products_with_a_transposed_right_operand():
    rng = np.random.default_rng(5)
    a = input_node(0, (3, 20, 30), "float64")
    b = input_node(1, (3, 17, 30), "float32")   # B given transposed, per batch
    w = input_node(2, (17, 30), "float64")      # broadcast over the batch
    xa, xb, xw = rng.standard_normal((3, 20, 30)), rng.standard_normal((3, 17, 30)).astype("float32"), \
        rng.standard_normal((17, 30))
    from dlgrad.graph.ops.elementwise import cast
    outputs = [L.matmul(a, M.permute(cast(b, "float64"), (0, 2, 1))), L.matmul(a, M.permute(w, SWAP))]
    specs = [((3, 20, 30), "float64"), ((3, 17, 30), "float32"), ((17, 30), "float64")]
    program = lower(outputs, specs)
    got = load(program)(xa, xb, xw)
    assert_close(got, [xa @ np.swapaxes(xb.astype(np.float64), 1, 2), xa @ xw.T], "float64")


def test_a_transposed_right_operand_is_read_in_place():
    """The product packs the transposed operand's panels: no kernel copies it first."""
    a, bt = input_node(0, (128, 64), "float32"), input_node(1, (200, 64), "float32")
    source = lower([L.matmul(a, M.permute(bt, SWAP))], [((128, 64), "float32"), ((200, 64), "float32")]).source
    assert source.count("/* kernel ") == 1
    assert "panel[kk*16 + j] = src[j*64];" in source


def test_too_few_rows_to_pack_copy_the_transposed_operand():
    a, bt = input_node(0, (7, 64), "float32"), input_node(1, (200, 64), "float32")
    source = lower([L.matmul(a, M.permute(bt, SWAP))], [((7, 64), "float32"), ((200, 64), "float32")]).source
    assert source.count("/* kernel ") == 2 and "panel" not in source


def test_mlp_backward_has_no_transpose_kernel():
    """W3's dW1 = dH @ X^T and dW2 = dZ @ H^T read X and H through their strides."""
    from .test_golden_mlp import mlp_step_program
    source = mlp_step_program().source
    heads = [line for line in source.splitlines() if line.startswith("/* kernel ")]
    assert not any(head.endswith(": permute */") for head in heads), heads
    assert sum(": matmul over " in head and "(through permute)" in head for head in heads) == 3
