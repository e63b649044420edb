"""The program's C interface (size, count, name and shape queries, positional entry) and the
program store that lets a second lowering skip sympy and scheduling."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

from dlgrad.codegen.lower import Program, lower
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import input_node
from dlgrad.runtime import load


def small_graph():
    x = input_node(0, (3, 4), "float64")
    w = input_node(1, (4,), "float32")
    h = L.matmul(E.unary("tanh", x), E.cast(L.swap_last(E.mul(x, w)), "float64"))
    return [R.sum_(h), h, E.mul(w, 2.0)], [((3, 4), "float64"), ((4,), "float32")]


def test_size_count_name_and_shape_queries():
    outputs, specs = small_graph()
    names_in, names_out = ['x "quoted"', "w\\back/slash"], ["loss", "ünïcode", "out?"]
    program = lower(outputs, specs, name="probe", header="a */ comment closer",
                    input_names=names_in, output_names=names_out)
    fn = load(program)
    lib = ctypes.CDLL(fn.so_path)
    lib.probe_work_bytes.restype = ctypes.c_size_t
    assert lib.probe_work_bytes() == program.work_bytes
    assert (lib.probe_n_in(), lib.probe_n_out()) == (2, 3)
    for role, specs_, names in (("in", program.inputs, names_in), ("out", program.outputs, names_out)):
        name_of = getattr(lib, f"probe_{role}_name")
        name_of.restype = ctypes.c_char_p
        ndim_of = getattr(lib, f"probe_{role}_ndim")
        shape_of = getattr(lib, f"probe_{role}_shape")
        shape_of.restype = ctypes.POINTER(ctypes.c_ssize_t)   # ptrdiff_t
        for i, ((shape, _), label) in enumerate(zip(specs_, names)):
            assert name_of(i).decode("utf-8") == label
            assert ndim_of(i) == len(shape)
            assert tuple(shape_of(i)[d] for d in range(len(shape))) == tuple(shape)
        assert name_of(len(names)) is None and ndim_of(-1) == -1 and not shape_of(len(names))


def test_positional_entry_point_computes_what_the_pointer_array_entry_does():
    outputs, specs = small_graph()
    program = lower(outputs, specs, name="twoways")
    fn = load(program)
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 4).astype(np.float32)
    want = fn(x, w)
    outs = [np.empty(shape, dtype) for shape, dtype in program.outputs]
    work = ctypes.create_string_buffer(max(program.work_bytes, 1) + 64)
    lib = ctypes.CDLL(fn.so_path)
    pointer = [a.ctypes.data_as(ctypes.c_void_p) for a in [x, w] + outs]
    assert lib.twoways(*pointer, work) == 0
    for got, expected in zip(outs, want):
        np.testing.assert_array_equal(got, expected)


def test_program_json_round_trip():
    outputs, specs = small_graph()
    program = lower(outputs, specs)
    again = Program.from_json(program.to_json())
    assert again == program and again.inputs == program.inputs and again.outputs == program.outputs


class DictStore(dict):
    def put(self, key, text):
        self[key] = text


def test_store_returns_the_program_generated_before(monkeypatch):
    import dlgrad.codegen.schedule
    outputs, specs = small_graph()
    store = DictStore()
    first = lower(outputs, specs, store=store)
    assert len(store) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("a store hit scheduled the graph again")
    monkeypatch.setattr(dlgrad.codegen.schedule, "schedule", refuse)
    again = lower(small_graph()[0], specs, store=store)
    assert again == first and len(store) == 1
    monkeypatch.undo()
    renamed = lower(outputs, specs, store=store, output_names=["a", "b", "c"])
    assert renamed != first and len(store) == 2


@pytest.mark.parametrize("specs", [[((3,), "float64")], [((4,), "float32")], []], ids=["shape", "dtype", "missing"])
def test_lower_rejects_specs_that_disagree_with_the_graph(specs):
    x = input_node(0, (4,), "float64")
    with pytest.raises((ValueError, TypeError)):
        lower([E.unary("exp", x)], specs)
