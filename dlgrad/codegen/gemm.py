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
padded with zeros so that edge columns run through the same blocks (see `packs`); a B of
one k block that packs into L1 whole is packed first, and each row block of A then passes
over every panel (A read once).

Elementwise consumers of C that the scheduler fused (bias, activation) run as an epilogue
on each finished row block (kinds/matmul.py builds it). Products of at least PARALLEL_MIN multiply-adds split their
row blocks (or panels, when packing) between threads when the program is built with
OpenMP (PARALLEL_MACRO; off by default, see DLGRAD_NUM_THREADS).
"""
from __future__ import annotations

from .csyntax import Block, For, Scope

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
# all of B packed at once (packed_whole) when it is one k block of at most this many bytes
L1_PACKED = 32 << 10
PARALLEL_MIN = 1 << 18
PARALLEL = "DLGRAD_PARALLEL_ROWS"
PARALLEL_MACRO = f"""#if defined(_OPENMP) && defined(DLGRAD_NUM_THREADS)
#define {PARALLEL} _Pragma("omp parallel for schedule(static) num_threads(DLGRAD_NUM_THREADS)")
#else
#define {PARALLEL}
#endif
"""


def packed_epilogue(ctype, k, accumulates, loads) -> bool:
    """Whether a packed product takes an epilogue: only an accumulation d + product reading one
    other array (a loop step's dW + dZ @ X'), and with one k block; others walk their operands
    down the panel's column strips (W3's Adam step on dW1 = dH @ X^T: 300 us fused, 290 us after)."""
    return k <= KC[ctype] and accumulates and loads <= 1


def packs(ctype, m, n, k, b_k, b_n) -> bool:
    """Whether matmul_block packs B: then it reads B through any strides at full speed."""
    return (m >= ROWS and n > 1 and k > 0
            and (b_n != 1 or n < COLS[ctype] or k * n * SIZE[ctype] > L2_BYTES))


def matmul_block(ctype, m, n, k, a_m, a_k, b_k, b_n, pack=None, epilogue=None, store=True) -> Block:
    """Statements computing C (row stride n) from pointers A and B; `pack` forces packing B
    on or off (for measurements), instead of `packs`.

    `epilogue(i, r, j, value)`, if given, returns the Block run on C's element at row i + r,
    column j (C expressions) once it holds its final value `value` (C's element), each element
    exactly once: after each row block of C, over its rows (a row-major pass over 8 rows in
    L1), and after each row of the row loop. store=False (a packed product of one k block with
    an epilogue, read by nothing else): C itself is not written, the epilogue reads registers.
    """
    block = Block()
    g = _Product(ctype, m, n, k, a_m, a_k, b_k, b_n, epilogue or (lambda *_: None))
    g.store = store
    if packs(ctype, m, n, k, b_k, b_n) if pack is None else pack:
        # the scheduler fuses only accumulations here, with one k block (packed_epilogue)
        assert epilogue is None or k <= KC[ctype], "an epilogue on a packed product of one k block only"
        assert store or (epilogue is not None and k <= KC[ctype]), "only a fused packed product skips C"
        block.extend(g.packed())
        return block
    if b_n == 1 and m >= ROWS and n >= g.cols:
        m_blocked, n_blocked = m - m % ROWS, n - n % g.cols
        block.add(g.register_blocks(m_blocked, n_blocked))
        if n_blocked < n:
            block.add(g.axpy_rows(0, m_blocked, n_blocked, n))
        if m_blocked < m:
            block.add(g.axpy_rows(m_blocked, m, 0, n))
        return block
    block.add(g.axpy_rows(0, m, 0, n))
    return block


class _Product:
    """The loop nests of one product, as C syntax trees."""

    def __init__(self, ctype, m, n, k, a_m, a_k, b_k, b_n, epilogue):
        self.ctype, self.m, self.n, self.k = ctype, m, n, k
        self.a_m, self.a_k, self.b_k, self.b_n = a_m, a_k, b_k, b_n
        self.cols, self.epilogue = COLS[ctype], epilogue
        self.store = True
        # below PARALLEL_MIN multiply-adds, starting a thread team costs more than it saves
        self.par = PARALLEL if m * n * k >= PARALLEL_MIN else ""

    def register_blocks(self, m, n_blocked):
        """Rows 0..m, columns 0..n_blocked in ROWS x cols blocks reading B in place."""
        ctype, cols = self.ctype, self.cols
        rows = For("i", m, step=ROWS, pragma=self.par)
        columns = rows.add(For("j0", n_blocked, step=cols))
        columns.add(self.accumulators())
        over_k = columns.add(For("kk", self.k))
        over_k.body.extend(f"const {ctype} a{r} = A[(i + {r})*{self.a_m} + kk*{self.a_k}];" for r in range(ROWS))
        over_k.add(f"const {ctype} *restrict b = B + kk*{self.b_k} + j0;")
        over_k.add(self.multiply_add())
        store = columns.add(For("j", cols))
        store.body.extend(f"C[(i + {r})*{self.n} + j0 + j] = acc{r}[j];" for r in range(ROWS))
        rows.body.extend(self.finish_rows("i", ROWS, n_blocked))
        return rows

    def accumulators(self):
        """The ROWS x cols accumulators of a block, zeroed."""
        return f"{self.ctype} " + ", ".join(f"acc{r}[{self.cols}] = {{0}}" for r in range(ROWS)) + ";"

    def multiply_add(self):
        """acc_r[j] += a_r * b[j] over a row of the block: each element of b feeds ROWS sums."""
        loop = For("j", self.cols)
        loop.add(f"const {self.ctype} bj = b[j];")
        loop.body.extend(f"acc{r}[j] += a{r} * bj;" for r in range(ROWS))
        return loop

    def axpy_rows(self, i0, i1, j0, j1):
        """C[i, j0:j1] = sum_k A[i, k] * B[k, j0:j1] for rows i0..i1, streaming B's rows."""
        n = self.n
        rows = For("i", i1, start=i0, pragma=self.par)
        rows.add(For("j", j1, Block([f"C[i*{n} + j] = 0;"]), start=j0, braces=False))
        over_k = rows.add(For("kk", self.k))
        over_k.add(f"const {self.ctype} a = A[i*{self.a_m} + kk*{self.a_k}];")
        over_k.add(For("j", j1, Block([f"C[i*{n} + j] += a * B[kk*{self.b_k} + j*{self.b_n}];"]),
                       start=j0, braces=False))
        epilogue = self.epilogue("i", 0, "j", f"C[i*{n} + j]")
        if epilogue is not None:
            rows.add(For("j", j1, epilogue, start=j0))
        return rows

    def packed(self):
        """C by panels of B (up to KC x cols) packed into `panel`, each swept by every row
        block of A; the panels split between threads."""
        assert self.m >= ROWS, "the last row block overlaps the one before"
        n, cols = self.n, self.cols
        if self.k <= KC[self.ctype] and cols < n and self.k * -(-n // cols) * cols * SIZE[self.ctype] <= L1_PACKED:
            return self.packed_whole()
        n_full = n - n % cols
        items = []
        if n_full:
            items.append(For("j0", n_full, Block(self.panel(cols)), step=cols, pragma=self.par))
        if n_full < n:
            items.append(Scope([f"const ptrdiff_t j0 = {n_full};", *self.panel(n - n_full)]))
        return items

    def packed_whole(self):
        """C with all of B packed first (one k block that fits L1 packed), then each row block
        of A against every panel: A is read once, not once per panel (an LSTM step's
        dR += dz h': 512x32 @ (128x32)^T read its 64 kB of dz eight times); row blocks split
        between threads."""
        ctype, m, n, k, cols = self.ctype, self.m, self.n, self.k, self.cols
        n_full, rest = n - n % cols, m % ROWS
        panels = -(-n // cols)

        def each_panel(body):
            """`body(width)` for every panel, with j0 and its packed `panel` defined."""
            items = []
            if n_full:
                loop = For("j0", n_full, step=cols)
                loop.add(f"const {ctype} *restrict panel = packed + (j0/{cols})*{k * cols};")
                loop.body.extend(body(cols))
                items.append(loop)
            if n_full < n:
                items.append(Scope([f"const ptrdiff_t j0 = {n_full};",
                                    f"const {ctype} *restrict panel = packed + {n_full // cols * k * cols};",
                                    *body(n - n_full)]))
            return items

        def pack(width):
            loop = For("kk", k)
            loop.add(f"const {ctype} *restrict src = B + kk*{self.b_k} + j0*{self.b_n};")
            loop.add(f"{ctype} *restrict dst = ({ctype} *)panel + kk*{cols};")
            loop.add(For("j", width, Block([f"dst[j] = src[j*{self.b_n}];"]), braces=False))
            if width < cols:
                loop.add(For("j", cols, Block(["dst[j] = 0;"]), start=width, braces=False))
            return [loop]
        items = [f"{ctype} packed[{panels * k * cols}];", f"const ptrdiff_t k0 = 0, kn = {k};"]
        items += each_panel(pack)
        rows = For("i", m - rest, step=ROWS, pragma=self.par)
        rows.body.extend(each_panel(lambda width: self.micro("i", width, "=")))
        items.append(rows)
        if rest:   # the last row block overlaps the one before; its first rows are done
            items.append(Scope([f"const ptrdiff_t i = {m - ROWS};",
                                *each_panel(lambda width: self.micro("i", width, "=", done=ROWS - rest))]))
        return items

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
        pack = For("kk", "kn")
        pack.add(f"const {ctype} *restrict src = B + (k0 + kk)*{self.b_k} + j0*{self.b_n};")
        pack.add(For("j", width, Block([f"panel[kk*{cols} + j] = src[j*{self.b_n}];"]), braces=False))
        if width < cols:
            pack.add(For("j", cols, Block([f"panel[kk*{cols} + j] = 0;"]), start=width, braces=False))
        blocks = [pack, For("i", m_blocked, Block(self.micro("i", width, "=" if one_block else "+=")), step=ROWS)]
        items = [f"{ctype} panel[{kc * cols}];"]
        if one_block:
            items.append(f"const ptrdiff_t k0 = 0, kn = {k};")
            if rest:   # its first ROWS - rest rows are done: storing them again would apply an
                # epilogue twice to an array it updates in place (a donated d + a @ b')
                blocks.append(Scope(self.micro(str(m - ROWS), width, "=", done=ROWS - rest)))
            return items + blocks
        if rest:
            items.append(f"{ctype} last[{ROWS * cols}];")
            blocks.append(Scope(self.micro(str(m - ROWS), width, "last")))
        over_k = For("k0", k, step=kc)
        over_k.add(f"const ptrdiff_t kn = {k} - k0 < {kc} ? {k} - k0 : {kc};")
        over_k.body.extend(blocks)
        items.append(over_k)
        if rest:
            store = For("j", width)
            store.body.extend(f"C[{m - ROWS + r}*{self.n} + j0 + j] = last[{r * cols} + j];"
                              for r in range(ROWS - rest, ROWS))
            items.append(store)
        return items

    def micro(self, i, width, store, done=0):
        """A ROWS x cols block of C at rows i.. and columns j0.. over the panel's kn rows:
        `store` "=" writes C (rows from `done` on), "+=" adds to what earlier k blocks wrote,
        "last" sums into `last`."""
        ctype, cols, rs = self.ctype, self.cols, range(ROWS)
        over_k = For("kk", "kn")
        over_k.body.extend(f"const {ctype} a{r} = A[({i} + {r})*{self.a_m} + (k0 + kk)*{self.a_k}];" for r in rs)
        over_k.add(f"const {ctype} *restrict b = panel + kk*{cols};")
        over_k.add(self.multiply_add())
        if store == "last":
            stores = For("j", cols)
            stores.body.extend(f"last[{r * cols} + j] = k0 ? last[{r * cols} + j] + acc{r}[j] : acc{r}[j];"
                               for r in rs)
        else:
            c = [f"C[({i} + {r})*{self.n} + j0 + j]" for r in rs]
            stores = For("j", width)
            if self.store or store != "=":
                stores.body.extend(f"{c[r]} = acc{r}[j];" if store == "=" else
                                   f"{c[r]} = k0 ? {c[r]} + acc{r}[j] : acc{r}[j];" for r in rs if r >= done)
            if store == "=":   # one k block: the values are final
                for r in range(done, ROWS):
                    epilogue = self.epilogue(i, r, "j0 + j", f"acc{r}[j]")
                    if epilogue is not None:
                        stores.add(Scope(epilogue.body))
        return [self.accumulators(), over_k, stores]

    def finish_rows(self, i, rows, width):
        """The epilogue on rows i..i+rows, columns 0..width of C, once they are final."""
        epilogue = self.epilogue(i, "r", "j", f"C[({i} + r)*{self.n} + j]")
        if epilogue is None:
            return []
        return [For("r", rows, Block([For("j", width, epilogue)]))]
