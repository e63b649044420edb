"""Linear solves (graph/ops/solve.py): LU with partial pivoting in the output buffer, and
forward and back substitution with its factors. One matrix per iteration of a loop over
the leading (batch) dimensions; operands are read contiguous."""
from __future__ import annotations

import math

from ..csyntax import CTYPE, Block, For
from . import Kernel, Kind, register


def _place(first):
    """Read the node's inputs from `first` on (lu_solve's A is there only for its adjoint)."""
    def place(scheduler, node):
        operands = [scheduler.operand(x, contiguous=True) for x in node.inputs[first:]]
        reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
        return scheduler.add(Kernel(node.op, node.shape, [node], operands=operands), reads)
    return place


def emit_lu(emitter, index, kernel):
    (root,), ((a, _),) = kernel.roots, kernel.operands
    n = root.shape[-2]
    w, src, out, ctype = n + 1, emitter.names[id(emitter.owner(a))], emitter.names[id(root)], CTYPE[root.dtype]
    fabs = "fabsf" if ctype == "float" else "fabs"
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[a.dtype]} *restrict s = {src} + b*{n * n};
{ctype} *restrict m = {out} + b*{n * w};
for (ptrdiff_t i = 0; i < {n}; ++i)
    for (ptrdiff_t c = 0; c < {n}; ++c) m[i*{w} + c] = s[i*{n} + c];
for (ptrdiff_t j = 0; j < {n}; ++j) {{
    /* the first row of largest |value| pivots (NaN never does) */
    ptrdiff_t p = j;
    {ctype} best = -1;
    for (ptrdiff_t i = j; i < {n}; ++i) {{
        const {ctype} size = {fabs}(m[i*{w} + j]);
        if (size > best) {{ best = size; p = i; }}
    }}
    m[j*{w} + {n}] = ({ctype})p;
    for (ptrdiff_t c = 0; c < {n}; ++c) {{
        const {ctype} t = m[j*{w} + c];
        m[j*{w} + c] = m[p*{w} + c];
        m[p*{w} + c] = t;
    }}
    const {ctype} d = m[j*{w} + j];
    if (d == 0) continue;   /* a zero pivot stays: the solve gives Inf/NaN */
    for (ptrdiff_t i = j + 1; i < {n}; ++i) {{
        const {ctype} l = m[i*{w} + j] / d;
        m[i*{w} + j] = l;
        for (ptrdiff_t c = j + 1; c < {n}; ++c) m[i*{w} + c] -= l*m[j*{w} + c];
    }}
}}""")
    return emitter.function(index, kernel, [emitter.owner(a)], [root], Block([loop]))


def emit_solve(emitter, index, kernel):
    (root,), ((lu, _), (b, _)) = kernel.roots, kernel.operands
    n, k = root.shape[-2:]
    w, ctype = n + 1, CTYPE[root.dtype]
    factors, rhs, out = (emitter.names[id(x)] for x in (emitter.owner(lu), emitter.owner(b), root))
    swap = f"""{{
        const ptrdiff_t p = (ptrdiff_t)f[j*{w} + {n}];
        for (ptrdiff_t c = 0; c < {k}; ++c) {{
            const {ctype} t = x[j*{k} + c];
            x[j*{k} + c] = x[p*{k} + c];
            x[p*{k} + c] = t;
        }}
    }}"""
    if not root.attr("transpose"):   # P A = L U: L y = P b, then U x = y
        steps = f"""for (ptrdiff_t j = 0; j < {n}; ++j) {swap}
for (ptrdiff_t i = 0; i < {n}; ++i)
    for (ptrdiff_t j = 0; j < i; ++j)
        for (ptrdiff_t c = 0; c < {k}; ++c) x[i*{k} + c] -= f[i*{w} + j]*x[j*{k} + c];
for (ptrdiff_t i = {n - 1}; i >= 0; --i)
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = x[i*{k} + c];
        for (ptrdiff_t j = i + 1; j < {n}; ++j) v -= f[i*{w} + j]*x[j*{k} + c];
        x[i*{k} + c] = v / f[i*{w} + i];
    }}"""
    else:                            # A^T = U^T L^T P: U^T z = b, L^T w = z, x = P^T w
        steps = f"""for (ptrdiff_t i = 0; i < {n}; ++i)
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = x[i*{k} + c];
        for (ptrdiff_t j = 0; j < i; ++j) v -= f[j*{w} + i]*x[j*{k} + c];
        x[i*{k} + c] = v / f[i*{w} + i];
    }}
for (ptrdiff_t i = {n - 1}; i >= 0; --i)
    for (ptrdiff_t j = i + 1; j < {n}; ++j)
        for (ptrdiff_t c = 0; c < {k}; ++c) x[i*{k} + c] -= f[j*{w} + i]*x[j*{k} + c];
for (ptrdiff_t j = {n - 1}; j >= 0; --j) {swap}"""
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[lu.dtype]} *restrict f = {factors} + b*{n * w};
{ctype} *restrict x = {out} + b*{n * k};
for (ptrdiff_t e = 0; e < {n * k}; ++e) x[e] = {rhs}[b*{n * k} + e];
{steps}""")
    return emitter.function(index, kernel, [emitter.owner(lu), emitter.owner(b)], [root], Block([loop]))


register(Kind("lu", _place(0), emit_lu), ops=("lu",))
register(Kind("lu_solve", _place(1), emit_solve), ops=("lu_solve",))
