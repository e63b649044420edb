"""Loop nests for one matrix product C[m,n] = A[m,k] @ B[k,n] with constant sizes and strides.

A and B are read through strides (transposed operands need no copy). When B's rows are
contiguous, C is computed in register blocks of ROWS x cols: the accumulators stay in
vector registers over the whole k loop, so each loaded element of B feeds ROWS
multiply-adds (the rest of C, if any, by the plain row loop). Products of at least
PARALLEL_MIN multiply-adds split their rows between threads when the program is built
with OpenMP (PARALLEL_MACRO; off by default, see DLGRAD_NUM_THREADS).
"""
from __future__ import annotations

from .cast import Block, Stmt

# measured with gcc 12 -O3 -march=native (AVX-512 host, 256-bit vectors preferred): 8 x 16 blocks
# beat the row loop 2.2x for float (128x784 @ 784x128); narrower blocks defeat the vectoriser
ROWS = 8
COLS = {"float": 16, "double": 16}
# below this many multiply-adds, starting a thread team costs more than it saves
PARALLEL_MIN = 1 << 18
PARALLEL = "DLGRAD_PARALLEL_ROWS"
PARALLEL_MACRO = f"""#if defined(_OPENMP) && defined(DLGRAD_NUM_THREADS)
#define {PARALLEL} _Pragma("omp parallel for schedule(static) num_threads(DLGRAD_NUM_THREADS)")
#else
#define {PARALLEL}
#endif
"""


def matmul_block(ctype, m, n, k, a_m, a_k, b_k, b_n) -> Block:
    """Statements computing C (row stride n) from pointers A and B."""
    block = Block()
    cols = COLS[ctype]
    par = [PARALLEL] if m * n * k >= PARALLEL_MIN else []
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


def _axpy_rows(ctype, i0, i1, j0, j1, n, k, a_m, a_k, b_k, b_n, par=()):
    """C[i, j0:j1] = sum_k A[i, k] * B[k, j0:j1] for rows i0..i1, streaming B's rows."""
    zero = f"    for (ptrdiff_t j = {j0}; j < {j1}; ++j) C[i*{n} + j] = 0;"
    body = [*par, f"for (ptrdiff_t i = {i0}; i < {i1}; ++i) {{", zero,
            f"    for (ptrdiff_t kk = 0; kk < {k}; ++kk) {{",
            f"        const {ctype} a = A[i*{a_m} + kk*{a_k}];",
            f"        for (ptrdiff_t j = {j0}; j < {j1}; ++j) C[i*{n} + j] += a * B[kk*{b_k} + j*{b_n}];",
            "    }", "}"]
    return Stmt("\n".join(body))
