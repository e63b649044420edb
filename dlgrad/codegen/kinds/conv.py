"""Convolutions (graph/ops/conv.py) as loops over their affine window map, on the S..SCB layout.

With the batch innermost, each spatial position holds a (channels x batch) matrix with
contiguous rows, so every op is a sum of small matrix products over the taps (an implicit
GEMM, never an im2col copy): conv computes y[o] (F x B) += w[t]^T (F x C) @ x[i(o, t)] (C x B),
conv_transpose x[i] (C x B) += w[t] (C x F) @ y[o(i, t)] (F x B), both in register blocks of
ROWS x COLS accumulators like gemm.py's (a row of filters or channels times a run of the batch);
conv_filter w[t] (C x F) += x[i] (C x B) @ y[o]^T (B x F), dot products along the batch in
blocks of channels x filters of vector-wide partial sums. The taps a position reaches are a
range computed from its index (padding is the part of the range that is cut off), so the C
is the same size for any image and batch. Each output element is summed by one thread in a
fixed order: the same bits on any number of threads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..csyntax import CTYPE, Block, For, Scope
from ..gemm import COLS, PARALLEL, PARALLEL_MIN, ROWS, SIZE
from ..kernels import fill
from . import Kernel, Kind, register

# vector lanes (256-bit), and conv_filter's stack buffer for a transposed chunk of y
LANES = {"float": 8, "double": 4}
TRANSPOSED_BYTES = 32 << 10
FILTER_ROWS = 8
# batch columns per block, in multiples of gemm.COLS, when fewer than 4 rows (filters of conv,
# channels of conv_transpose) make a block: with one row of 16 columns gcc 12 vectorised the
# k loop with permutes instead (C = 1, F = 20, 3x3: 174 ms; 4 x 16 columns: 13 ms)
WIDEN = {1: 4, 2: 4, 3: 2}


def place(scheduler, node):
    operands = [scheduler.operand(x, contiguous=True) for x in node.inputs]
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(Kernel("conv", node.shape, [node], operands=operands), reads)


def _flat(names, extents):
    """C text of the row-major position of index names in an array of `extents`."""
    text = names[0]
    for name, n in zip(names[1:], extents[1:]):
        text = f"({text})*{n} + {name}"
    return text


def _floor_div(num, den):
    return num if den == 1 else f"({num})/{den}"


class _Geometry:
    """Sizes and attributes of one convolution, named as in graph/ops/conv.py."""

    def __init__(self, node, x_shape, w_shape, y_shape):
        self.d = len(x_shape) - 2
        self.size, (self.channels, self.batch) = x_shape[:self.d], x_shape[-2:]
        self.kernel, (self.cg, self.filters) = w_shape[:self.d], w_shape[-2:]
        self.out = y_shape[:self.d]
        self.stride, self.dilation = node.attr("stride"), node.attr("dilation")
        self.lo = tuple(lo for lo, _ in node.attr("padding"))
        self.groups = node.attr("groups")
        self.fg = self.filters // self.groups
        self.work = math.prod(y_shape) * math.prod(self.kernel) * self.cg

    def taps_from_output(self, k, o):
        """(first, end) C expressions of the taps output position o reaches along axis k."""
        n, kk, s, dl, lo = self.size[k], self.kernel[k], self.stride[k], self.dilation[k], self.lo[k]
        first = "0" if lo == 0 else f"{lo} - {o}*{s} > 0 ? ({lo} - {o}*{s} + {dl - 1})/{dl} : 0"
        reach = (self.out[k] - 1) * s + (kk - 1) * dl - lo   # the last input any window reads
        if reach <= n - 1:
            end = str(kk)
        else:
            last = f"{n - 1 + lo} - {o}*{s}"
            end = f"{last} < 0 ? 0 : {_floor_div(last, dl)} + 1 < {kk} ? {_floor_div(last, dl)} + 1 : {kk}"
        return first, end

    def taps_from_input(self, k, i):
        """(first, end) taps through which input position i reaches an output along axis k."""
        kk, s, dl, lo, last_o = self.kernel[k], self.stride[k], self.dilation[k], self.lo[k], self.out[k] - 1
        low = f"{i} + {lo - last_o * s}"
        first = f"{low} > 0 ? ({low} + {dl - 1})/{dl} : 0"
        top = f"{i} + {lo}" if lo else i
        end = f"{_floor_div(top, dl)} + 1 < {kk} ? {_floor_div(top, dl)} + 1 : {kk}"
        return first, end

    def outputs_from_tap(self, k, t):
        """(first, end) output positions that read through tap t along axis k."""
        n, s, dl, lo, out = self.size[k], self.stride[k], self.dilation[k], self.lo[k], self.out[k]
        low = f"{lo} - {t}*{dl}"
        first = f"{low} > 0 ? ({low} + {s - 1})/{s} : 0"
        top = f"{n - 1 + lo} - {t}*{dl}"
        end = f"{top} < 0 ? 0 : {_floor_div(top, s)} + 1 < {out} ? {_floor_div(top, s)} + 1 : {out}"
        return first, end


def _window_loops(bounds, names, body):
    """Nested loops names[k] in [first_k, end_k) around body (a list of items); the outer For."""
    inner = Block(body)
    for name, (first, end) in reversed(list(zip(names, bounds))):
        inner = Block([For(name, f"{name}_end", inner, start=f"{name}_first")])
    return inner.body[0]


def _bound_declarations(bounds, names):
    return [f"const ptrdiff_t {n}_first = {first}, {n}_end = {end};" for n, (first, end) in zip(names, bounds)]


def _gemm_block(ctype, rows, width, a_load, b_row, k_extent, store, accumulate=False, lanes=None):
    """A rows x width block of accumulators, summed over the window loops built by the caller.

    a_load(r, k) is the C of the row-r multiplier at step k, b_row(k) a pointer to the width
    contiguous values it multiplies; store(r) the C pointer where row r of the block goes.
    With `lanes` > width the accumulators are that wide (b_row is zero-padded): whole vectors."""
    acc = [f"acc{r}" for r in range(rows)]
    declare = f"{ctype} " + ", ".join(f"{a}[{lanes or width}] = {{0}}" for a in acc) + ";"
    step = For("kk", k_extent)
    step.body.extend(f"const {ctype} a{r} = {a_load(r, 'kk')};" for r in range(rows))
    step.add(f"const {ctype} *restrict b = {b_row('kk')};")
    lanes = step.add(For("j", lanes or width))
    lanes.add(f"const {ctype} bj = b[j];")
    lanes.body.extend(f"{acc[r]}[j] += a{r} * bj;" for r in range(rows))
    stores = For("j", width)
    stores.body.extend(f"{store(r)}[j] {'+=' if accumulate else '='} {acc[r]}[j];" for r in range(rows))
    return declare, step, stores


def _blocks(extent, start, rows, emit_block, var="r0"):
    """Blocks of `rows` rows from `start` over `extent` rows, then one block of the rest."""
    items, full = [], extent - extent % rows
    if full:
        items.append(For(var, f"{start} + {full}", Block(emit_block(rows, var)), start=start, step=rows))
    if extent % rows:
        items.append(Scope([f"const ptrdiff_t {var} = {start} + {full};", *emit_block(extent % rows, var)]))
    return items


def _batch_blocks(batch, cols, emit_block):
    items, full = [], batch - batch % cols
    if full:
        items.append(For("b0", full, Block(emit_block(cols)), step=cols))
    if batch % cols:
        items.append(Scope([f"const ptrdiff_t b0 = {full};", *emit_block(batch % cols)]))
    return items


def _rows(n, ctype):
    """Rows per register block of conv and conv_transpose: for float, up to 10 rows of two vectors
    when that divides n (20 filters: 10 x 16 blocks ran 1.3-1.6x faster than 8 x 16 plus a block
    of 4, on the AVX-512 host gemm.py was measured on), else gemm.ROWS and a block of the rest."""
    if ctype == "float":
        for rows in (10, 9, 8, 7, 6):
            if n % rows == 0:
                return rows
    return ROWS


def _pragma(geometry):
    return PARALLEL if geometry.work >= PARALLEL_MIN else ""


def emit_conv(emitter, index, kernel):
    root = kernel.roots[0]
    (x, _), (w, _) = kernel.operands
    X, W, Y = emitter.names[id(emitter.owner(x))], emitter.names[id(emitter.owner(w))], emitter.names[id(root)]
    geo = _Geometry(root, x.shape, w.shape, root.shape)
    ctype, d = CTYPE[root.dtype], geo.d
    o, t, i = [f"o{k}" for k in range(d)], [f"t{k}" for k in range(d)], [f"i{k}" for k in range(d)]
    cg, nb, nf = geo.cg, geo.batch, geo.filters

    def block(width):
        def emit_rows(rows, f0):
            declare, step, stores = _gemm_block(
                ctype, rows, width, lambda r, k: f"wp[{k}*{nf} + {r}]", lambda k: f"xp + {k}*{nb}", cg,
                lambda r: f"(Y + ({f0} + {r})*{nb} + b0)")
            taps = [*(f"const ptrdiff_t {i[k]} = {o[k]}*{geo.stride[k]} + {t[k]}*{geo.dilation[k]} - {geo.lo[k]};"
                      for k in range(d)),
                    f"const {CTYPE[x.dtype]} *restrict xp = {X} + (({_flat(i, geo.size)})*{geo.channels} + "
                    f"g*{cg})*{nb} + b0;",
                    f"const {CTYPE[w.dtype]} *restrict wp = {W} + ({_flat(t, geo.kernel)})*{cg * nf} + {f0};",
                    step]
            return [declare, _window_loops(bounds, t, taps), stores]
        return _blocks(geo.fg, f"g*{geo.fg}", _rows(geo.fg, ctype), emit_rows)

    bounds = [geo.taps_from_output(k, o[k]) for k in range(d)]
    inner = Block([*_bound_declarations(bounds, t),
                   f"{ctype} *restrict Y = {Y} + ({_flat(o, geo.out)})*{nf * nb};"])
    over_groups = inner.add(For("g", geo.groups))
    over_groups.body.extend(_batch_blocks(nb, COLS[ctype] * WIDEN.get(geo.fg, 1), block))
    return emitter.function(index, kernel, [emitter.owner(x), emitter.owner(w)], [root],
                            _position_loops(o, geo.out, inner, _pragma(geo)))


def emit_transpose(emitter, index, kernel):
    root = kernel.roots[0]
    (y, _), (w, _) = kernel.operands
    Yn, W, Z = emitter.names[id(emitter.owner(y))], emitter.names[id(emitter.owner(w))], emitter.names[id(root)]
    geo = _Geometry(root, root.shape, w.shape, y.shape)
    ctype, d = CTYPE[root.dtype], geo.d
    i, t, o = [f"i{k}" for k in range(d)], [f"t{k}" for k in range(d)], [f"o{k}" for k in range(d)]
    cg, nb, nf, fg = geo.cg, geo.batch, geo.filters, geo.fg

    def block(width):
        def emit_rows(rows, c0):
            declare, step, stores = _gemm_block(
                ctype, rows, width, lambda r, k: f"wp[{r}*{nf} + {k}]", lambda k: f"yp + {k}*{nb}", fg,
                lambda r: f"(Z + ({c0} + {r})*{nb} + b0)")
            skip = [f"if (({i[k]} + {geo.lo[k]} - {t[k]}*{geo.dilation[k]}) % {geo.stride[k]}) continue;"
                    for k in range(d) if geo.stride[k] > 1]
            taps = [*skip,
                    *(f"const ptrdiff_t {o[k]} = {_floor_div(f'{i[k]} + {geo.lo[k]} - {t[k]}*{geo.dilation[k]}', geo.stride[k])};"
                      for k in range(d)),
                    f"const {CTYPE[y.dtype]} *restrict yp = {Yn} + (({_flat(o, geo.out)})*{nf} + g*{fg})*{nb} + b0;",
                    f"const {CTYPE[w.dtype]} *restrict wp = {W} + (({_flat(t, geo.kernel)})*{cg} + {c0} - g*{cg})*{nf}"
                    f" + g*{fg};",
                    step]
            return [declare, _window_loops(bounds, t, taps), stores]
        return _blocks(cg, f"g*{cg}", ROWS, emit_rows)

    bounds = [geo.taps_from_input(k, i[k]) for k in range(d)]
    inner = Block([*_bound_declarations(bounds, t),
                   f"{ctype} *restrict Z = {Z} + ({_flat(i, geo.size)})*{geo.channels * nb};"])
    over_groups = inner.add(For("g", geo.groups))
    over_groups.body.extend(_batch_blocks(nb, COLS[ctype] * WIDEN.get(cg, 1), block))
    return emitter.function(index, kernel, [emitter.owner(y), emitter.owner(w)], [root],
                            _position_loops(i, geo.size, inner, _pragma(geo)))


def emit_filter(emitter, index, kernel):
    """w[t] (C x F) += x[i] (C x B) @ y[o]^T (B x F) position by position: y[o] is transposed
    into a stack buffer a chunk of the batch at a time, so the product is an outer-product GEMM
    (each x element one broadcast, rows of filters contiguous) whose accumulators start from and
    return to w[t], which stays in L1 while x and y stream through once.

    On threads (a large product, _pragma) the blocks of w (tap, group, block of channel rows),
    numbered tap by tap, are split into one run per thread (runs rather than every other block:
    neighbouring blocks share cache lines): each thread runs every position, transposing y
    itself, and sums only its own blocks, so each element of w is summed by one thread in the
    serial order and the bits do not depend on the thread count."""
    root = kernel.roots[0]
    (x, _), (y, _) = kernel.operands
    X, Yn, D = emitter.names[id(emitter.owner(x))], emitter.names[id(emitter.owner(y))], emitter.names[id(root)]
    geo = _Geometry(root, x.shape, root.shape, y.shape)
    ctype, d = CTYPE[root.dtype], geo.d
    t, o, i = [f"t{k}" for k in range(d)], [f"o{k}" for k in range(d)], [f"i{k}" for k in range(d)]
    cg, fg, nb, nf = geo.cg, geo.fg, geo.batch, geo.filters
    # F up to three vectors wide is one block, its rows padded with zeros to whole vectors
    # (F = 20 float: 2.5x faster than a block of 16 and one of 4); wider F in blocks of two vectors
    vector = LANES[ctype]
    padded = -(-nf // vector) * vector if geo.groups == 1 and nf <= 3 * vector else None
    cols, stride = (nf, padded) if padded else (2 * vector, nf)
    chunk = max(1, min(nb, TRANSPOSED_BYTES // (stride * SIZE[ctype])))
    pragma = _pragma(geo)
    row_blocks = -(-cg // FILTER_ROWS)
    units = math.prod(geo.kernel) * geo.groups * row_blocks   # blocks of dW, in runs of one per part

    def rows_block(rows, r0):
        def cols_block(width, f0):
            declare, step, stores = _gemm_block(
                ctype, rows, width, lambda r, k: f"xp[(g*{cg} + {r0} + {r})*{nb} + {k}]",
                lambda k: f"yt + {k}*{stride} + {f0}", "nbc", lambda r: f"(Dt + ({r0} + {r})*{nf} + {f0})",
                accumulate=True, lanes=padded)
            return [declare, step, stores]
        items = _blocks(fg, f"g*{fg}", cols, cols_block, var="f0")
        if not pragma:
            return items
        unit = f"((({_flat(t, geo.kernel)})*{geo.groups} + g)*{row_blocks} + {r0}/{FILTER_ROWS})"
        return [_If(f"{unit} * parts / {units} == part", Block(items))]

    taps = [*(f"const ptrdiff_t {i[k]} = {o[k]}*{geo.stride[k]} + {t[k]}*{geo.dilation[k]} - {geo.lo[k]};"
              for k in range(d)),
            f"const {CTYPE[x.dtype]} *restrict xp = {X} + ({_flat(i, geo.size)})*{geo.channels * nb} + bc;",
            f"{ctype} *restrict Dt = {D} + ({_flat(t, geo.kernel)})*{cg * nf};",
            For("g", geo.groups, Block(_blocks(cg, "0", FILTER_ROWS, rows_block)))]
    bounds = [geo.taps_from_output(k, o[k]) for k in range(d)]
    transpose = For("f", stride, Block([For("b", "nbc", Block([
        f"yt[b*{stride} + f] = f < {nf} ? yo[f*{nb} + b] : 0;" if padded and padded > nf else
        f"yt[b*{stride} + f] = yo[f*{nb} + b];"]), braces=False)]))
    over_batch = For("bc", nb, Block([
        f"const ptrdiff_t nbc = {nb} - bc < {chunk} ? {nb} - bc : {chunk};",
        f"{ctype} yt[{chunk * stride}];",
        f"const {CTYPE[y.dtype]} *restrict yo = {Yn} + ({_flat(o, geo.out)})*{nf * nb} + bc;",
        transpose, _window_loops(bounds, t, taps)]), step=chunk)
    inner = Block([*_bound_declarations(bounds, t), over_batch])
    positions = _position_loops(o, geo.out, inner, "").body
    if pragma:   # one part per thread (one part without OpenMP), each part all positions
        positions = [PARTS, For("part", "parts", Block(positions), pragma=pragma)]
    block = Block([fill(D, root.size, "0"), *positions])
    return emitter.function(index, kernel, [emitter.owner(x), emitter.owner(y)], [root], block)


PARTS = """#if defined(_OPENMP) && defined(DLGRAD_NUM_THREADS)
const ptrdiff_t parts = DLGRAD_NUM_THREADS;
#else
const ptrdiff_t parts = 1;
#endif"""


@dataclass
class _If:
    """if (test) { body }"""
    test: str
    body: Block

    def lines(self, indent):
        return [f"{indent}if ({self.test}) {{"] + self.body.lines(indent + "    ") + [indent + "}"]


def _tap_index(flat, kernel, k):
    inner = math.prod(kernel[k + 1:])
    text = flat if inner == 1 else f"{flat}/{inner}"
    return text if k == 0 else f"({text}) % {kernel[k]}"


def _position_loops(names, extents, body, pragma):
    """Loops over every position (row-major), the outermost one split between threads."""
    inner = body
    for k in reversed(range(len(names))):
        inner = Block([For(names[k], extents[k], inner, pragma=pragma if k == 0 else "")])
    return inner


register(Kind("conv", place, lambda emitter, index, kernel: EMIT[kernel.roots[0].op](emitter, index, kernel)),
         ops=("conv", "conv_transpose", "conv_filter"))
EMIT = {"conv": emit_conv, "conv_transpose": emit_transpose, "conv_filter": emit_filter}
