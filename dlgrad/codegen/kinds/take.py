"""Gathers through a runtime index array (graph/ops/take.py): loops, no tables in the C.

take: out[o, j, n] = x[o, idx[p], n] over (outer, index positions, inner), p = j (np.take) or
the output position itself (take_along_axis). take_add writes zeros, then adds each cotangent
element at the position its index names, in row-major order (deterministic sums). to_index
converts a float input of whole numbers to int64. The size of the C does not depend on the
sizes of the arrays; the indices are checked before any kernel runs (index_checks, emit.py).
"""
from __future__ import annotations

import numpy as np

from ...graph.ops.take import index_source
from ..csyntax import Block, For
from ..kernels import fill
from .gather import placer
from . import Kind, register


def _split(shape, axis, middle):
    return (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:axis + middle], dtype=np.int64)),
            int(np.prod(shape[axis + middle:], dtype=np.int64)))


AHEAD = 8   # indices of prefetch distance for the rows a take reads
LINE = 64   # bytes of a cache line


def _loops(data, idx, axis, along, size, table, assign, prefetch=None):
    """The (o, j, n) loop nest running assign(position, source) for each element of `data` (the
    gathered side): position its flat position, source the flat position k names in the side of
    length `size` along the axis. Row by row (o outermost: the random reads of one row stay
    within its pages; index-major order measured slower, 2 ms against 0.3-1.5 ms for 512 words
    of a 64 x 10 000 or 50 000 table); for a given output position the indices run in
    increasing order (deterministic sums). Where the piece of a row one index names is shorter
    than a cache line, the indices go in blocks (_blocked)."""
    outer, middle, inner = _split(data.shape, axis, 1 if along else idx.ndim)
    width = LINE // np.dtype(data.dtype).itemsize
    if not along and inner < width and middle >= 2 * width:
        return _blocked(outer, middle, inner, width, size, table, assign)
    o, j, n = For("o", outer), For("j", middle), For("n", inner)
    position, source = f"(o * {middle} + j) * {inner} + n", f"(o * {size} + k) * {inner} + n"
    o.add(j)
    if prefetch is not None and not along and inner * 8 >= 64 and middle > AHEAD:
        # the rows k names are scattered: ask for the one AHEAD indices on while this one is copied
        lines = 64 // 8
        j.add(f"#if defined(__GNUC__)\nif (j + {AHEAD} < {middle}) {{\n"
              f"    const ptrdiff_t q = (o * {size} + (ptrdiff_t){table}[j + {AHEAD}]) * {inner};\n"
              f"    for (ptrdiff_t c = 0; c < {inner}; c += {lines}) __builtin_prefetch({prefetch} + q + c);\n"
              f"}}\n#endif")
    j.add(n)
    n.add(f"const ptrdiff_t k = (ptrdiff_t){table}[{position if along else 'j'}];")
    n.add(assign(position, source))
    return o


def _blocked(outer, middle, inner, width, size, table, assign):
    """The nest for short pieces (a column lookup W[:, idx] of a row-major table: one value per
    row): blocks of `width` indices (one cache line of the gathered side), each taken across
    all rows o before the next block. Each of a block's `width` accesses then steps through the
    rows by a fixed stride, which the hardware prefetcher follows; row by row over all indices
    every access is a fresh miss once the table outgrows the cache (measured on a 64 x 50 000
    table, 512 indices: gather and scatter 83-90 us against 216 us). For a given output
    position the indices still run in increasing order (the last partial block comes last)."""
    full = middle - middle % width
    nest = Block()
    for start, stop, blocks in ((0, full, True), (full, middle, False)):
        if start == stop:
            continue
        j = For("j", f"jb + {width}", start="jb") if blocks else For("j", stop, start=start)
        o, n = For("o", outer), For("n", inner)
        o.add(j)
        j.add(n)
        n.add(f"const ptrdiff_t k = (ptrdiff_t){table}[j];")
        n.add(assign(f"(o * {middle} + j) * {inner} + n", f"(o * {size} + k) * {inner} + n"))
        if blocks:
            jb = For("jb", stop, step=width)
            jb.add(o)
            nest.add(jb)
        else:
            nest.add(o)
    return nest


