"""Loop nests for one matrix product C[m,n] = A[m,k] @ B[k,n] with constant sizes and strides.

A and B are read through strides (transposed operands need no copy). C is computed in
register blocks of ROWS x cols: the accumulators stay in vector registers over a run of
k, so each loaded element of B feeds ROWS multiply-adds.

When B's rows are contiguous and B fits in L2, the blocks read B in place (the rest of C,
if any, by the plain row loop). Otherwise B is packed, one panel of `cols` columns by up to
KC rows at a time, into a stack buffer that stays in cache while every row block of A
passes over it: a transposed B is read along its contiguous axis, and the last panel is
padded with zeros so that edge columns run through the same blocks (see `packs`). Products of at least
PARALLEL_MIN multiply-adds split their row blocks (or panels, when packing) between threads
when the program is built with OpenMP (PARALLEL_MACRO; off by default, see
DLGRAD_NUM_THREADS).
"""
from __future__ import annotations

from .cast import Block, Stmt

# measured with gcc 12 -O3 -march=native (AVX-512 host, 256-bit vectors preferred): 8 x 16 blocks
# beat the row loop 2.2x for float (128x784 @ 784x128); narrower blocks defeat the vectoriser
ROWS = 8
COLS = {"float": 16, "double": 16}
SIZE = {"float": 4, "double": 8}
# Packing B (see _packed) pays when it is transposed (a panel read along its rows is one
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
# below this many multiply-adds, starting a thread team costs more than it saves
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


def matmul_block(ctype, m, n, k, a_m, a_k, b_k, b_n, pack=None) -> Block:
    """Statements computing C (row stride n) from pointers A and B."""
    block = Block()
    cols = COLS[ctype]
    par = [PARALLEL] if m * n * k >= PARALLEL_MIN else []
    if packs(ctype, m, n, k, b_k, b_n) if pack is None else pack:
        block.add(_packed(ctype, m, n, k, a_m, a_k, b_k, b_n, cols, par))
        return block
    if b_n == 1 and m >= ROWS and n >= cols:
        m_blocked, n_blocked = m - m % ROWS, n - n % cols
        block.add(_register_blocks(ctype, m_blocked, n_blocked, n, k, a_m, a_k, b_k, cols, par))
        if n_blocked < n:
            block.add(_axpy_rows(ctype, 0, m_blocked, n_blocked, n, n, k, a_m, a_k, b_k, b_n, par))
        if m_blocked < m:
            block.add(_axpy_rows(ctype, m_blocked, m, 0, n, n, k, a_m, a_k, b_k, b_n, par))
        return block
    block.add(_axpy_rows(ctype, 0, m, 0, n, n, k, a_m, a_k, b_k, b_n, par))
    return block


def _register_blocks(ctype, m, n_blocked, n, k, a_m, a_k, b_k, cols, par):
    rows = range(ROWS)
    lines = [
        *par,
        f"for (ptrdiff_t i = 0; i < {m}; i += {ROWS}) {{",
        f"    for (ptrdiff_t j0 = 0; j0 < {n_blocked}; j0 += {cols}) {{",
        f"        {ctype} " + ", ".join(f"acc{r}[{cols}] = {{0}}" for r in rows) + ";",
        f"        for (ptrdiff_t kk = 0; kk < {k}; ++kk) {{",
        *(f"            const {ctype} a{r} = A[(i + {r})*{a_m} + kk*{a_k}];" for r in rows),
        f"            const {ctype} *restrict b = B + kk*{b_k} + j0;",
        f"            for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
        f"                const {ctype} bj = b[j];",
        *(f"                acc{r}[j] += a{r} * bj;" for r in rows),
        "            }",
        "        }",
        f"        for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
        *(f"            C[(i + {r})*{n} + j0 + j] = acc{r}[j];" for r in rows),
        "        }",
        "    }",
        "}"]
    return Stmt("\n".join(lines))


def _packed(ctype, m, n, k, a_m, a_k, b_k, b_n, cols, par):
    """C by panels of B (up to KC x cols) packed into `panel`, each swept by every row block
    of A; the panels split between threads."""
    assert m >= ROWS, "the last row block overlaps the one before"
    n_full = n - n % cols
    lines = []
    if n_full:
        lines += [*par, f"for (ptrdiff_t j0 = 0; j0 < {n_full}; j0 += {cols}) {{",
                  *_indent(_panel(ctype, m, n, k, a_m, a_k, b_k, b_n, cols, cols)), "}"]
    if n_full < n:
        lines += ["{", f"    const ptrdiff_t j0 = {n_full};",
                  *_indent(_panel(ctype, m, n, k, a_m, a_k, b_k, b_n, cols, n - n_full)), "}"]
    return Stmt("\n".join(lines))


