"""Mixed float32/float64 programs: numpy's promotion rules, and casts that round."""
from __future__ import annotations

import numpy as np

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from graph.support import Inputs, assert_close

from .compiled import run


def mixed_inputs():
    rng = np.random.default_rng(7)
    inputs = Inputs()
    x64 = inputs.add(rng.uniform(-1, 1, (3, 4)))
    y32 = inputs.add(rng.uniform(-1, 1, (4,)).astype(np.float32))
    m32 = inputs.add(rng.uniform(-1, 1, (4, 2)).astype(np.float32))
    return inputs, x64, y32, m32


def test_mixed_dtypes_promote_like_numpy():
    inputs, x64, y32, m32 = mixed_inputs()
    outputs = [E.add(x64, y32), E.mul(y32, y32), E.add(E.mul(y32, y32), R.sum_(x64, 0)),
               E.cast(y32, "float64"), E.cast(x64, "float32"), L.matmul(x64, m32),
               L.matmul(L.swap_last(m32), M.reshape(y32, (4, 1))),
               R.reduce("max", E.mul(x64, y32), 1), E.where(E.gt(x64, 0.0), y32, x64)]
    got = run(outputs, inputs)
    want = evaluate(outputs, inputs.arrays)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype, (i, g.dtype, w.dtype)
        assert_close(g, w, w.dtype.name, what=f"output {i}")


def test_mixed_dtype_gradients():
    inputs, x64, y32, m32 = mixed_inputs()
    loss = R.sum_(E.unary("tanh", L.matmul(E.mul(x64, y32), m32)))
    grads = gradients(loss, [x64, y32, m32])
    assert [g.dtype for g in grads] == ["float64", "float32", "float32"]
    got = run(grads, inputs)
    for i, (g, w) in enumerate(zip(got, evaluate(grads, inputs.arrays))):
        assert g.dtype == w.dtype
        assert_close(g, w, w.dtype.name, what=f"gradient {i}")


def test_a_cast_to_float32_rounds_inside_kernels():
    inputs = Inputs()
    x = inputs.add(np.array([0.1, 1 / 3, np.pi]))
    y = inputs.add(np.array([1e-9, 2.0, -1.0]))
    outputs = [E.add(E.cast(x, "float32"), y), R.sum_(E.cast(x, "float32"))]
    got = run(outputs, inputs)
    for i, (g, w) in enumerate(zip(got, evaluate(outputs, inputs.arrays))):
        np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
