"""QR with column pivoting and MATLAB's basic solution (graph/ops/pivoted.py): the factors in the
output buffer (pivots and rank in its last row), and the solves with them. One matrix per
iteration of a loop over the leading (batch) dimensions; operands are read contiguous."""
from __future__ import annotations

import math

from ...graph.ops.pivoted import rank_tolerance
from ..csyntax import CTYPE, Block, For
from .solve import _place
from . import Kind, register


def emit_qrp(emitter, index, kernel):
    (root,), ((a, _),) = kernel.roots, kernel.operands
    m, n = a.shape[-2:]
    w = n + 1
    src, out, ctype = emitter.names[id(emitter.owner(a))], emitter.names[id(root)], CTYPE[root.dtype]
    f = "f" if ctype == "float" else ""
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[a.dtype]} *restrict s = {src} + b*{m * n};
{ctype} *restrict q = {out} + b*{(m + 1) * w};
int bad = 0;
for (ptrdiff_t i = 0; i < {m}; ++i) {{
    for (ptrdiff_t c = 0; c < {n}; ++c) {{
        q[i*{w} + c] = s[i*{n} + c];
        if (!isfinite(s[i*{n} + c])) bad = 1;
    }}
    q[i*{w} + {n}] = 0;
}}
if (bad) {{   /* NaN or Inf in A: NaN factors, rank and solutions */
    for (ptrdiff_t e = 0; e < {(m + 1) * w}; ++e) q[e] = NAN;
    continue;
}}
for (ptrdiff_t c = 0; c < {n}; ++c) q[{m * w} + c] = ({ctype})c;
{ctype} peak = 0;
int shift = 0;   /* column sizes are compared as those of A / 2^shift (exact): no overflow */
for (ptrdiff_t e = 0; e < {m * n}; ++e) peak = fmax{f}(peak, fabs{f}(s[e]));
(void)frexp{f}(peak, &shift);
ptrdiff_t rank = {min(m, n)};
{ctype} limit = 0;
for (ptrdiff_t j = 0; j < {min(m, n)}; ++j) {{
    /* the remaining column of largest norm (the first of equal ones; NaN never) pivots */
    ptrdiff_t p = j;
    {ctype} best = -1;
    for (ptrdiff_t c = j; c < {n}; ++c) {{
        {ctype} size = 0;
        for (ptrdiff_t i = j; i < {m}; ++i) {{
            const {ctype} y = ldexp{f}(q[i*{w} + c], -shift);
            size += y*y;
        }}
        if (size > best) {{ best = size; p = c; }}
    }}
    q[{m * w} + j] = ({ctype})p;
    for (ptrdiff_t i = 0; i < {m}; ++i) {{
        const {ctype} t = q[i*{w} + j];
        q[i*{w} + j] = q[i*{w} + p];
        q[i*{w} + p] = t;
    }}
    {ctype} scale = 0, sum = 0;
    for (ptrdiff_t i = j; i < {m}; ++i) scale = fmax{f}(scale, fabs{f}(q[i*{w} + j]));
    if (scale > 0)
        for (ptrdiff_t i = j; i < {m}; ++i) {{
            const {ctype} r = q[i*{w} + j] / scale;
            sum += r*r;
        }}
    const {ctype} norm = scale > 0 ? scale*sqrt{f}(sum) : scale, alpha = q[j*{w} + j];
    if (j == 0) limit = ({ctype}){rank_tolerance(root.dtype, m, n)!r}*norm;
    if (!(norm > limit)) {{ rank = j; break; }}   /* the rest is negligible: the rank is j */
    const {ctype} beta = -copysign{f}(norm, alpha), tau = (beta - alpha) / beta, lead = alpha - beta;
    for (ptrdiff_t i = j + 1; i < {m}; ++i) q[i*{w} + j] /= lead;
    for (ptrdiff_t c = j + 1; c < {n}; ++c) {{
        {ctype} dot = q[j*{w} + c];
        for (ptrdiff_t i = j + 1; i < {m}; ++i) dot += q[i*{w} + j]*q[i*{w} + c];
        q[j*{w} + c] -= tau*dot;
        for (ptrdiff_t i = j + 1; i < {m}; ++i) q[i*{w} + c] -= tau*dot*q[i*{w} + j];
    }}
    q[j*{w} + j] = beta;
    q[j*{w} + {n}] = tau;
}}
q[{m * w + n}] = ({ctype})rank;""")
    return emitter.function(index, kernel, [emitter.owner(a)], [root], Block([loop]))


def _solves(emitter, index, kernel, steps):
    (root,), ((factors, _), (rhs, _)) = kernel.roots, kernel.operands
    m, n = factors.shape[-2] - 1, factors.shape[-1] - 1
    rows, (size, k), ctype = rhs.shape[-2], root.shape[-2:], CTYPE[root.dtype]
    names = [emitter.names[id(x)] for x in (emitter.owner(factors), emitter.owner(rhs), root)]
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[factors.dtype]} *restrict f = {names[0]} + b*{(m + 1) * (n + 1)};
{ctype} *restrict y = {names[2]} + b*{size * k};
const {ctype} rank = f[{m * (n + 1) + n}];
if (rank != rank) {{   /* NaN factors: a NaN solution */
    for (ptrdiff_t e = 0; e < {size * k}; ++e) y[e] = NAN;
    continue;
}}
const ptrdiff_t r = (ptrdiff_t)rank;
for (ptrdiff_t e = 0; e < {rows * k}; ++e) y[e] = {names[1]}[b*{rows * k} + e];
for (ptrdiff_t e = {rows * k}; e < {size * k}; ++e) y[e] = 0;
{steps}
for (ptrdiff_t e = r*{k}; e < {size * k}; ++e) y[e] = 0;
for (ptrdiff_t j = {min(m, n) - 1}; j >= 0; --j) {_swap(m, n, k, ctype)}   /* y <- P y */""")
    return emitter.function(index, kernel, [emitter.owner(factors), emitter.owner(rhs)], [root], Block([loop]))


