"""Column-major (F-ordered) dlarrays: kept as given, compiled without a copy, updated in place.

An F argument is the C array of the reversed shape in memory; the compiled function reads it so
(a permute the rewriter cancels), its signature differs from the C one, and a donated F input's
output comes back F in the same buffer.
"""
import pickle
import shutil
import subprocess

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.cache import compile_call
from dlgrad.runtime import fastcall

DIM, WORDS, TOKENS, CLASSES = 8, 50, 12, 3


def _f(a):
    f = np.asfortranarray(a)
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    return f


def _embed_loss(W, fc, words, labels):
    e = dl.embed(dl.dlarray(words, "CB"), W)
    return dl.indexcrossentropy(dl.softmax(dl.fullyconnect(e, fc)), labels)


def embed_value_and_grad(W, fc, words, labels):   # no helper: no guards, so it pickles with its entries
    e = dl.embed(dl.dlarray(words, "CB"), W)
    loss = dl.indexcrossentropy(dl.softmax(dl.fullyconnect(e, fc)), labels)
    return loss, *dl.dlgradient(loss, W, fc)


def embed_sgd(W, fc, words, labels):
    loss = _embed_loss(W, fc, words, labels)
    gW, gfc = dl.dlgradient(loss, W, fc)
    return W - 0.5 * gW, fc - 0.5 * gfc, loss


def dense(W, x):
    """matmul, elementwise and reductions of an F matrix, with gradients."""
    y = dl.sum(dl.tanh(W @ x)) + dl.sum(dl.mean(W * W, 1)) + dl.sum(dl.max(W, [], 0))
    return y, dl.dlgradient(y, W), W.T * 2.0


def _embed_data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((DIM, WORDS)) * 0.3).astype(dtype)
    fc = (rng.standard_normal((CLASSES, DIM)) * 0.3).astype(dtype)
    return W, fc, rng.integers(0, WORDS, (1, TOKENS)), rng.integers(0, CLASSES, TOKENS)


def _read_by(graph_text, node):
    """The lines of graph_text that read the node described by `node` (its text after "= ")."""
    lines = graph_text.splitlines()
    (name,) = [line.split(" = ")[0] for line in lines if line.endswith(node) or f"= {node}" in line]
    return [line for line in lines if f" {name} " in line + " " and not line.startswith(name + " ")]


def _close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7 if dtype == np.float32 else 1e-15)