def _names(emitter, root, operands):
    return [emitter.names[id(root)]] + [emitter.names[id(emitter.owner(x))] for x, _ in operands]


def emit_take(emitter, index, kernel):
    (root,), ((x, _), (idx, _)) = kernel.roots, kernel.operands
    out, src, table = _names(emitter, root, kernel.operands)
    nest = _loops(root, idx, root.attr("axis"), root.attr("along"), x.shape[root.attr("axis")], table,
                  lambda position, source: f"{out}[{position}] = {src}[{source}];", prefetch=src)
    return emitter.function(index, kernel, [emitter.owner(x), emitter.owner(idx)], [root], Block([nest]))


def emit_take_add(emitter, index, kernel):
    (root,), ((g, _), (idx, _)) = kernel.roots, kernel.operands
    out, src, table = _names(emitter, root, kernel.operands)
    nest = _loops(g, idx, root.attr("axis"), root.attr("along"), root.attr("size"), table,
                  lambda position, source: f"{out}[{source}] += {src}[{position}];")
    reads = [emitter.owner(g), emitter.owner(idx)]
    return emitter.function(index, kernel, reads, [root], Block([fill(out, root.size, "0"), nest]))


def emit_index_add(emitter, index, kernel):
    """out = base, then out[idx[p]] += g[p]; where out is base's own memory (donation) the copy
    is skipped, so the cost is that of the indices, whatever base's size."""
    (root,), ((base, _), (g, _), (idx, _)) = kernel.roots, kernel.operands
    out, start, src, table = _names(emitter, root, kernel.operands)
    block = Block()
    if start != out:
        copy = For("i", root.size)
        copy.add(f"{out}[i] = {start}[i];")
        block.add(copy)
    block.add(_loops(g, idx, root.attr("axis"), root.attr("along"), root.shape[root.attr("axis")], table,
                     lambda position, source: f"{out}[{source}] += {src}[{position}];"))
    reads = [emitter.owner(base), emitter.owner(g), emitter.owner(idx)]
    return emitter.function(index, kernel, reads, [root], block)


def emit_to_index(emitter, index, kernel):
    (root,), ((x, _),) = kernel.roots, kernel.operands
    loop = For("i", root.size)
    loop.add(f"{emitter.names[id(root)]}[i] = (int64_t){emitter.names[id(emitter.owner(x))]}[i];")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([loop]))


def index_checks(order):
    """(input index, n, what, holds floats) for each runtime index input and the length n of the
    axis it indexes, in graph order without repeats: the program checks these before its kernels."""
    checks = []
    for node in order:
        if node.op not in ("take", "take_add", "index_add"):
            continue
        source = index_source(node.inputs[-1])
        if source is None:
            continue
        high = node.attr("size") if node.op == "take_add" else node.inputs[0].shape[node.attr("axis")]
        check = (source[0].attr("index"), int(high), node.attr("what"), source[1])
        if check not in checks:
            checks.append(check)
    return checks


def check_block(checks, names, ctypes):
    """C statements returning k + 1 from the entry point when check k fails (emit.py)."""
    block = Block()
    for k, (position, high, what, floats) in enumerate(checks):
        name, size = names[position]
        loop = For("i", size)
        value = f"{name}[i]"
        if floats:
            test = f"!({value} >= 0 && {value} < {high}) || {value} != ({ctypes[position]})(int64_t){value}"
        else:
            test = f"{value} < 0 || {value} >= {high}"
        loop.add(f"if ({test}) return {k + 1};")
        block.add(f"/* check {k + 1}: {what.replace('*/', '* /')} in [0, {high}) */")
        block.add(loop)
    return block


register(Kind("take", placer("take"), emit_take), ops=("take",))
register(Kind("take_add", placer("take_add"), emit_take_add), ops=("take_add",))
register(Kind("to_index", placer("to_index"), emit_to_index), ops=("to_index",))
# index_add writes its result where it reads base (operand 0) when base is donated
register(Kind("index_add", placer("index_add"), emit_index_add, over_operand=True),
         ops=("index_add",))
