"""Elementwise epilogues of matrix products (kinds/matmul.py `epilogue`, gemm.py): a bias, an
activation or an update that reads a product where it is stored is computed by the
product's kernel. Values and gradients against the reference interpreter; the generated C
for the fusion; donation through an epilogue."""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.codegen import lower
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import input_node
from graph.support import Inputs, assert_close, vjp_graph

from .compiled import compile_graph, run
from .test_donation import check

# (m, k, n): register blocks with a row and column remainder, the row loop only, one row,
# k of 1000, and an 8-row product (the W3 backward's dH)
SHAPES = [(129, 7, 33), (7, 129, 129), (1, 7, 1000), (16, 1000, 7), (128, 10, 128)]


def layer(inputs, m, k, n, dtype, rng, activation="relu"):
    """activation(W @ X + b), b broadcast over the columns: its nodes and (W, X, b)."""
    w = inputs.add(rng.standard_normal((m, k)) / np.sqrt(k), dtype)
    x = inputs.add(rng.standard_normal((k, n)), dtype)
    b = inputs.add(rng.standard_normal((m, 1)), dtype)
    z = E.add(L.matmul(w, x), M.broadcast_to(b, (m, n)))
    return E.unary(activation, z), (w, x, b)


def kernel_heads(source):
    return [line for line in source.splitlines() if line.startswith("/* kernel ")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bias_and_activation_values_and_gradients(dtype):
    rng = np.random.default_rng(11)
    inputs, outputs = Inputs(), []
    for (m, k, n), activation in zip(SHAPES, ["relu", "tanh", "relu", "sigmoid", "relu"]):
        h, params = layer(inputs, m, k, n, dtype, rng, activation)
        u = inputs.add(rng.standard_normal((m, n)), dtype)
        outputs += [h, *vjp_graph(h, list(params), u)]
    got = run(outputs, inputs)
    want = evaluate(outputs, inputs.arrays)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, dtype, rtol=1e-12 if dtype == "float64" else 2e-5, what=f"output {i}")


def test_bias_and_relu_are_stored_with_the_product():
    """The forward layer is one kernel: the product's row blocks, then bias and relu over them."""
    rng = np.random.default_rng(1)
    inputs = Inputs()
    h, _ = layer(inputs, 128, 784, 128, "float32", rng)
    source = lower([h], inputs.specs).source
    (head,) = kernel_heads(source)
    assert head.startswith("/* kernel 0: matmul over [128, 128]: matmul, add, relu")
    assert "for (ptrdiff_t r = 0; r < 8; ++r) {" in source
    (got,) = run([h], inputs)
    assert_close(got, evaluate([h], inputs.arrays)[0], "float32", rtol=2e-5)


def test_relu_backward_joins_the_product_of_its_cotangent():
    """dZ = (W2^T @ dY) * relu'(Z): computed where W2^T @ dY is stored (W3's backward)."""
    rng = np.random.default_rng(2)
    inputs = Inputs()
    h, (w, x, b) = layer(inputs, 128, 64, 96, "float32", rng)
    w2 = inputs.add(rng.standard_normal((10, 128)), "float32")
    y = L.matmul(w2, h)
    u = inputs.add(rng.standard_normal((10, 96)), "float32")
    grads = vjp_graph(y, [w, x, b], u)
    heads = kernel_heads(lower(grads, inputs.specs).source)
    assert any("matmul over [128, 96]:" in head and "partial(relu)" in head for head in heads), heads
    for g, want in zip(run(grads, inputs), evaluate(grads, inputs.arrays)):
        assert_close(g, want, "float32", rtol=2e-5)


def test_epilogue_reading_the_product_transposed_is_a_kernel_of_its_own():
    a = input_node(0, (16, 16), "float64")
    p = L.matmul(a, a)
    out = E.add(p, M.permute(p, (1, 0)))
    heads = kernel_heads(lower([out], [((16, 16), "float64")]).source)
    assert heads[0].endswith(": matmul */") and "elementwise" in heads[1]
    x = np.random.default_rng(4).standard_normal((16, 16))
    assert_close(compile_graph([out], [((16, 16), "float64")])(x)[0], x @ x + (x @ x).T)


@pytest.mark.parametrize("rows", [64, 61])   # 61: the last row block overlaps the one before
def test_packed_products_take_accumulations_only(rows):
    """A packed product (here B transposed) of one k block computes an accumulation d + a @ b'
    (a loop step's dW) as it stores each block; other consumers (an activation, an optimizer
    step) stay a kernel of their own: they walk the panel's column strips (gemm.packed_epilogue)."""
    rng = np.random.default_rng(4)
    a, bt = input_node(0, (rows, 32), "float32"), input_node(1, (48, 32), "float32")
    d, e = input_node(2, (rows, 48), "float32"), input_node(3, (rows, 48), "float32")
    product = L.matmul(a, M.permute(bt, (1, 0)))
    specs = [((rows, 32), "float32"), ((48, 32), "float32"), ((rows, 48), "float32"), ((rows, 48), "float32")]
    arrays = [rng.standard_normal(s).astype(np.float32) for s, _ in specs]
    for out, kernels in ((E.unary("relu", product), 2), (E.add(d, product), 1),
                         (E.sub(d, E.mul(E.div(product, E.add(E.unary("sqrt", e), 1e-3)), 0.1)), 2)):
        source = lower([out], specs).source
        assert "panel" in source and len(kernel_heads(source)) == kernels, source
        assert_close(compile_graph([out], specs)(*arrays)[0], evaluate([out], arrays)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [64, 61])
