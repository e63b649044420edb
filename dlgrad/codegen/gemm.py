"""Loop nests for one matrix product C[m,n] = A[m,k] @ B[k,n] with constant sizes and strides.

A and B are read through strides (transposed operands need no copy). C is computed in
register blocks of ROWS x cols: the accumulators stay in vector registers over a run of
k, so each loaded element of B feeds ROWS multiply-adds, and each element of A is one
broadcast, as fast through a transposed A's strides as through a contiguous one (1000^3
float: 98 against 95 GFLOP/s), so A is never packed.

When B's rows are contiguous and B fits in L2, the blocks read B in place (the rest of C,
if any, by the plain row loop). Otherwise B is packed, one panel of `cols` columns by up to
KC rows at a time, into a stack buffer that stays in cache while every row block of A
passes over it: a transposed B is read along its contiguous axis, and the last panel is
padded with zeros so that edge columns run through the same blocks (see `packs`).

Elementwise consumers of C that the scheduler fused (bias, activation) run as an epilogue
on each finished row block. Products of at least PARALLEL_MIN multiply-adds split their
row blocks (or panels, when packing) between threads when the program is built with
OpenMP (PARALLEL_MACRO; off by default, see DLGRAD_NUM_THREADS).
"""
from __future__ import annotations

from .cast import CTYPE, Block, Stmt, index_expr, loop_nest
from .indexmap import c_strides, linear

# measured with gcc 12 -O3 -march=native (AVX-512 host, 256-bit vectors preferred): 8 x 16 blocks
# beat the row loop 2.2x for float (128x784 @ 784x128); narrower blocks defeat the vectoriser
ROWS = 8
COLS = {"float": 16, "double": 16}
SIZE = {"float": 4, "double": 8}
# Packing B (_Product.packed) pays when it is transposed (a panel read along its rows is one
# stream; B's columns would be `cols` streams, and the row loop reads a transposed B 20x
# slower), when n < cols (the row loop's short rows do not vectorise), and when B outgrows
# L2 (1000x1000 float: 103 against 89 GFLOP/s in place). Not for B that fits L2: in place
# is 5-10 % faster there (128x784 @ 784x128: 110 against 100 GFLOP/s), nor for fewer than
# ROWS rows (no full block). From ROWS rows a packed transposed B beats copying it first:
# 10x128 @ (128x128)^T float 6.2 us, against 3.6 us in place after a copy of 5-8 us.
L2_BYTES = 1 << 20
# k rows per packed panel: cols * KC elements = 64 KiB of stack. A panel larger than L1 is
# still fed from L2 fast enough; smaller panels (k blocked to fit L1) measured slower:
# 1000x1000 @ (1000x1000)^T float at KC = 128, 256, 512, 1024: 77, 90, 93, 103 GFLOP/s
KC = {"float": 1024, "double": 512}
PARALLEL_MIN = 1 << 18
PARALLEL = "DLGRAD_PARALLEL_ROWS"
PARALLEL_MACRO = f"""#if defined(_OPENMP) && defined(DLGRAD_NUM_THREADS)
#define {PARALLEL} _Pragma("omp parallel for schedule(static) num_threads(DLGRAD_NUM_THREADS)")
#else
#define {PARALLEL}
#endif
"""


def packs(ctype, m, n, k, b_k, b_n) -> bool:
    """Whether matmul_block packs B: then it reads B through any strides at full speed."""
    return (m >= ROWS and n > 1 and k > 0
            and (b_n != 1 or n < COLS[ctype] or k * n * SIZE[ctype] > L2_BYTES))


def matmul_block(ctype, m, n, k, a_m, a_k, b_k, b_n, pack=None, epilogue=None) -> Block:
    """Statements computing C (row stride n) from pointers A and B; `pack` forces packing B
    on or off (for measurements), instead of `packs`.

    `epilogue(i, r, j, value)`, if given, returns the C lines run on C's element at row i + r,
    column j (C expressions) once it holds its final value `value` (C's element), each element
    exactly once: after each row block of C, over its rows (a row-major pass over 8 rows in
    L1), and after each row of the row loop.
    """
    block = Block()
    g = _Product(ctype, m, n, k, a_m, a_k, b_k, b_n, epilogue or (lambda *_: []))
    if packs(ctype, m, n, k, b_k, b_n) if pack is None else pack:
        # the scheduler fuses no epilogue here: it would walk its operands down column strips
        # of the panel (W3's Adam step on dW1 = dH @ X^T: 300 us fused, 290 us after it)
        assert epilogue is None, "no epilogue on a packed product"
        block.add(Stmt("\n".join(g.packed())))
        return block
    if b_n == 1 and m >= ROWS and n >= g.cols:
        m_blocked, n_blocked = m - m % ROWS, n - n % g.cols
        block.add(Stmt("\n".join(g.register_blocks(m_blocked, n_blocked))))
        if n_blocked < n:
            block.add(Stmt("\n".join(g.axpy_rows(0, m_blocked, n_blocked, n))))
        if m_blocked < m:
            block.add(Stmt("\n".join(g.axpy_rows(m_blocked, m, 0, n))))
        return block
    block.add(Stmt("\n".join(g.axpy_rows(0, m, 0, n))))
    return block


