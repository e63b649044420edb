"""The thin SVD (graph/ops/svd.py): one-sided Jacobi in the output buffer, one matrix per
iteration of a loop over the leading (batch) dimensions. The packed output (m + n + 1, n) is
the workspace: its first m rows are rotated into U S, the next n from I into V, the last row
gets the singular values; a column swap moves all three at once. Deterministic: a fixed
round-robin order of pairs, a fixed number of sweeps at most, no threads inside a matrix."""
from __future__ import annotations

import math

from ...graph.ops.svd import SWEEPS, tolerance
from ..csyntax import CTYPE, Block, For
from .solve import _place
from . import Kind, register


def emit_svd(emitter, index, kernel):
    (root,), ((a, _),) = kernel.roots, kernel.operands
    m, n = a.shape[-2:]
    rows, teams = m + n + 1, n + n % 2
    src, out, ctype = emitter.names[id(emitter.owner(a))], emitter.names[id(root)], CTYPE[root.dtype]
    f = "f" if ctype == "float" else ""
    last = (m + n) * n   # the singular values' row
    loop = For("b", math.prod(root.shape[:-2]))
    loop.add(f"""const {CTYPE[a.dtype]} *restrict s = {src} + b*{m * n};
{ctype} *restrict w = {out} + b*{rows * n};
int bad = 0, scale = 0;
{ctype} peak = 0;
for (ptrdiff_t e = 0; e < {m * n}; ++e) {{
    if (!isfinite(s[e])) bad = 1;
    else if (fabs{f}(s[e]) > peak) peak = fabs{f}(s[e]);
}}
if (bad) {{   /* NaN or Inf in A: NaN everywhere */
    for (ptrdiff_t e = 0; e < {rows * n}; ++e) w[e] = NAN;
    continue;
}}
(void)frexp{f}(peak, &scale);   /* A / 2^scale is exact and no sum of squares overflows */
for (ptrdiff_t e = 0; e < {m * n}; ++e) w[e] = ldexp{f}(s[e], -scale);
for (ptrdiff_t i = 0; i < {n}; ++i)
    for (ptrdiff_t c = 0; c < {n}; ++c) w[{m * n} + i*{n} + c] = i == c;
for (int sweep = 0; sweep < {SWEEPS}; ++sweep) {{
    int rotated = 0;
    for (ptrdiff_t r = 0; r < {teams - 1}; ++r)   /* round-robin: the pairs of a round are disjoint */
        for (ptrdiff_t i = 0; i < {teams // 2}; ++i) {{
            ptrdiff_t p = i == 0 ? r : (r + i) % {max(teams - 1, 1)};
            ptrdiff_t q = i == 0 ? {teams - 1} : (r - i + {teams - 1}) % {max(teams - 1, 1)};
            if (p > q) {{ const ptrdiff_t t = p; p = q; q = t; }}
            if (q >= {n}) continue;
            {ctype} alpha = 0, beta = 0, gamma = 0;
            for (ptrdiff_t k = 0; k < {m}; ++k) {{
                const {ctype} x = w[k*{n} + p], y = w[k*{n} + q];
                alpha += x*x;
                beta += y*y;
                gamma += x*y;
            }}
            if (!(fabs{f}(gamma) > ({ctype}){tolerance(root.dtype, m)!r}*sqrt{f}(alpha)*sqrt{f}(beta))) continue;
            rotated = 1;
            const {ctype} zeta = (beta - alpha) / (2*gamma);
            const {ctype} t = copysign{f}(1, zeta) / (fabs{f}(zeta) + hypot{f}(1, zeta));
            const {ctype} c = 1 / sqrt{f}(1 + t*t), sn = c*t;
            for (ptrdiff_t k = 0; k < {m + n}; ++k) {{   /* the columns p and q of A's image and of V */
                const {ctype} x = w[k*{n} + p], y = w[k*{n} + q];
                w[k*{n} + p] = c*x - sn*y;
                w[k*{n} + q] = sn*x + c*y;
            }}
        }}
    if (!rotated) break;
}}
for (ptrdiff_t c = 0; c < {n}; ++c) {{
    {ctype} sum = 0;
    for (ptrdiff_t k = 0; k < {m}; ++k) sum += w[k*{n} + c]*w[k*{n} + c];
    w[{last} + c] = sqrt{f}(sum);
}}
for (ptrdiff_t j = 1; j < {n}; ++j)   /* descending, stable: adjacent swaps of whole columns */
    for (ptrdiff_t l = j; l > 0 && w[{last} + l - 1] < w[{last} + l]; --l)
        for (ptrdiff_t k = 0; k < {rows}; ++k) {{
            const {ctype} t = w[k*{n} + l - 1];
            w[k*{n} + l - 1] = w[k*{n} + l];
            w[k*{n} + l] = t;
        }}
for (ptrdiff_t c = 0; c < {n}; ++c) {{
    const {ctype} sigma = w[{last} + c];
    if (sigma > 0) {{
        for (ptrdiff_t k = 0; k < {m}; ++k) w[k*{n} + c] /= sigma;
    }} else {{   /* a zero singular value: the first unit vector orthogonal to U's earlier columns */
        for (ptrdiff_t e = 0; e < {m}; ++e) {{
            for (ptrdiff_t k = 0; k < {m}; ++k) w[k*{n} + c] = k == e;
            for (int pass = 0; pass < 2; ++pass)
                for (ptrdiff_t l = 0; l < c; ++l) {{
                    {ctype} d = 0;
                    for (ptrdiff_t k = 0; k < {m}; ++k) d += w[k*{n} + l]*w[k*{n} + c];
                    for (ptrdiff_t k = 0; k < {m}; ++k) w[k*{n} + c] -= d*w[k*{n} + l];
                }}
            {ctype} size = 0;
            for (ptrdiff_t k = 0; k < {m}; ++k) size += w[k*{n} + c]*w[k*{n} + c];
            if (size > 0.25{f}) {{
                const {ctype} norm = sqrt{f}(size);
                for (ptrdiff_t k = 0; k < {m}; ++k) w[k*{n} + c] /= norm;
                break;
            }}
        }}
    }}
    w[{last} + c] = ldexp{f}(sigma, scale);
}}""")
    return emitter.function(index, kernel, [emitter.owner(a)], [root], Block([loop]))


register(Kind("svd", _place(0), emit_svd), ops=("svd",))
