"""Gathers and their adjoint scatters through a constant index table: out[i] = x[table[i]],
and out[table[i]] += x[i] over a zeroed out. The input is read from memory, contiguous; a
gather and its scatter share one table (emit.py writes each table once)."""
from __future__ import annotations

from ...graph.registry import GATHER
from ..csyntax import Block, For
from ..kernels import fill
from . import Kernel, Kind, register


def placer(kind):
    def place(scheduler, node):
        operands = [scheduler.operand(x, contiguous=True) for x in node.inputs]
        reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
        return scheduler.add(Kernel(kind, node.shape, [node], operands=operands), reads)
    return place


def emit_gather(emitter, index, kernel):
    (root,), ((x, _),) = kernel.roots, kernel.operands
    table = emitter.index_table(index, root.attr("indices").array)
    loop = For("i", root.size)
    loop.add(f"{emitter.names[id(root)]}[i] = {emitter.names[id(emitter.owner(x))]}[{table}[i]];")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([loop]))


def emit_scatter(emitter, index, kernel):
    (root,), ((x, _),) = kernel.roots, kernel.operands
    table, out = emitter.index_table(index, root.attr("indices").array), emitter.names[id(root)]
    loop = For("i", x.size)
    loop.add(f"{out}[{table}[i]] += {emitter.names[id(emitter.owner(x))]}[i];")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([fill(out, root.size, "0"), loop]))


register(Kind("gather", placer("gather"), emit_gather), op_kinds=(GATHER,))
register(Kind("scatter", placer("scatter"), emit_scatter), ops=("scatter",))
