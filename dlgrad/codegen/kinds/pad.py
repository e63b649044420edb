"""Pads that are not views: a strided pad, or one read backwards through its window (see
body.BACKWARDS). Its buffer is zeroed, then its input, read forwards, is stored at the
strided positions. Every other pad is a view, computed inside the kernels that read it."""
from __future__ import annotations

from ..csyntax import Block, index_expr, loop_nest
from ..indexmap import IndexMap, NotAffine, coalesce, linear, movement_map
from ..kernels import body_reads, fill, masked_dims
from . import KINDS, Kind, register


def needs_memory(scheduler, node, uses):
    return False   # a view unless the plan forces it (schedule._predictable, NeedMaterialize)


def place(scheduler, node):
    if _affine(node) and id(node) not in scheduler.forced:
        return KINDS["elementwise"].place(scheduler, node)   # an output: copied by a loop
    return scheduler.over_input("pad", node)


def emit(emitter, index, kernel):
    (root,) = kernel.roots
    body, shape = kernel.body, kernel.shape
    imap = IndexMap(len(shape), tuple((d, start, step) for d, (start, _, step) in enumerate(root.attr("index"))),
                    (None,) * len(shape))
    offset, out_coefs = linear(imap, root.shape)
    loads, accesses = emitter.access_table(body, [(None, out_coefs)], [kernel.exprs[id(root)]])
    extents, new_acc, dim_of, _ = coalesce(list(shape), accesses, masked_dims(body))
    names = [f"i{d}" for d in range(len(extents))]
    access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
    ctype, printer = emitter.numeric([root] + [l.buffer for l in loads])
    out = emitter.names[id(root)]
    block = Block()
    block.add(fill(out, root.size, "0"))
    nest, inner = loop_nest(extents, names)
    (value,) = emitter.body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                       ctype, printer, inner)
    inner.add(f"{out}[{index_expr(offset, new_acc[-1], names)}] = {value};")
    block.body.extend(nest.body)
    return emitter.function(index, kernel, body_reads(kernel), [root], block)


def _affine(node):
    try:
        movement_map(node)
        return True
    except NotAffine:
        return False


register(Kind("pad", place, emit, needs_memory=needs_memory), ops=("pad",))
