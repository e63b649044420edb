"""Elementwise kernels: one loop nest over a shape storing one or more roots, each computed
from loads of buffers (views folded into index arithmetic). Also the home of graph nodes
that are views (movement ops) when they need memory: they are copied by such a loop."""
from __future__ import annotations

import math

from ...graph.registry import ELEMENTWISE, MOVEMENT, OPS
from ..body import DUP_COST, Body, cost
from ..csyntax import Block, For, index_expr, loop_nest
from ..indexmap import c_strides, coalesce
from ..kernels import body_reads, masked_dims
from . import KINDS, Kernel, Kind, register

JOIN_CANDIDATES = 4  # same-shape kernels a root may try to join (keeps scheduling near-linear)


def needs_memory(scheduler, node, uses):
    """An elementwise value read by several kernels is stored unless cheap to recompute."""
    return OPS[node.op].kind == ELEMENTWISE and uses > 1 and cost(node, scheduler.ctx) > DUP_COST


def place(scheduler, node):
    """Join a recent kernel of node's shape that takes elementwise roots, else start one."""
    tried = 0
    for index in range(len(scheduler.kernels) - 1, -1, -1):
        kernel = scheduler.kernels[index]
        join = KINDS[kernel.kind].join
        if join is not None and kernel.shape == node.shape:
            if join(scheduler, kernel, index, node):
                return index
            tried += 1
            if tried == JOIN_CANDIDATES:
                break
    kernel = Kernel("elementwise", node.shape, [], Body(scheduler.ctx, node.shape))
    index = scheduler.add(kernel, set())
    if not scheduler.join(kernel, index, node):
        raise AssertionError(f"{node!r} cannot start a kernel")
    return index


def join(scheduler, kernel, index, node):
    return scheduler.join(kernel, index, node)


def emit(emitter, index, kernel):
    """The loop nest storing the roots that have memory (the others stay kernel-local)."""
    stores = emitter.stored(kernel.roots)
    body, shape = kernel.body, kernel.shape
    out_coefs = c_strides(shape)
    loads, accesses = emitter.access_table(body, [(None, out_coefs)] if stores else [],
                                           [kernel.exprs[id(r)] for r in stores])
    masked = masked_dims(body)
    extents, new_acc, dim_of, _ = coalesce(list(shape), accesses, masked)
    names = [f"i{d}" for d in range(len(extents))]
    access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
    out_idx = index_expr(0, new_acc[-1], names) if stores else "0"
    ctype, printer = emitter.numeric(kernel.roots + [l.buffer for l in loads])
    pre, exprs = Block(), [kernel.exprs[id(r)] for r in stores]

    def loop_body(block, unmasked=False, hoist=True):
        values = emitter.body_statements(body, exprs, dim_of, names, access_of, ctype, printer, block,
                                         pre if extents and hoist else None, unmasked)
        for root, value in zip(stores, values):
            block.add(f"{emitter.names[id(root)]}[{out_idx}] = {value};")
    interior = _unmasked_range(body, dim_of, extents)
    regions = _regions(body, dim_of, extents) if interior is None else None
    if regions is not None:
        # masks that select rows (the adjoint of slices: a gate's rows of a concatenation):
        # one loop per range of rows where every mask is decided, with no conditions inside
        (d,) = masked_dims(body)
        outer = Block()
        for start, stop in regions:
            loop = For("t", stop - start)
            loop.body.add(f"const ptrdiff_t {names[0]} = {start} + t;")
            rest, inner = loop_nest(extents[1:], names[1:])
            loop.body.add(rest)
            values = emitter.body_statements(body, exprs, dim_of, names, access_of, ctype, printer, inner,
                                             None, region={d: (start, stop)})
            for root, value in zip(stores, values):
                inner.add(f"{emitter.names[id(root)]}[{out_idx}] = {value};")
            outer.add(loop)
        return emitter.function(index, kernel, body_reads(kernel), stores, outer)
    if interior is None:
        outer, inner = loop_nest(extents, names)
        loop_body(inner)
        return emitter.function(index, kernel, body_reads(kernel), stores, Block(pre.body + outer.body))
    # a 1-D loop through slices or pads: the conditions only at its ends, none in between
    outer = Block()
    for start, stop, unmasked in ((0, interior[0], False), (*interior, True), (interior[1], extents[0], False)):
        if stop > start:
            loop = For("t", stop - start)
            loop.body.add(f"const ptrdiff_t {names[0]} = {start} + t;")
            loop_body(loop.body, unmasked, hoist=unmasked)
            outer.add(loop)
    return emitter.function(index, kernel, body_reads(kernel), stores, Block(pre.body + outer.body))


MAX_REGIONS = 8
MIN_REGION = 64   # elements: below, one loop with conditions is shorter C and as fast


def _regions(body, dim_of, extents):
    """Ranges of the outermost loop in each of which every mask holds or fails throughout, when
    all masks bound one axis, that loop's (at most MAX_REGIONS ranges of MIN_REGION elements
    or more), else None."""
    dims = masked_dims(body)
    if len(dims) != 1 or not extents:
        return None
    (d,) = dims
    if dim_of.get(d) != 0:
        return None
    cuts = {0, extents[0]}
    for bounds in list(body.masks) + [load.bounds for load in body.loads]:
        if bounds[d] is not None:
            cuts |= {min(max(v, 0), extents[0]) for v in bounds[d]}
    cuts = sorted(cuts)
    regions = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    inner = math.prod(extents[1:])
    if not 1 < len(regions) <= MAX_REGIONS or any((b - a) * inner < MIN_REGION for a, b in regions):
        return None
    return regions


def _unmasked_range(body, dim_of, extents):
    """(lo, hi): the range of a single loop where every mask of `body` holds, when the masks
    leave out only a few iterations at its ends (None otherwise)."""
    masked = [(d, b) for bs in list(body.masks) + [load.bounds for load in body.loads]
              for d, b in enumerate(bs) if b is not None]
    if len(extents) != 1 or not masked or any(d not in dim_of for d, _ in masked):
        return None
    lo = max(max(b[0] for _, b in masked), 0)
    hi = min(min(b[1] for _, b in masked), extents[0])
    return (lo, hi) if hi - lo >= max(16, extents[0] // 2) else None


register(Kind("elementwise", place, emit, needs_memory=needs_memory, join=join,
              in_place=lambda kernel: kernel.roots),
         op_kinds=(ELEMENTWISE, MOVEMENT))
