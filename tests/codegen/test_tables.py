"""Index tables of gathers: one table per distinct index array, int32_t where every index fits."""
import re

import numpy as np

from dlgrad.codegen.emit import _static_array
from dlgrad.codegen.lower import lower
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node

from .compiled import compile_graph

INDICES = np.array([4, 0, 3, 3, 1, 0, 2, 4])


def test_a_gather_and_its_scatter_share_one_int32_table():
    x, w = input_node(0, (5,), "float64"), input_node(1, (8,), "float64")
    g = M.gather(x, INDICES)
    y = R.sum_(E.mul(E.mul(g, g), w))
    outputs = [y, *gradients(y, [x])]
    source = lower(outputs, [((5,), "float64"), ((8,), "float64")]).source
    tables = re.findall(r"static const (\w+) (\w+_index\d+)\[8\] = \{([^}]*)\};", source)
    assert [(t, body) for t, _, body in tables] == [("int32_t", "4, 0, 3, 3, 1, 0, 2, 4")]
    assert "#include <stdint.h>" in source
    assert source.count(tables[0][1]) == 3   # declared once, read by the gather and the scatter
    xs, ws = np.linspace(-1.0, 1.0, 5), np.arange(8.0)
    got = compile_graph(outputs, [((5,), "float64"), ((8,), "float64")])(xs, ws)
    for a, b in zip(got, evaluate(outputs, [xs, ws])):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_indices_past_int32_keep_ptrdiff_t():
    assert _static_array("t", "intp", np.array([0, 2 ** 31])).startswith("static const ptrdiff_t t[2]")
    assert _static_array("t", "intp", np.array([-(2 ** 31), 2 ** 31 - 1])).startswith("static const int32_t t[2]")
