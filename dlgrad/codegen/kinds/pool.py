"""Pooling windows (graph/ops/pool.py) as loops: the C is the same size for any image size.

x is read as (outer, S1..Sd, inner) from memory. One loop runs over (outer, chunks of up to
CHUNK inner elements) -- split between threads under OpenMP (gemm.PARALLEL), each owning the
outputs and, for the adjoints, the elements of x of its chunk, so the scatters need no atomics
and add in one fixed order -- then over the output positions, then over each window's
offsets clipped to x (padding is loop bounds), with the inner elements innermost (contiguous,
vectorised), held in small local arrays (the running maximum and its position, or the sum).
"""
from __future__ import annotations

import math

from ..csyntax import CTYPE, Block, For, Scope
from ..gemm import PARALLEL, PARALLEL_MIN
from ..kernels import fill
from . import Kernel, Kind, register

CHUNK = 64   # inner elements per task: the local arrays stay in L1, the loop over them vectorises


def place(scheduler, node):
    operands = [scheduler.operand(x, contiguous=True) for x in node.inputs]
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(Kernel("pool", node.shape, [node], operands=operands), reads)


def emit(emitter, index, kernel):
    (root,) = kernel.roots
    buffers = [emitter.owner(x) for x, _ in kernel.operands]
    names, out = [emitter.names[id(b)] for b in buffers], emitter.names[id(root)]
    adjoint = root.op in ("avgpool_spread", "maxpool_scatter")   # x's shape out, the pooled shape in
    full, pooled = (root.shape, root.inputs[-1].shape) if adjoint else (root.inputs[0].shape, root.shape)
    g = _Geometry(root, full, pooled)
    block = Block([fill(out, root.size, "0")] if adjoint else [])
    body, window, each = _loops(g, block, parallel=math.prod(pooled) * math.prod(g.window) >= PARALLEL_MIN)
    fill_in = _average if root.op in ("avgpool", "avgpool_spread") else _maximum
    fill_in(root.op, CTYPE[root.inputs[0].dtype], g, names, out, body, window, each)
    return emitter.function(index, kernel, buffers, [root], block)


def _loops(g, block, parallel):
    """The tasks (outer x inner chunks), the output loops and the clipped window loops, in block.
    Returns (the output loops' body, the window loops (a Scope), the inner loop `each` at p)."""
    tasks = For("t", g.outer * g.chunks, pragma=PARALLEL if parallel and g.outer * g.chunks > 1 else "")
    block.add(tasks)
    tasks.add(f"const ptrdiff_t n = t / {g.chunks}, c0 = t % {g.chunks} * {g.chunk};")
    last = g.chunk if g.inner % g.chunk == 0 else f"c0 + {g.chunk} < {g.inner} ? {g.chunk} : {g.inner} - c0"
    tasks.add(f"const ptrdiff_t cn = {last};")
    body = tasks.body
    for i, extent in enumerate(g.out):
        body = body.add(For(f"o{i}", extent)).body
    body.extend(g.clip())
    window = inner = Scope()
    for i in range(g.d):
        inner = inner.add(For(f"w{i}", f"b{i}", start=f"a{i}")).body
    inner.add(f"const ptrdiff_t p = xb + {' + '.join(f'w{i} * {s}' for i, s in enumerate(g.x_strides))};")
    each = inner.add(For("c", "cn"))
    return body, window, each


def _average(op, ctype, g, names, out, body, window, each):
    """avgpool: a sum per inner element, divided by the window's size; avgpool_spread: each
    cotangent divided by it, added over its window."""
    count = f"({ctype}){math.prod(g.window)}"
    if op == "avgpool_spread":
        each.add(f"{out}[p + c] += {names[0]}[yo + c] / {count};")
        body.add(window)
        return
    body.add(f"{ctype} acc[{g.chunk}];")
    body.add(For("c", "cn", Block(["acc[c] = 0;"]), braces=False))
    each.add(f"acc[c] += {names[0]}[p + c];")
    body.add(window)
    body.add(For("c", "cn", Block([f"{out}[yo + c] = acc[c] / {count};"]), braces=False))


