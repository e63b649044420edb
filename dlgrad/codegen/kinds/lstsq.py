"""Least squares (graph/ops/lstsq.py): Householder QR in the output buffer, and the solves with
its factors (Q^T b then R^-1 in the output; R^-T then R^-1). One matrix per iteration of a
loop over the leading (batch) dimensions; operands are read contiguous."""
from __future__ import annotations

import math

from ..csyntax import CTYPE, Block, For
from .solve import _place
from . import Kind, register


def emit_qr(emitter, index, kernel):
    (root,), ((a, _),) = kernel.roots, kernel.operands
    m, w = root.shape[-2:]
    n = w - 1
    src, out, ctype = emitter.names[id(emitter.owner(a))], emitter.names[id(root)], CTYPE[root.dtype]
    f = "f" if ctype == "float" else ""
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[a.dtype]} *restrict s = {src} + b*{m * n};
{ctype} *restrict q = {out} + b*{m * w};
for (ptrdiff_t i = 0; i < {m}; ++i) {{
    for (ptrdiff_t c = 0; c < {n}; ++c) q[i*{w} + c] = s[i*{n} + c];
    q[i*{w} + {n}] = 0;
}}
for (ptrdiff_t j = 0; j < {n}; ++j) {{
    /* the reflector taking column j's x = q[j:, j] to (beta, 0, ...): |x| scaled, no overflow */
    {ctype} scale = 0, sum = 0;
    for (ptrdiff_t i = j; i < {m}; ++i) scale = fmax{f}(scale, fabs{f}(q[i*{w} + j]));
    const {ctype} safe = scale > 0 ? scale : 1;
    for (ptrdiff_t i = j; i < {m}; ++i) {{
        const {ctype} r = q[i*{w} + j] / safe;
        sum += r*r;
    }}
    const {ctype} norm = safe*sqrt{f}(sum), alpha = q[j*{w} + j];
    if (norm == 0) continue;   /* a zero column: tau 0, a zero on R's diagonal */
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
}}""")
    return emitter.function(index, kernel, [emitter.owner(a)], [root], Block([loop]))


def _back(ctype, n, w, k):
    """y <- R^-1 y for the first n rows of y (k columns), R in f's upper triangle (row width w)."""
    return f"""for (ptrdiff_t i = {n - 1}; i >= 0; --i)
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = y[i*{k} + c];
        for (ptrdiff_t j = i + 1; j < {n}; ++j) v -= f[i*{w} + j]*y[j*{k} + c];
        y[i*{k} + c] = v / f[i*{w} + i];
    }}"""


def _solves(emitter, kernel, rows, steps):
    (root,), ((factors, _), (rhs, _)) = kernel.roots, kernel.operands
    k, (m, w) = root.shape[-1], factors.shape[-2:]
    names = [emitter.names[id(x)] for x in (emitter.owner(factors), emitter.owner(rhs), root)]
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[factors.dtype]} *restrict f = {names[0]} + b*{m * w};
{CTYPE[root.dtype]} *restrict y = {names[2]} + b*{rows * k};
for (ptrdiff_t e = 0; e < {rows * k}; ++e) y[e] = {names[1]}[b*{rows * k} + e];
{steps}""")
    return [emitter.owner(factors), emitter.owner(rhs)], [root], Block([loop])


def emit_qr_solve(emitter, index, kernel):
    (root,), ((factors, _), _) = kernel.roots, kernel.operands
    (m, k), ctype = root.shape[-2:], CTYPE[root.dtype]
    w = factors.shape[-1]
    n = w - 1
    steps = f"""for (ptrdiff_t j = 0; j < {n}; ++j)   /* y <- H_j y, H_j = I - tau v v^T, v = (1, f[j+1:, j]) */
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} dot = y[j*{k} + c];
        for (ptrdiff_t i = j + 1; i < {m}; ++i) dot += f[i*{w} + j]*y[i*{k} + c];
        const {ctype} t = f[j*{w} + {n}]*dot;
        y[j*{k} + c] -= t;
        for (ptrdiff_t i = j + 1; i < {m}; ++i) y[i*{k} + c] -= t*f[i*{w} + j];
    }}
{_back(ctype, n, w, k)}
for (ptrdiff_t e = {n * k}; e < {m * k}; ++e) y[e] = 0;"""
    return emitter.function(index, kernel, *_solves(emitter, kernel, m, steps))


def emit_gram_solve(emitter, index, kernel):
    (root,), ((factors, _), _) = kernel.roots, kernel.operands
    (n, k), ctype = root.shape[-2:], CTYPE[root.dtype]
    w = factors.shape[-1]
    steps = f"""for (ptrdiff_t i = 0; i < {n}; ++i)   /* y <- R^-T y */
    for (ptrdiff_t c = 0; c < {k}; ++c) {{
        {ctype} v = y[i*{k} + c];
        for (ptrdiff_t j = 0; j < i; ++j) v -= f[j*{w} + i]*y[j*{k} + c];
        y[i*{k} + c] = v / f[i*{w} + i];
    }}
{_back(ctype, n, w, k)}"""
    return emitter.function(index, kernel, *_solves(emitter, kernel, n, steps))


register(Kind("qr", _place(0), emit_qr), ops=("qr",))
register(Kind("qr_solve", _place(1), emit_qr_solve), ops=("qr_solve",))
register(Kind("gram_solve", _place(1), emit_gram_solve), ops=("gram_solve",))
