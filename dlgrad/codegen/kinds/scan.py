"""Scans (cumsum, cumprod along `axis`): a loop over the input's shape whose body computes the
input, each output element being the element before it along the axis combined (+ or *) with
the body's value. The running value is kept in the output buffer, in the array's dtype (as
numpy's cumsum and cumprod do)."""
from __future__ import annotations

from ..csyntax import index_expr, loop_nest
from ..indexmap import c_strides
from ..kernels import body_reads
from . import Kind, register


def place(scheduler, node):
    return scheduler.over_input("scan", node)


def emit(emitter, index, kernel):
    (root,) = kernel.roots
    shape, expr = kernel.shape, kernel.exprs[id(root)]
    loads, _ = emitter.access_table(kernel.body, [], [expr])
    names = [f"i{d}" for d in range(len(shape))]
    ctype, printer = emitter.numeric([root, *(load.buffer for load in loads)])
    nest, inner = loop_nest(shape, names)
    access_of = {load: (load.offset, load.coefs) for load in loads}
    (value,) = emitter.body_statements(kernel.body, [expr], {d: d for d in range(len(shape))},
                                       names, access_of, ctype, printer, inner)
    # the loops run in row-major order, so the element before along the axis is already written
    axis, strides = root.attr("axis"), c_strides(shape)
    out, at = emitter.names[id(root)], index_expr(0, strides, names)
    combine, identity = _COMBINE[root.op]
    inner.add(f"{out}[{at}] = ({names[axis]} ? {out}[{at} - {strides[axis]}] : {identity}) {combine} {value};")
    return emitter.function(index, kernel, body_reads(kernel), [root], nest)


_COMBINE = {"cumsum": ("+", 0), "cumprod": ("*", 1)}   # op: (C operator, its identity)
register(Kind("scan", place, emit), ops=tuple(_COMBINE))