class _Product:
    """The loop nests of one product, as lists of C lines."""

    def __init__(self, ctype, m, n, k, a_m, a_k, b_k, b_n, epilogue):
        self.ctype, self.m, self.n, self.k = ctype, m, n, k
        self.a_m, self.a_k, self.b_k, self.b_n = a_m, a_k, b_k, b_n
        self.cols, self.epilogue = COLS[ctype], epilogue
        # below PARALLEL_MIN multiply-adds, starting a thread team costs more than it saves
        self.par = [PARALLEL] if m * n * k >= PARALLEL_MIN else []

    def register_blocks(self, m, n_blocked):
        """Rows 0..m, columns 0..n_blocked in ROWS x cols blocks reading B in place."""
        ctype, cols, rows = self.ctype, self.cols, range(ROWS)
        return [
            *self.par,
            f"for (ptrdiff_t i = 0; i < {m}; i += {ROWS}) {{",
            f"    for (ptrdiff_t j0 = 0; j0 < {n_blocked}; j0 += {cols}) {{",
            f"        {ctype} " + ", ".join(f"acc{r}[{cols}] = {{0}}" for r in rows) + ";",
            f"        for (ptrdiff_t kk = 0; kk < {self.k}; ++kk) {{",
            *(f"            const {ctype} a{r} = A[(i + {r})*{self.a_m} + kk*{self.a_k}];" for r in rows),
            f"            const {ctype} *restrict b = B + kk*{self.b_k} + j0;",
            f"            for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
            f"                const {ctype} bj = b[j];",
            *(f"                acc{r}[j] += a{r} * bj;" for r in rows),
            "            }",
            "        }",
            f"        for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
            *(f"            C[(i + {r})*{self.n} + j0 + j] = acc{r}[j];" for r in rows),
            "        }",
            "    }",
            *_indent(self.finish_rows("i", ROWS, n_blocked)),
            "}"]

    def axpy_rows(self, i0, i1, j0, j1):
        """C[i, j0:j1] = sum_k A[i, k] * B[k, j0:j1] for rows i0..i1, streaming B's rows."""
        n, ctype = self.n, self.ctype
        return [*self.par, f"for (ptrdiff_t i = {i0}; i < {i1}; ++i) {{",
                f"    for (ptrdiff_t j = {j0}; j < {j1}; ++j) C[i*{n} + j] = 0;",
                f"    for (ptrdiff_t kk = 0; kk < {self.k}; ++kk) {{",
                f"        const {ctype} a = A[i*{self.a_m} + kk*{self.a_k}];",
                f"        for (ptrdiff_t j = {j0}; j < {j1}; ++j) "
                f"C[i*{n} + j] += a * B[kk*{self.b_k} + j*{self.b_n}];",
                "    }",
                *(_indent([f"for (ptrdiff_t j = {j0}; j < {j1}; ++j) {{", *_indent(epilogue), "}"])
                  if (epilogue := self.epilogue("i", 0, "j", f"C[i*{n} + j]")) else []),
                "}"]

    def packed(self):
        """C by panels of B (up to KC x cols) packed into `panel`, each swept by every row
        block of A; the panels split between threads."""
        assert self.m >= ROWS, "the last row block overlaps the one before"
        n, cols = self.n, self.cols
        n_full = n - n % cols
        lines = []
        if n_full:
            lines += [*self.par, f"for (ptrdiff_t j0 = 0; j0 < {n_full}; j0 += {cols}) {{",
                      *_indent(self.panel(cols)), "}"]
        if n_full < n:
            lines += ["{", f"    const ptrdiff_t j0 = {n_full};", *_indent(self.panel(n - n_full)), "}"]
        return lines

    def panel(self, width):
        """Columns j0 .. j0+width of C: pack B's panel (zeros past `width`), then the row blocks.

        Every block has ROWS rows: one of fewer rows has gcc vectorise its k loop as in-order
        sums instead (measured 10x slower), so the last rows are computed by a block that
        overlaps the one before. With one k block it stores all its rows (the overlapped ones
        get the same values again); with several it sums its rows in `last` and stores the
        new ones at the end.
        """
        ctype, m, k, cols = self.ctype, self.m, self.k, self.cols
        kc = min(KC[ctype], k)
        one_block = kc == k
        m_blocked, rest = m - m % ROWS, m % ROWS
        # one row of the panel at a time: contiguous stores, and (measured) 2.5x faster than
        # walking down a transposed B's contiguous columns
        pad = [f"    for (ptrdiff_t j = {width}; j < {cols}; ++j) panel[kk*{cols} + j] = 0;"] if width < cols else []
        pack = ["for (ptrdiff_t kk = 0; kk < kn; ++kk) {",
                f"    const {ctype} *restrict src = B + (k0 + kk)*{self.b_k} + j0*{self.b_n};",
                f"    for (ptrdiff_t j = 0; j < {width}; ++j) panel[kk*{cols} + j] = src[j*{self.b_n}];",
                *pad,
                "}",
                f"for (ptrdiff_t i = 0; i < {m_blocked}; i += {ROWS}) {{",
                *_indent(self.micro("i", width, "=" if one_block else "+=")), "}"]
        lines = [f"{ctype} panel[{kc * cols}];"]
        if one_block:
            lines.append(f"const ptrdiff_t k0 = 0, kn = {k};")
            if rest:
                pack += ["{", *_indent(self.micro(str(m - ROWS), width, "=")), "}"]
            return lines + pack
        if rest:
            lines.append(f"{ctype} last[{ROWS * cols}];")
            pack += ["{", *_indent(self.micro(str(m - ROWS), width, "last")), "}"]
        lines += [f"for (ptrdiff_t k0 = 0; k0 < {k}; k0 += {kc}) {{",
                  f"    const ptrdiff_t kn = {k} - k0 < {kc} ? {k} - k0 : {kc};", *_indent(pack), "}"]
        if rest:
            lines += [f"for (ptrdiff_t j = 0; j < {width}; ++j) {{",
                      *(f"    C[{m - ROWS + r}*{self.n} + j0 + j] = last[{r * cols} + j];"
                        for r in range(ROWS - rest, ROWS)),
                      "}"]
        return lines

    def micro(self, i, width, store):
        """A ROWS x cols block of C at rows i.. and columns j0.. over the panel's kn rows:
        `store` "=" writes C, "+=" adds to what earlier k blocks wrote, "last" sums into `last`."""
        ctype, cols, rs = self.ctype, self.cols, range(ROWS)
        lines = [f"{ctype} " + ", ".join(f"acc{r}[{cols}] = {{0}}" for r in rs) + ";",
                 "for (ptrdiff_t kk = 0; kk < kn; ++kk) {",
                 *(f"    const {ctype} a{r} = A[({i} + {r})*{self.a_m} + (k0 + kk)*{self.a_k}];" for r in rs),
                 f"    const {ctype} *restrict b = panel + kk*{cols};",
                 f"    for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
                 f"        const {ctype} bj = b[j];",
                 *(f"        acc{r}[j] += a{r} * bj;" for r in rs),
                 "    }",
                 "}"]
        if store == "last":
            return lines + [f"for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
                            *(f"    last[{r * cols} + j] = k0 ? last[{r * cols} + j] + acc{r}[j] : acc{r}[j];"
                              for r in rs),
                            "}"]
        c = [f"C[({i} + {r})*{self.n} + j0 + j]" for r in rs]
        lines.append(f"for (ptrdiff_t j = 0; j < {width}; ++j) {{")
        if store == "=":
            return lines + [f"    {c[r]} = acc{r}[j];" for r in rs] + ["}"]
        return lines + [f"    {c[r]} = k0 ? {c[r]} + acc{r}[j] : acc{r}[j];" for r in rs] + ["}"]

    def finish_rows(self, i, rows, width):
        """The epilogue on rows i..i+rows, columns 0..width of C, once they are final."""
        epilogue = self.epilogue(i, "r", "j", f"C[({i} + r)*{self.n} + j]")
        if not epilogue:
            return []
        return [f"for (ptrdiff_t r = 0; r < {rows}; ++r) {{", f"    for (ptrdiff_t j = 0; j < {width}; ++j) {{",
                *_indent(epilogue, 2), "    }", "}"]


