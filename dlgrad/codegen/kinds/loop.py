"""Loops whose step is a graph (graph/ops/loop.py): the step is a program of its own, emitted
through the same scheduler and emitter (emit.emit_nested) and called once per step.

No carry is ever copied between steps: the loop's packed output holds the carry entering each
step (what backpropagation reads), so step t reads its carries there and writes the next ones
straight into the slot of step t+1 (the last step into the final carries). Step t's xs are
read at xs + t*(one step's size) and its ys written at ys + t*(one y's size); the step's own
intermediate buffers live in the kernel's scratch block, reused by every step.
"""
from __future__ import annotations

import math

from ...graph.ops.loop import LOOP, pieces
from ..csyntax import CTYPE, Block, For, Function
from . import Kernel, Kind, register


def _literal(x):
    """A one-element constant: the scheduler gives it no memory, so the kernel declares it."""
    return x.op == "const" and x.size <= 1


def place(scheduler, node):
    operands = [scheduler.operand(x, contiguous=True) for x in node.inputs if not _literal(x)]
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(Kernel(LOOP, node.shape, [node], operands=operands), reads)


def scratch(emitter, index, kernel):
    """Emit the step (once, before the workspace is planned: its workspace is the scratch)."""
    from ..emit import emit_nested
    (root,) = kernel.roots
    body = root.attr("body")
    name = f"{emitter.prefix}_k{index}_step"
    comment = f"kernel {index}: the step of the loop of kernel {index} (a program of its own)"
    functions, work = emit_nested(emitter.unit, body.outputs, body.specs, name, comment)
    kernel.nested = (name, functions)
    return work


def _special(text):
    return {"nan": "NAN", "inf": "INFINITY", "-inf": "-INFINITY"}[text]


class _Group:
    """Several functions emitted as one kernel's text (the step's kernels, then the loop's)."""

    def __init__(self, functions):
        self.functions = functions

    def text(self):
        return "".join(f.text() + "\n" for f in self.functions)[:-1]


def emit(emitter, index, kernel):
    (root,) = kernel.roots
    body, T, reverse = root.attr("body"), root.attr("length"), root.attr("reverse")
    step, functions = kernel.nested
    carries, xs, consts = body.counts
    owners = [emitter.owner(x) for x, _ in kernel.operands]
    params, args = emitter.params(owners, [root])
    if kernel.scratch:
        params.append("char *restrict work")
        args.append(kernel.scratch)
    block, stored, src = Block(), iter(owners), []
    for k, x in enumerate(root.inputs):
        if _literal(x):
            src.append(f"literal{k}")
            value = x.attr("value").array.reshape(-1)
            number = repr(float(value[0])) if value.size else "0"
            block.add(f"const {CTYPE[x.dtype]} literal{k}[1] = {{{number if math.isfinite(float(number)) else _special(number)}}};")
        else:
            src.append(emitter.names[id(next(stored))])
    out, ctype = emitter.names[id(root)], CTYPE[root.dtype]
    shapes = pieces(body, T)
    sizes = [math.prod(s) for s in shapes]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    n_y = len(body.ys)
    final, ys, entering = offsets[:carries], offsets[carries:carries + n_y], offsets[carries + n_y:]
    carry_size = sizes[:carries]
    y_size = [math.prod(y.shape) for y in body.ys]
    x_size = [math.prod(shape) for shape, _ in body.specs[carries:carries + xs]]
    first = T - 1 if reverse else 0
    for i in range(carries):   # the first step's carries are init's (with no step, the final ones)
        at = f"{entering[i] + first * carry_size[i]}" if T else f"{final[i]}"
        copy = For("e", carry_size[i], braces=False)
        copy.add(f"{out}[{at} + e] = {src[i]}[e];")
        block.add(copy)
    if T:
        steps = block.add(For("s", T))
        steps.add(f"const ptrdiff_t t = {f'{T - 1} - s' if reverse else 's'};")
        if carries:
            steps.add(f"const ptrdiff_t next = t {'-' if reverse else '+'} 1;")
        call = [f"{out} + {entering[i]} + t*{carry_size[i]}" for i in range(carries)]
        call += [f"{src[carries + j]} + t*{x_size[j]}" for j in range(xs)]
        call += [src[carries + xs + k] for k in range(consts)]
        call += [f"s + 1 < {T} ? {out} + {entering[i]} + next*{carry_size[i]} : {out} + {final[i]}"
                 for i in range(carries)]
        call += [f"{out} + {ys[j]} + t*{y_size[j]}" for j in range(n_y)]
        call.append("work" if kernel.scratch else "NULL")
        steps.add(f"(void){step}({', '.join(call)});")
    name = f"{emitter.prefix}_k{index}"
    comment = (f"kernel {index}: loop over {T} steps{' in reverse' if reverse else ''}: "
               f"{carries} carries, {xs} sequences, {consts} loop-invariant inputs, {n_y} outputs per step")
    loop_fn = Function(f"DLGRAD_KERNEL void {name}({', '.join(params)})", block, comment)
    return _Group([*functions, loop_fn]), f"{name}({', '.join(args)});"


register(Kind(LOOP, place, emit, scratch=scratch), ops=(LOOP,))