def _maximum(op, ctype, g, names, out, body, window, each):
    """The running maximum per inner element from the window's first element inside x, and
    (but for maxpool) its position, which the op then reads, writes or adds at."""
    x, track = names[0], op != "maxpool"
    body.add(f"{ctype} best[{g.chunk}];" + (f" ptrdiff_t at[{g.chunk}];" if track else ""))
    body.add(f"const ptrdiff_t p0 = xb + {' + '.join(f'a{i} * {s}' for i, s in enumerate(g.x_strides))};")
    body.add(For("c", "cn", Block([f"best[c] = {x}[p0 + c];" + (" at[c] = p0;" if track else "")]),
                 braces=track))
    each.add(f"const {ctype} v = {x}[p + c];")
    # the first maximum in window order wins; a NaN is a maximum (the first NaN wins)
    better = "v > best[c] || (v != v && best[c] == best[c])"
    each.add(f"if ({better}) {{ best[c] = v; at[c] = p; }}" if track else f"best[c] = ({better}) ? v : best[c];")
    body.add(window)
    final = {"maxpool": f"{out}[yo + c] = best[c];",
             "maxpool_index": f"{out}[yo + c] = (double)(at[c] + c);",
             "maxpool_gather": f"{out}[yo + c] = {names[-1]}[at[c] + c];",
             "maxpool_scatter": f"{out}[at[c] + c] += {names[-1]}[yo + c];"}[op]
    body.add(For("c", "cn", Block([final]), braces=False))


class _Geometry:
    """Sizes and strides of one pooling: x as (outer, S..., inner), y as (outer, O..., inner)."""

    def __init__(self, root, full, pooled):
        self.axis, self.window = root.attr("axis"), root.attr("window")
        self.stride, self.padding = root.attr("stride"), root.attr("padding")
        self.d = d = len(self.window)
        self.size, self.out = full[self.axis:self.axis + d], pooled[self.axis:self.axis + d]
        self.outer = math.prod(full[:self.axis])
        self.inner = math.prod(full[self.axis + d:])
        self.chunk = max(1, min(self.inner, CHUNK))
        self.chunks = -(-self.inner // self.chunk)
        self.x_strides = [self.inner * math.prod(self.size[i + 1:]) for i in range(d)]
        self.y_strides = [self.inner * math.prod(self.out[i + 1:]) for i in range(d)]

    def clip(self):
        """Statements giving each window's start s_i and its offsets a_i <= w_i < b_i inside x,
        xb (x's position of the window's origin, before clipping) and yo (the output's)."""
        lines = []
        for i, (n, k, s, (lo, hi), o) in enumerate(zip(self.size, self.window, self.stride,
                                                       self.padding, self.out)):
            lines.append(f"const ptrdiff_t s{i} = o{i} * {s} - {lo};")
            # windows that never leave x (no padding reached) keep constant bounds
            lines.append(f"const ptrdiff_t a{i} = " + ("0;" if lo == 0 else f"s{i} < 0 ? -s{i} : 0;"))
            inside = (o - 1) * s - lo + k <= n
            lines.append(f"const ptrdiff_t b{i} = " + (f"{k};" if inside else f"s{i} + {k} > {n} ? {n} - s{i} : {k};"))
        x_total, y_total = self.inner * math.prod(self.size), self.inner * math.prod(self.out)
        lines.append(f"const ptrdiff_t xb = n * {x_total} + c0"
                     + "".join(f" + s{i} * {s}" for i, s in enumerate(self.x_strides)) + ";")
        lines.append(f"const ptrdiff_t yo = n * {y_total} + c0"
                     + "".join(f" + o{i} * {s}" for i, s in enumerate(self.y_strides)) + ";")
        return lines


register(Kind("pool", place, emit),
         ops=("maxpool", "avgpool", "avgpool_spread", "maxpool_scatter", "maxpool_gather", "maxpool_index"))
