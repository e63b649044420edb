"""Graphs that once compiled to wrong numbers, kept so they never do again."""
import numpy as np

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const, input_node

from .compiled import compile_graph


def test_workspace_reuse_across_inlined_restrict_kernels():
    """Found by the fuzz campaign: gcc 12 carried one inlined kernel's restrict promise over to
    another kernel reusing its workspace block (outer products and their gradient)."""
    x, u = input_node(0, (2,), "float64"), input_node(1, (2, 2), "float64")
    row = M.reshape(x, (1, 2))
    outer = L.matmul(M.permute(row, (1, 0)), row)
    out = E.add(L.matmul(outer, M.permute(outer, (1, 0))), x)
    (grad,) = gradients(R.sum_(E.mul(out, u)), [x])
    rng = np.random.default_rng(0)
    xv, uv = rng.standard_normal(2), rng.standard_normal((2, 2))
    got = compile_graph([out, grad], [((2,), "float64"), ((2, 2), "float64")])(xv, uv)
    for g, w in zip(got, evaluate([out, grad], [xv, uv])):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_constants_in_kernel_bodies_are_floating_literals():
    """A padded constant entered a body as a C integer: 1e10 * 1e10 overflowed long arithmetic
    (7.8e18), and pad(1) / (pad(1) + pad(1)) was folded to 1/2 where the pad is 0 (0/0 is NaN)."""
    x = input_node(0, (4,), "float64")
    one = M.pad(M.broadcast_to(const(1.0, "float64"), (2,)), (4,), [(1, 3, 1)])
    big = M.pad(M.broadcast_to(const(1e10, "float64"), (2,)), (4,), [(1, 3, 1)])
    outputs = [E.mul(x, E.div(one, 2.0)), E.add(x, E.mul(big, big)), E.add(x, E.div(one, E.add(one, one)))]
    value = np.arange(4.0)
    got = compile_graph(outputs, [((4,), "float64")])(value)
    for g, w in zip(got, evaluate(outputs, [value])):
        np.testing.assert_array_equal(g, w)


def test_a_result_read_only_through_padding_gets_no_kernel():
    """The fuzz campaign's `KeyError: <large integer>` (the id of a node): a reduction or a
    matrix product read only through a slice of a pad's zeros got a kernel, but no buffer was
    named for its result (nothing reads it); such kernels are now dropped."""
    x = input_node(0, (4,), "float64")
    total = M.reshape(R.sum_(E.unary("sin", x)), (1,))
    zero = M.slice_(M.pad(total, (3,), [(0, 1, 1)]), [(2, 3, 1)])
    product = M.reshape(L.matmul(M.reshape(x, (2, 2)), M.reshape(x, (2, 2))), (4,))
    zero_too = M.slice_(M.pad(product, (6,), [(0, 4, 1)]), [(5, 6, 1)])
    outputs = [E.add(x, M.broadcast_to(zero, (4,))), E.mul(x, M.broadcast_to(zero_too, (4,)))]
    value = np.array([1.0, 2.0, 3.0, 4.0])
    got = compile_graph(outputs, [((4,), "float64")])(value)
    for g, w in zip(got, evaluate(outputs, [value])):
        np.testing.assert_array_equal(g, w)


def test_relu_of_a_padded_value_minus_that_value():
    """Found by the fuzz campaign: relu(pad(x)) - pad(x) came out 0 inside the pad's window (it
    is -x where x < 0). The kernel selected an already masked load by the same bounds again
    (m ? (m ? x[i] : 0) : 0), which gcc 12.2 at -O3 -march=native (AVX-512) miscompiles
    together with relu's NaN test; a masked load is no longer selected again."""
    x = input_node(0, (1, 2, 2), "float64")
    padded = M.pad(x, (5, 6, 3), [(2, 3, 1), (2, 4, 1), (0, 2, 1)])
    out = E.sub(E.unary("relu", padded), padded)
    value = -np.arange(1.0, 5.0).reshape(1, 2, 2)
    (got,) = compile_graph([out], [((1, 2, 2), "float64")])(value)
    np.testing.assert_array_equal(got, evaluate([out], [value])[0])


def test_pads_that_read_backwards_through_their_window():
    """Found by the fuzz campaign: pad(x, (5, 4)) with the columns reversed gave [2, 3] where
    [2, 1] belongs, and read past x. gcc 12.2 -O3 vectorises a load that is both masked and
    runs backwards (m ? x[2*i0 - i1 + 1] : 0 over a 5x4 loop) without reversing it; such a
    pad now gets a kernel of its own that stores backwards instead. A reversed pad and a pad
    of a reversed slice at every row offset, each in a program of its own (as found)."""
    for r in (3, 4):
        x = input_node(0, (r, 2), "float64")
        value = -np.arange(1.0, 1.0 + 2 * r).reshape(r, 2)
        for r0 in range(3):
            reversed_pad = M.pad(x, (r + 2, 4), [(r0, r0 + r, 1), (1, -1, -1)])
            pad_of_reversed = M.pad(M.slice_(x, [(0, r, 1), (1, -1, -1)]), (r + 2, 4), [(r0, r0 + r, 1), (0, 2, 1)])
            for out in (reversed_pad, pad_of_reversed):
                (got,) = compile_graph([out, x], [((r, 2), "float64")])(value)[:1]
                np.testing.assert_array_equal(got, evaluate([out], [value])[0], err_msg=f"{r}x2 at row {r0}")
