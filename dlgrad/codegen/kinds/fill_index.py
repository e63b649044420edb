"""fill_index (graph/ops/fill_index.py): one loop from float index values to int64 indices."""
from __future__ import annotations

from ..csyntax import Block, For
from .gather import placer
from . import Kind, register

_CTYPE = {"float64": "double", "float32": "float"}


def emit(emitter, index, kernel):
    (root,), ((x, _),) = kernel.roots, kernel.operands
    out, src = emitter.names[id(root)], emitter.names[id(emitter.owner(x))]
    high, fill, ctype = root.attr("high"), root.attr("fill"), _CTYPE[x.dtype]
    loop = For("i", root.size)
    loop.add(f"const {ctype} v = {src}[i];")
    # the range test comes first: (int64_t)v is only evaluated for v in [0, high) (never NaN)
    loop.add(f"{out}[i] = (v >= 0 && v < {high} && v == ({ctype})(int64_t)v) ? (int64_t)v : {fill};")
    return emitter.function(index, kernel, [emitter.owner(x)], [root], Block([loop]))


register(Kind("fill_index", placer("fill_index"), emit), ops=("fill_index",))