def _indent(lines, levels=1):
    return ["    " * levels + line for line in lines]


# --- the matmul kernel: batch loops around matmul_block, and the elementwise epilogue ---------

def emit_matmul(emitter, index, kernel):
    """KernelEmitter.matmul: kernel.roots[0] is the product; the other roots (elementwise over
    its shape, scheduled as its epilogue) are computed from each finished block of it."""
    from .kernels import _unique
    root = kernel.roots[0]
    (a, amap), (b, bmap) = kernel.operands
    owner_a, owner_b = emitter.owner(a), emitter.owner(b)
    a_off, a_co = linear(amap, emitter.storage_shape(a))
    b_off, b_co = linear(bmap, emitter.storage_shape(b))
    m, k = root.inputs[0].shape[-2:]
    n = root.shape[-1]
    batch = root.shape[:-2]
    nb = len(batch)
    # batch coefficients: operand batch axes are right-aligned and may be broadcast
    a_batch = _batch_coefs(a_co, root.inputs[0].shape, batch)
    b_batch = _batch_coefs(b_co, root.inputs[1].shape, batch)
    bnames = [f"b{d}" for d in range(nb)]
    ctype = CTYPE[root.dtype]
    A, B, C = emitter.names[id(owner_a)], emitter.names[id(owner_b)], emitter.names[id(root)]
    outer, body = loop_nest(batch, bnames)
    body.add(f"const {CTYPE[owner_a.dtype]} *restrict A = {A} + ({index_expr(a_off, a_batch, bnames)});")
    body.add(f"const {CTYPE[owner_b.dtype]} *restrict B = {B} + ({index_expr(b_off, b_batch, bnames)});")
    body.add(f"{ctype} *restrict C = {C} + ({index_expr(0, c_strides(root.shape)[:nb], bnames)});")
    stored = [r for r in kernel.roots[1:] if id(r) in emitter.names]
    epilogue = _epilogue(emitter, kernel, stored, bnames) if stored else None
    body.body.extend(matmul_block(ctype, m, n, k, a_co[-2], a_co[-1], b_co[-2], b_co[-1],
                                  epilogue=epilogue).body)
    reads = _unique([owner_a, owner_b] + ([load.buffer for load in kernel.body.loads if load.buffer is not root]
                                          if stored else []))
    return emitter._function(index, kernel, reads, [root, *stored], outer)