def _panel(ctype, m, n, k, a_m, a_k, b_k, b_n, cols, width):
    """Columns j0 .. j0+width of C: pack B's panel (zeros past `width`), then the row blocks.

    Every block has ROWS rows: one of fewer rows has gcc vectorise its k loop as in-order
    sums instead (measured 10x slower), so the last rows are computed by a block that
    overlaps the one before. With one k block it stores all its rows (the overlapped ones
    get the same values again); with several it sums its rows in `last` and stores the
    new ones at the end.
    """
    kc = min(KC[ctype], k)
    one_block = kc == k
    m_blocked, rest = m - m % ROWS, m % ROWS
    # one row of the panel at a time: contiguous stores, and (measured) 2.5x faster than
    # walking down a transposed B's contiguous columns
    pack = ["for (ptrdiff_t kk = 0; kk < kn; ++kk) {",
            f"    const {ctype} *restrict src = B + (k0 + kk)*{b_k} + j0*{b_n};",
            f"    for (ptrdiff_t j = 0; j < {width}; ++j) panel[kk*{cols} + j] = src[j*{b_n}];",
            *([f"    for (ptrdiff_t j = {width}; j < {cols}; ++j) panel[kk*{cols} + j] = 0;"] if width < cols else []),
            "}",
            f"for (ptrdiff_t i = 0; i < {m_blocked}; i += {ROWS}) {{",
            *_indent(_micro(ctype, "i", ROWS, a_m, a_k, n, cols, width, "=" if one_block else "+=")), "}"]
    lines = [f"{ctype} panel[{kc * cols}];"]
    if one_block:
        lines.append(f"const ptrdiff_t k0 = 0, kn = {k};")
        if rest:
            pack += ["{", *_indent(_micro(ctype, m - ROWS, ROWS, a_m, a_k, n, cols, width, "=")), "}"]
        return lines + pack
    if rest:
        lines.append(f"{ctype} last[{ROWS * cols}];")
        pack += ["{", *_indent(_micro(ctype, m - ROWS, ROWS, a_m, a_k, n, cols, width, "last")), "}"]
    lines += [f"for (ptrdiff_t k0 = 0; k0 < {k}; k0 += {kc}) {{",
              f"    const ptrdiff_t kn = {k} - k0 < {kc} ? {k} - k0 : {kc};", *_indent(pack), "}"]
    if rest:
        lines += [f"for (ptrdiff_t j = 0; j < {width}; ++j) {{",
                  *(f"    C[{m - ROWS + r}*{n} + j0 + j] = last[{r * cols} + j];" for r in range(ROWS - rest, ROWS)),
                  "}"]
    return lines


def _micro(ctype, i, stored, a_m, a_k, n, cols, width, store):
    """A ROWS x cols block of C at rows i.. and columns j0.. over the panel's kn rows:
    `store` "=" writes C, "+=" adds to what earlier k blocks wrote, "last" sums into `last`."""
    rs = range(ROWS)
    lines = [f"{ctype} " + ", ".join(f"acc{r}[{cols}] = {{0}}" for r in rs) + ";",
             "for (ptrdiff_t kk = 0; kk < kn; ++kk) {",
             *(f"    const {ctype} a{r} = A[({i} + {r})*{a_m} + (k0 + kk)*{a_k}];" for r in rs),
             f"    const {ctype} *restrict b = panel + kk*{cols};",
             f"    for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
             f"        const {ctype} bj = b[j];",
             *(f"        acc{r}[j] += a{r} * bj;" for r in rs),
             "    }",
             "}"]
    if store == "last":
        return lines + [f"for (ptrdiff_t j = 0; j < {cols}; ++j) {{",
                        *(f"    last[{r * cols} + j] = k0 ? last[{r * cols} + j] + acc{r}[j] : acc{r}[j];" for r in rs),
                        "}"]
    lines.append(f"for (ptrdiff_t j = 0; j < {width}; ++j) {{")
    for r in range(stored):
        c = f"C[({i} + {r})*{n} + j0 + j]"
        lines.append(f"    {c} = acc{r}[j];" if store == "=" else f"    {c} = k0 ? {c} + acc{r}[j] : acc{r}[j];")
    return lines + ["}"]


def _indent(lines):
    return ["    " + line for line in lines]


def _axpy_rows(ctype, i0, i1, j0, j1, n, k, a_m, a_k, b_k, b_n, par=()):
    """C[i, j0:j1] = sum_k A[i, k] * B[k, j0:j1] for rows i0..i1, streaming B's rows."""
    zero = f"    for (ptrdiff_t j = {j0}; j < {j1}; ++j) C[i*{n} + j] = 0;"
    body = [*par, f"for (ptrdiff_t i = {i0}; i < {i1}; ++i) {{", zero,
            f"    for (ptrdiff_t kk = 0; kk < {k}; ++kk) {{",
            f"        const {ctype} a = A[i*{a_m} + kk*{a_k}];",
            f"        for (ptrdiff_t j = {j0}; j < {j1}; ++j) C[i*{n} + j] += a * B[kk*{b_k} + j*{b_n}];",
            "    }", "}"]
    return Stmt("\n".join(body))
