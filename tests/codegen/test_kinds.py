"""The kernel-kind table (codegen/kinds/): every op has a kind, a kind added from outside the
scheduler and the emitter is placed and emitted through the table, and bad registrations
are named. Also the C syntax tree nodes the kinds build their loops from."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dlgrad.codegen import kinds
from dlgrad.codegen.csyntax import Block, For, Scope
from dlgrad.codegen.kernels import fill
from dlgrad.codegen.lower import lower
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import GATHER, OPS, SOURCE, input_node
from dlgrad.runtime import load


@pytest.fixture
def table():
    """The kind table, restored after the test (emit.py and the kinds hold the same dicts)."""
    tables = (kinds.KINDS, kinds._BY_OP, kinds._BY_OP_KIND)
    saved = [dict(t) for t in tables]
    yield
    for t, s in zip(tables, saved):
        t.clear()
        t.update(s)


def test_every_op_is_placed_by_a_registered_kind():
    for name, op in OPS.items():
        if op.kind != SOURCE:
            kind = kinds.kind_of(SimpleNamespace(op=name))
            assert kinds.KINDS[kind.name] is kind
    assert set(kinds.KINDS) >= {"elementwise", "reduce", "matmul", "gather", "scatter", "pad"}


def _place_backwards(scheduler, node):
    operands = [scheduler.operand(x, contiguous=True) for x in node.inputs]
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(kinds.Kernel("gather_backwards", node.shape, [node], operands=operands), reads)


def _emit_backwards(emitter, index, kernel):
    """A gather whose loop runs from the last element to the first."""
    (root,), ((x, _),) = kernel.roots, kernel.operands
    table, out, n = emitter.index_table(index, root.attr("indices").array), emitter.names[id(root)], root.size
    loop = For("i", n)
    loop.add(f"{out}[{n - 1} - i] = {emitter.names[id(emitter.owner(x))]}[{table}[{n - 1} - i]];")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([fill(out, n, "0"), loop]))


def test_a_kind_registered_outside_the_scheduler_is_placed_and_emitted(table):
    """What a new kind module does (register a place and an emit, claim an op) is all it takes."""
    del kinds._BY_OP_KIND[GATHER]
    kinds.register(kinds.Kind("gather_backwards", _place_backwards, _emit_backwards), ops=("gather",))
    x = input_node(0, (3, 4), "float64")
    indices = np.array([[11, 0, 5], [5, 7, 2]])
    program = lower([E.unary("exp", M.gather(x, indices))], [((3, 4), "float64")])
    assert "kernel 0: gather_backwards over [2, 3]" in program.source
    assert "[5 - i] =" in program.source
    data = np.random.default_rng(3).standard_normal((3, 4))
    (got,) = load(program)(data)
    np.testing.assert_allclose(got, np.exp(data.ravel()[indices]), rtol=1e-15)


def test_registrations_that_clash_are_named(table):
    noop = kinds.Kind("reduce", _place_backwards, _emit_backwards)
    with pytest.raises(ValueError, match="kernel kind 'reduce' registered twice"):
        kinds.register(noop)
    with pytest.raises(ValueError, match="'pad' is placed by kernel kind 'pad' already, not 'window'"):
        kinds.register(kinds.Kind("window", _place_backwards, _emit_backwards), ops=("pad",))
    assert "window" not in kinds.KINDS


def test_an_op_of_no_kind_is_a_clear_error(table):
    del kinds._BY_OP_KIND[GATHER]
    node = M.gather(input_node(0, (4,), "float32"), [1, 2])
    with pytest.raises(NotImplementedError, match="no kernel kind computes op 'gather'.*codegen/kinds"):
        kinds.kind_of(node)


def test_syntax_tree_loops_with_steps_pragmas_scopes_and_one_line_bodies():
    rows = For("i", 24, step=8, pragma="DLGRAD_PARALLEL_ROWS")
    rows.add(For("j", 16, Block(["c[i + j] = 0;"]), start=3, braces=False))
    rows.add(Scope(["const ptrdiff_t k = i;", For("r", "kn", Block(["c[k] += r;"]))]))
    assert rows.lines("  ") == [
        "  DLGRAD_PARALLEL_ROWS",
        "  for (ptrdiff_t i = 0; i < 24; i += 8) {",
        "      for (ptrdiff_t j = 3; j < 16; ++j) c[i + j] = 0;",
        "      {",
        "          const ptrdiff_t k = i;",
        "          for (ptrdiff_t r = 0; r < kn; ++r) {",
        "              c[k] += r;",
        "          }",
        "      }",
        "  }"]