def test_a_fused_accumulation_keeps_its_product_in_registers(rows):
    """d + a @ b' fused into a packed product that nothing else reads: the kernel writes only
    the sum (the product would be a buffer written and never read); read by another kernel
    too, the product is stored as before. Values as the interpreter's either way."""
    rng = np.random.default_rng(5)
    a, bt = input_node(0, (rows, 32), "float32"), input_node(1, (48, 32), "float32")
    d = input_node(2, (rows, 48), "float32")
    specs = [((rows, 32), "float32"), ((48, 32), "float32"), ((rows, 48), "float32")]
    arrays = [rng.standard_normal(s).astype(np.float32) for s, _ in specs]
    product = L.matmul(a, M.permute(bt, (1, 0)))
    for outs, stores_product in (([E.add(d, product)], False),
                                 ([E.add(d, product), E.unary("relu", product)], True)):
        source = lower(outs, specs).source
        assert ("C[(i + 0)*48 + j0 + j] = acc0[j];" in source) == stores_product, source
        for g, w in zip(compile_graph(outs, specs)(*arrays), evaluate(outs, arrays)):
            assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [61, 64, 9])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_donated_accumulation_is_added_once_in_every_row(rows, dtype):
    """d + a @ b' written over the donated d: the packed product's last row block overlaps the
    one before when rows % 8 != 0, and must not apply the epilogue to the shared rows again
    (it added the product twice to them, silently)."""
    rng = np.random.default_rng(5)
    d, a, bt = (input_node(i, s, dtype) for i, s in enumerate([(rows, 48), (rows, 32), (48, 32)]))
    out = E.add(d, L.matmul(a, M.permute(bt, (1, 0))))
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(rows, 48), (rows, 32), (48, 32)]]
    fn = check([out], arrays, [(0, 0)], [(0, 0)], rtol=1e-12 if dtype == "float64" else 1e-5)
    assert "panel" in fn.program.source


def test_an_update_in_the_epilogue_replaces_its_input():
    """w - 0.1 * (a @ g) written over the donated w by the product's kernel."""
    rng = np.random.default_rng(5)
    w, a, g = input_node(0, (20, 24), "float64"), input_node(1, (20, 9), "float64"), input_node(2, (9, 24), "float64")
    out = E.sub(w, E.mul(L.matmul(a, g), 0.1))
    arrays = [rng.standard_normal((20, 24)), rng.standard_normal((20, 9)), rng.standard_normal((9, 24))]
    fn = check([out], arrays, [(0, 0)], [(0, 0)])
    assert len(kernel_heads(fn.program.source)) == 1


def test_a_product_written_over_an_input_its_epilogue_reads_is_not_donated():
    """The product is stored before its epilogue reads the input at the same place."""
    rng = np.random.default_rng(6)
    y, a, b = input_node(0, (16, 16), "float64"), input_node(1, (16, 5), "float64"), input_node(2, (5, 16), "float64")
    product = L.matmul(a, b)
    arrays = [rng.standard_normal((16, 16)), rng.standard_normal((16, 5)), rng.standard_normal((5, 16))]
    check([product, E.add(product, y)], arrays, [(0, 0)], [])


def test_batched_products_take_their_epilogue_per_batch():
    rng = np.random.default_rng(7)
    inputs = Inputs()
    a = inputs.add(rng.standard_normal((3, 20, 30)), "float32")
    b = inputs.add(rng.standard_normal((30, 17)), "float32")      # broadcast over the batch
    bias = inputs.add(rng.standard_normal((17,)), "float32")
    out = E.unary("relu", E.add(L.matmul(a, b), M.broadcast_to(bias, (3, 20, 17))))
    source = lower([out], inputs.specs).source
    assert len(kernel_heads(source)) == 1
    (got,) = run([out], inputs)
    assert_close(got, evaluate([out], inputs.arrays)[0], "float32", rtol=2e-5)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_epilogues_of_products_split_between_threads(threads, monkeypatch):
    """DLGRAD_NUM_THREADS=2 splits the row blocks, each with its epilogue, between threads."""
    monkeypatch.setenv("DLGRAD_NUM_THREADS", threads)
    rng = np.random.default_rng(8)
    inputs = Inputs()
    h, params = layer(inputs, 133, 300, 70, "float32", rng)
    u = inputs.add(rng.standard_normal((133, 70)), "float32")
    outputs = [h, *vjp_graph(h, list(params), u)]
    assert "DLGRAD_PARALLEL_ROWS\n    for (ptrdiff_t i = 0; i < 128; i += 8)" in lower(outputs, inputs.specs).source
    for got, want in zip(run(outputs, inputs), evaluate(outputs, inputs.arrays)):
        assert_close(got, want, "float32", rtol=2e-5)