def _swap(m, n, k, ctype):
    """Swap rows j and the step's pivot of y (k columns)."""
    return f"""{{
    const ptrdiff_t p = (ptrdiff_t)f[{m * (n + 1)} + j];
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        const {ctype} t = y[j*{k} + c];
        y[j*{k} + c] = y[p*{k} + c];
        y[p*{k} + c] = t;
    }}
}}"""


def _back(ctype, w, k):
    """y[:r] <- R11^-1 y[:r]: R in f (row width w), y k columns wide."""
    return f"""for (ptrdiff_t i = r - 1; i >= 0; --i)
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = y[i*{k} + c];
        for (ptrdiff_t j = i + 1; j < r; ++j) v -= f[i*{w} + j]*y[j*{k} + c];
        y[i*{k} + c] = v / f[i*{w} + i];
    }}"""


def emit_qrp_solve(emitter, index, kernel):
    (root,), ((factors, _), _) = kernel.roots, kernel.operands
    m, n = factors.shape[-2] - 1, factors.shape[-1] - 1
    k, w, ctype = root.shape[-1], n + 1, CTYPE[root.dtype]
    steps = f"""for (ptrdiff_t j = 0; j < {min(m, n)}; ++j)   /* y <- H_j y, H_j = I - tau v v^T, v = (1, f[j+1:m, j]) */
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} dot = y[j*{k} + c];
        for (ptrdiff_t i = j + 1; i < {m}; ++i) dot += f[i*{w} + j]*y[i*{k} + c];
        const {ctype} t = f[j*{w} + {n}]*dot;
        y[j*{k} + c] -= t;
        for (ptrdiff_t i = j + 1; i < {m}; ++i) y[i*{k} + c] -= t*f[i*{w} + j];
    }}
{_back(ctype, w, k)}"""
    return _solves(emitter, index, kernel, steps)


def emit_qrp_gram(emitter, index, kernel):
    (root,), ((factors, _), _) = kernel.roots, kernel.operands
    m, n = factors.shape[-2] - 1, factors.shape[-1] - 1
    k, w, ctype = root.shape[-1], n + 1, CTYPE[root.dtype]
    steps = f"""for (ptrdiff_t j = 0; j < {min(m, n)}; ++j) {_swap(m, n, k, ctype)}   /* y <- P^T y */
for (ptrdiff_t i = 0; i < r; ++i)   /* y[:r] <- R11^-T y[:r] */
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = y[i*{k} + c];
        for (ptrdiff_t j = 0; j < i; ++j) v -= f[j*{w} + i]*y[j*{k} + c];
        y[i*{k} + c] = v / f[i*{w} + i];
    }}
{_back(ctype, w, k)}"""
    return _solves(emitter, index, kernel, steps)


register(Kind("qrp", _place(0), emit_qrp), ops=("qrp",))
register(Kind("qrp_solve", _place(1), emit_qrp_solve), ops=("qrp_solve",))
register(Kind("qrp_gram", _place(1), emit_qrp_gram), ops=("qrp_gram",))