def _epilogue(emitter, kernel, stored, bnames):
    """epilogue(i, r, j, value) for matmul_block: the stored roots at one element of the
    product, given its value.

    Measured on W3 (float32, 128x128 products, bias + relu forward, relu' backward): run on
    each 8 x 16 block after its stores it was slower than a kernel of its own (7.1 against
    5.7 us for dH and relu'); inside the loop storing the accumulators it kept them out of
    registers (the product 20 % slower); row by row after each row block of 8 rows it is
    5.4 against 5.7 us, and bias + relu 241-250 against 250 us with the product."""
    from .kernels import _prune
    product, body, shape = kernel.roots[0], kernel.body, kernel.shape
    exprs = [kernel.exprs[id(r)] for r in stored]
    _prune(body, exprs)
    names = [*bnames, "ei", "ej"]
    ctype, printer = emitter._numeric(stored + [load.buffer for load in body.loads])
    out = index_expr(0, c_strides(shape), names)
    dims = {d: d for d in range(len(shape))}

    def lines(i, r, j, value):
        access_of = {load: value if load.buffer is product else (load.offset, load.coefs) for load in body.loads}
        block = Block([Stmt(f"const ptrdiff_t ei = {i} + {r}, ej = {j};")])
        values = emitter._body_statements(body, exprs, dims, names, access_of, ctype, printer, block)
        for root, expr in zip(stored, values):
            block.add(f"{emitter.names[id(root)]}[{out}] = {expr};")
        return block.lines("")
    return lines


def _batch_coefs(coefs, operand_shape, batch):
    """Coefficients of the result's batch loops in an operand's index (0 where broadcast)."""
    nb_op = len(operand_shape) - 2
    lead = len(batch) - nb_op
    result = []
    for d in range(len(batch)):
        od = d - lead
        result.append(coefs[od] if od >= 0 and operand_shape[od] == batch[d] else 0)
    return tuple(result)
