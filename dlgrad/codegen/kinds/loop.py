"""Loops whose step is a graph (graph/ops/loop.py): the step is a program of its own, emitted
through the same scheduler and emitter (emit.emit_nested) and called once per step.

No carry is ever copied between steps. Where the loop's packed output keeps the carry entering
each step (what backpropagation reads), step t reads its carry there and writes the next one
straight into the slot of step t+1 (the last step into the final carry). A carry not kept is
updated in place in the final carry's memory where the step allows it (each element read
only where it is written, as an accumulated gradient dW += dz x'); otherwise it alternates
between that memory and a spare block of the scratch, starting in the one that makes the last
step write the final carry. Step t's xs are read at xs + t*(one
step's size) and its ys written at ys + t*(one y's size); the step's own intermediate
buffers live in the kernel's scratch block too, reused by every step.
"""
from __future__ import annotations

import math

from ...graph.ops.loop import LOOP, pieces
from ..memory import ITEMSIZE
from ..csyntax import CTYPE, Block, For, Function
from . import Kernel, Kind, register


def _literal(x):
    """A one-element constant: the scheduler gives it no memory, so the kernel declares it."""
    return x.op == "const" and x.size <= 1


def place(scheduler, node):
    operands = [scheduler.operand(x, contiguous=True, offsets=True) for x in node.inputs if not _literal(x)]
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(Kernel(LOOP, node.shape, [node], operands=operands), reads)


ALIGN = 64


def _spares(root, in_place):
    """Byte offsets (after the step's workspace `work`) of the spare blocks of carries neither
    kept nor updated in place."""
    body, keep = root.attr("body"), root.attr("keep")
    sizes = [math.prod(o.shape) * ITEMSIZE[o.dtype] for o in body.outputs[:body.n_carry]]
    offsets, end = [], 0
    for i, (size, kept) in enumerate(zip(sizes, keep)):
        spare = not kept and i not in in_place
        offsets.append(end if spare else None)
        end += -(-size // ALIGN) * ALIGN if spare else 0
    return offsets, end


def scratch(emitter, index, kernel):
    """Emit the step (once, before the workspace is planned: its workspace is the scratch)."""
    from ..emit import emit_nested
    (root,) = kernel.roots
    body, keep = root.attr("body"), root.attr("keep")
    name = f"{emitter.prefix}_k{index}_step"
    comment = f"kernel {index}: the step of the loop of kernel {index} (a program of its own)"
    unkept = [(i, i) for i in range(body.n_carry) if not keep[i]]
    functions, work, aliases = emit_nested(emitter.unit, body.outputs, body.specs, name, comment, unkept)
    work = -(-work // ALIGN) * ALIGN
    in_place = {out for out, _ in aliases}
    kernel.nested = (name, functions, work, in_place)
    return work + _spares(root, in_place)[1]


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
    body, T, reverse, keep = (root.attr(a) for a in ("body", "length", "reverse", "keep"))
    step, functions, work, in_place = kernel.nested
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
            offset = emitter.ctx.storage(x)[2]
            name = emitter.names[id(next(stored))]
            src.append(f"({name} + {offset})" if offset else name)
    out, ctype = emitter.names[id(root)], CTYPE[root.dtype]
    shapes = pieces(body, T, keep)
    sizes = [math.prod(s) for s in shapes]
    offsets = iter(sum(sizes[:i]) for i in range(len(sizes)))
    n_y = len(body.ys)
    final = [next(offsets) for _ in range(carries)]
    ys = [next(offsets) for _ in range(body.main)]
    entering = [next(offsets) if k else None for k in keep]
    ys += [next(offsets) for _ in range(body.residuals)]   # stored after the entering carries
    carry_size = sizes[:carries]
    y_size = [math.prod(y.shape) for y in body.ys]
    x_size = [math.prod(shape) for shape, _ in body.specs[carries:carries + xs]]
    spares, _ = _spares(root, in_place)
    for i, at in enumerate(spares):
        if at is not None:
            block.add(f"{ctype} *const spare{i} = ({ctype} *)(work + {work + at});")
    first = T - 1 if reverse else 0
    # where each carry enters step s and where step s writes the next one
    reads, writes = [], []
    for i in range(carries):
        if keep[i]:
            reads.append(f"{out} + {entering[i]} + t*{carry_size[i]}")
            writes.append(f"s + 1 < {T} ? {out} + {entering[i]} + next*{carry_size[i]} : {out} + {final[i]}")
        elif i in in_place:
            reads.append(f"{out} + {final[i]}")
            writes.append(f"{out} + {final[i]}")
        else:   # the last step (s = T-1) writes the final carry: steps of T-1-s even write there
            reads.append(f"({T - 1} - s) % 2 ? {out} + {final[i]} : spare{i}")
            writes.append(f"({T - 1} - s) % 2 ? spare{i} : {out} + {final[i]}")
    for i in range(carries):   # the first step's carries are init's (with no step, the final ones)
        if not T or i in in_place:
            at = f"{out} + {final[i]}"
        elif keep[i]:
            at = f"{out} + {entering[i] + first * carry_size[i]}"
        else:
            at = f"{out} + {final[i]}" if (T - 1) % 2 else f"spare{i}"
        copy = For("e", carry_size[i], braces=False)
        copy.add(f"({at})[e] = {src[i]}[e];")
        block.add(copy)
    if T:
        steps = block.add(For("s", T))
        steps.add(f"const ptrdiff_t t = {f'{T - 1} - s' if reverse else 's'};")
        if any(keep):
            steps.add(f"const ptrdiff_t next = t {'-' if reverse else '+'} 1;")
        call = list(reads)
        call += [f"{src[carries + j]} + t*{x_size[j]}" for j in range(xs)]
        call += [src[carries + xs + k] for k in range(consts)]
        call += writes
        call += [f"{out} + {ys[j]} + t*{y_size[j]}" for j in range(n_y)]
        call.append("work" if kernel.scratch else "NULL")
        steps.add(f"(void){step}({', '.join(call)});")
    name = f"{emitter.prefix}_k{index}"
    comment = (f"kernel {index}: loop over {T} steps{' in reverse' if reverse else ''}: "
               f"{carries} carries ({sum(keep)} kept per step), {xs} sequences, {consts} loop-invariant "
               f"inputs, {body.main} outputs and {body.residuals} residuals per step")
    loop_fn = Function(f"DLGRAD_KERNEL void {name}({', '.join(params)})", block, comment)
    return _Group([*functions, loop_fn]), f"{name}({', '.join(args)});"


register(Kind(LOOP, place, emit, scratch=scratch), ops=(LOOP,))