def test_dlarray_keeps_column_major_data_and_eager_ops_keep_it():
    a = np.arange(12.0).reshape(3, 4)
    x = dl.dlarray(_f(a))
    assert x._data.flags.f_contiguous and not x._data.flags.c_contiguous
    y = dl.exp(x) * 2
    assert y._data.flags.f_contiguous and np.array_equal(y._data, np.exp(a) * 2)
    assert dl.dlarray(a)._data.flags.c_contiguous   # C stays the default


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embed_values_and_gradients_equal_for_both_orders(dtype):
    W, fc, words, labels = _embed_data(dtype)
    accelerated = dl.dlaccelerate(embed_value_and_grad)
    c = accelerated(dl.dlarray(W), dl.dlarray(fc), words, labels)
    WF = dl.dlarray(_f(W))
    assert WF._data.flags.f_contiguous
    f = accelerated(WF, dl.dlarray(fc), words, labels)
    assert accelerated.misses == 2   # two signatures
    for a, b in zip(c, f):
        _close(dl.extractdata(a), dl.extractdata(b), dtype)
    # the lookup reads the F table as rows: no transposed copy of the table in the program
    call = compile_call(embed_value_and_grad, (WF, dl.dlarray(fc), words, labels))
    table = _read_by(call.program.graph_text, f"input index=0 : {np.dtype(dtype).name}[{WORDS},{DIM}]")
    assert [line.split(" = ")[1].split()[0] for line in table] == ["take"] and "axis=0" in table[0]
    # the reference backend agrees
    reference = compile_call(embed_value_and_grad, (WF, dl.dlarray(fc), words, labels), reference=True)
    for a, b in zip(reference([WF._data, fc, words, labels]), f):
        _close(dl.extractdata(a), dl.extractdata(b), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_elementwise_reductions_equal_for_both_orders(dtype):
    rng = np.random.default_rng(3)
    W, x = rng.standard_normal((5, 7)).astype(dtype), rng.standard_normal((7, 4)).astype(dtype)
    c = dl.dlfeval(dense, dl.dlarray(W), dl.dlarray(x))
    WF = dl.dlarray(_f(W))
    assert WF._data.flags.f_contiguous
    f = dl.dlfeval(dense, WF, dl.dlarray(x))
    for a, b in zip(c, f):
        _close(dl.extractdata(a), dl.extractdata(b), dtype)
    assert not f[1]._data.flags.f_contiguous   # results not written over a donated input are C
    np.testing.assert_array_equal(dl.extractdata(f[2]), W.T * 2)


@pytest.mark.parametrize("native", [True, False])
def test_donated_column_major_table_is_updated_in_place_and_stays_f(native, monkeypatch):
    if not native:
        monkeypatch.setenv("DLGRAD_FASTCALL", "0")
    elif fastcall.get() is None:
        pytest.skip("no native call path here")
    W, fc, words, labels = _embed_data(np.float64, seed=1)
    step = dl.dlaccelerate(embed_sgd, donate=(0, 1))
    table, weights = dl.dlarray(_f(W)), dl.dlarray(fc)
    reference_W, reference_fc = dl.dlarray(W), dl.dlarray(fc)
    for call in range(4):
        address = table._data.ctypes.data
        table, weights, loss = step(table, weights, words, labels)
        assert table._data.flags.f_contiguous and not table._data.flags.c_contiguous
        assert table._data.ctypes.data == address   # the same buffer, written in place
        reference_W, reference_fc, reference_loss = step(reference_W, reference_fc, words, labels)
        assert reference_W._data.flags.c_contiguous
        np.testing.assert_allclose(dl.extractdata(table), dl.extractdata(reference_W), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(dl.extractdata(loss), dl.extractdata(reference_loss), rtol=1e-13)
    assert step.misses == 2 and step.hits == 6   # F and C: one trace each, then hits


def test_native_and_generated_paths_take_f_then_c_as_separate_signatures(monkeypatch):
    rng = np.random.default_rng(5)
    W, x = rng.standard_normal((6, 3)), rng.standard_normal((3, 2))

    def f(W, x):
        return W @ x + 1.0

    for setting in ("1", "0"):
        monkeypatch.setenv("DLGRAD_FASTCALL", setting)
        accelerated = dl.dlaccelerate(f)
        WF, WC, X = dl.dlarray(_f(W)), dl.dlarray(W), dl.dlarray(x)
        for _ in range(3):   # promoted to the fast slot for the F signature
            np.testing.assert_allclose(dl.extractdata(accelerated(WF, X)), W @ x + 1.0, rtol=1e-14)
        for _ in range(3):   # a C array after: its own signature, right values
            np.testing.assert_allclose(dl.extractdata(accelerated(WC, X)), W @ x + 1.0, rtol=1e-14)
        np.testing.assert_allclose(dl.extractdata(accelerated(WF, X)), W @ x + 1.0, rtol=1e-14)
        assert (accelerated.misses, accelerated.hits) == (2, 5)


def test_checkpoints_and_pickles_keep_values_of_f_arrays(tmp_path):
    W, fc, words, labels = _embed_data(np.float64, seed=2)
    table = dl.dlarray(_f(W))
    dl.save_checkpoint(str(tmp_path / "state.npz"), {"W": table})
    back = dl.load_checkpoint(str(tmp_path / "state.npz"))["W"]
    assert back._data.flags.f_contiguous   # the order survives the checkpoint
    np.testing.assert_array_equal(dl.extractdata(back), W)
    assert np.array_equal(dl.extractdata(pickle.loads(pickle.dumps(table))), W)
    accelerated = dl.dlaccelerate(embed_value_and_grad)
    expected = accelerated(table, dl.dlarray(fc), words, labels)
    restored = pickle.loads(pickle.dumps(accelerated))
    got = restored(dl.dlarray(_f(W)), dl.dlarray(fc), words, labels)
    assert (restored.misses, restored.hits) == (accelerated.misses, 1)   # the pickled F entry serves it
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(dl.extractdata(a), dl.extractdata(b))


def test_export_header_names_column_major_arguments(tmp_path):
    W, fc, words, labels = _embed_data(np.float64, seed=4)
    paths = dl.export_c(embed_value_and_grad, dl.dlarray(_f(W)), dl.dlarray(fc), words, labels,
                        name="embed_f", directory=str(tmp_path), self_test=True)
    header = open(paths["header"]).read()
    assert "column-major: W" in header and "column-major: fc" not in header
    assert f"W {DIM}x{WORDS} was traced column-major" in header and f"C array [{WORDS}][{DIM}]" in header
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler for the self test")
    program = str(tmp_path / "selftest")
    subprocess.run([compiler, "-std=c99", paths["source"], paths["test"], "-o", program, "-lm"], check=True)
    result = subprocess.run([program], capture_output=True, text=True)
    assert result.returncode == 0 and "passed" in result.stdout, result.stdout + result.stderr


def test_word_embedding_layer_weights_are_column_major():
    net = dl.dlnetwork([dl.sequenceInputLayer(1), dl.wordEmbeddingLayer(4, 20), dl.fullyConnectedLayer(2)])
    weights = [v for v in net.Learnables.Value if v.shape == (4, 21)]
    assert len(weights) == 1 and weights[0]._data.flags.f_contiguous and not weights[0]._data.flags.c_contiguous
    x = dl.dlarray(np.array([[[3, 7, 25]]], dtype=float), "CBT")
    y = dl.forward(net, x)
    W = dl.extractdata(weights[0])
    assert y.shape[0] == 2 and np.isfinite(dl.extractdata(y)).all() and W[:, 20].shape == (4,)


def test_explain_names_the_memory_order():
    accelerated = dl.dlaccelerate(lambda W: dl.sum(W * 2.0))
    W = np.ones((3, 4))
    accelerated(dl.dlarray(W))
    accelerated(dl.dlarray(_f(W)))
    assert "argument 1 (W): memory order row-major before, now column-major" in accelerated.explain()


def test_donated_column_major_matrix_updated_by_a_product_gradient_stays_f_in_place():
    rng = np.random.default_rng(6)
    W, x = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))

    def update(W, x):
        y = dl.sum(dl.tanh(W @ x))
        return W - 0.1 * dl.dlgradient(y, W), y

    step = dl.dlaccelerate(update, donate=(0,))
    WF, WC, X = dl.dlarray(_f(W)), dl.dlarray(W), dl.dlarray(x)
    for _ in range(3):
        address = WF._data.ctypes.data
        WF, _ = step(WF, X)
        WC, _ = step(WC, X)
        assert WF._data.flags.f_contiguous and not WF._data.flags.c_contiguous
        assert WF._data.ctypes.data == address
        np.testing.assert_allclose(dl.extractdata(WF), dl.extractdata(WC), rtol=1e-13, atol=1e-15)
