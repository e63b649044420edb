"""Sorting along an axis (graph/ops/sort.py): argsort as a heapsort of positions, and the
reorderings by those positions. Operands are read contiguous: an axis of length n and
stride `inner` (the product of the later axes), repeated `outer` times before it and
`inner` times within it.

The heapsort orders positions by (key, position), a strict total order (NaN last ascending,
first descending), so its result is the stable sort's without a buffer of its own: the
positions live, as floats, in the output row being sorted.
"""
from __future__ import annotations

import math

from ..csyntax import CTYPE, Block, For
from .gather import placer
from . import Kind, register


def _geometry(shape, axis):
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _rows(outer, n, inner):
    """Loops over the rows along the axis; `base` is each row's first element."""
    rows = For("o", outer)
    within = rows.add(For("r", inner))
    within.add(f"const ptrdiff_t base = o*{n * inner} + r;")
    return rows, within


def emit_argsort(emitter, index, kernel):
    (root,), ((x, _),) = kernel.roots, kernel.operands
    outer, n, inner = _geometry(root.shape, root.attr("axis"))
    key, out, ctype = emitter.names[id(emitter.owner(x))], emitter.names[id(root)], CTYPE[root.dtype]
    kt = CTYPE[x.dtype]
    rows, within = _rows(outer, n, inner)
    order = ">" if root.attr("descend") else "<"
    nan_first = "na" if root.attr("descend") else "nb"

    def before(result, a, b):
        """C setting int `result` to whether the position at row slot a sorts before slot b's."""
        return f"""int {result};
{{
    const ptrdiff_t ia = (ptrdiff_t)p[({a})*{inner}], ib = (ptrdiff_t)p[({b})*{inner}];
    const {kt} ka = k[ia*{inner}], kb = k[ib*{inner}];
    const int na = ka != ka, nb = kb != kb;
    {result} = na != nb ? {nan_first} : (na || ka == kb) ? ia < ib : ka {order} kb;
}}"""

    def indent(text, by):
        return text.replace("\n", "\n" + " " * by)

    within.add(f"""const {kt} *restrict k = {key} + base;
{ctype} *restrict p = {out} + base;
for (ptrdiff_t i = 0; i < {n}; ++i) p[i*{inner}] = ({ctype})i;
/* heapsort: build a heap whose root sorts last, then move each root to the end */
ptrdiff_t end = {n}, heapify = {n // 2};
for (;;) {{
    ptrdiff_t root;
    if (heapify > 0) {{
        root = --heapify;
    }} else {{
        if (--end <= 0) break;
        const {ctype} top = p[0];
        p[0] = p[end*{inner}];
        p[end*{inner}] = top;
        root = 0;
    }}
    for (;;) {{
        ptrdiff_t child = 2*root + 1;
        if (child >= end) break;
        if (child + 1 < end) {{
            {indent(before("right", "child", "child + 1"), 12)}
            child += right;
        }}
        {indent(before("down", "root", "child"), 8)}
        if (!down) break;
        const {ctype} swap = p[root*{inner}];
        p[root*{inner}] = p[child*{inner}];
        p[child*{inner}] = swap;
        root = child;
    }}
}}""")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([rows]))


def _reorder(inverse):
    def emit(emitter, index, kernel):
        (root,), ((v, _), (perm, _)) = kernel.roots, kernel.operands
        outer, n, inner = _geometry(root.shape, root.attr("axis"))
        src, positions = emitter.names[id(emitter.owner(v))], emitter.names[id(emitter.owner(perm))]
        out = emitter.names[id(root)]
        rows, within = _rows(outer, n, inner)
        loop = within.add(For("i", n))
        at = f"base + (ptrdiff_t){positions}[base + i*{inner}]*{inner}"
        here = f"base + i*{inner}"
        loop.add(f"{out}[{at}] = {src}[{here}];" if inverse else f"{out}[{here}] = {src}[{at}];")
        return emitter.function(index, kernel, [emitter.owner(v), emitter.owner(perm)], [root], Block([rows]))
    return emit


register(Kind("argsort", placer("argsort"), emit_argsort), ops=("argsort",))
register(Kind("permute_along", placer("permute_along"), _reorder(False)), ops=("permute_along",))
register(Kind("unpermute_along", placer("unpermute_along"), _reorder(True)), ops=("unpermute_along",))
