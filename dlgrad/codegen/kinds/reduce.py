"""Reductions (sum, prod, max, min over some axes): a loop over the input's shape whose body
computes the input, accumulating into the output. Inner axes reduced are summed in a local
accumulator (with LANES partial sums when the loop is long, or an OpenMP SIMD reduction when
the body calls vector math); otherwise the output is filled and accumulated in place."""
from __future__ import annotations

from ...graph.registry import REDUCE
from ..csyntax import CTYPE, Block, For, Stmt, index_expr, loop_nest
from ..indexmap import c_strides, coalesce
from ..kernels import body_reads, fill, masked_dims
from ..vecmath import SIMD_REDUCTION, vector_calls
from . import Kind, register

_INIT = {"sum": "0", "prod": "1", "max": "-INFINITY", "min": "INFINITY"}
LANES = 8  # partial sums of a reduction: one vector register of doubles


def place(scheduler, node):
    return scheduler.over_input("reduce", node)


def emit(emitter, index, kernel):
    (root,) = kernel.roots
    body, shape = kernel.body, kernel.shape
    axes = root.attr("axes")
    kept_shape = tuple(1 if d in axes else n for d, n in enumerate(shape))
    out_coefs = tuple(0 if d in axes else s for d, s in enumerate(c_strides(kept_shape)))
    inner_strategy = not shape or (len(shape) - 1) in axes
    loads, accesses = emitter.access_table(body, [(None, out_coefs)], [kernel.exprs[id(root)]])
    # the reduced axes in the order of the input's memory (largest stride outermost): a sum
    # through a transposed view then reads its storage contiguously, not one element per line
    reduced = sorted(axes, key=lambda d: -max((abs(a[d]) for a in accesses), default=0))
    perm = ([d for d in range(len(shape)) if d not in axes] + reduced) if inner_strategy \
        else list(range(len(shape)))
    masked = {perm.index(d) for d in masked_dims(body)}
    classes = [int(d in axes) for d in perm]
    extents, new_acc, dim_of, new_classes = coalesce(
        [shape[d] for d in perm], [tuple(a[d] for d in perm) for a in accesses], masked, classes)
    dim_of = {d: dim_of[perm.index(d)] for d in range(len(shape)) if perm.index(d) in dim_of}
    names = [f"i{d}" for d in range(len(extents))]
    access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
    out = emitter.names[id(root)]
    out_idx = index_expr(0, new_acc[-1], names)
    ctype, printer = emitter.numeric([root] + [l.buffer for l in loads])
    acc_type = "double" if root.op in ("sum", "prod") else ctype
    init, op = _INIT[root.op], root.op
    block = Block()
    if inner_strategy:
        n_kept = new_classes.count(0)
        kept, body_block = loop_nest(extents[:n_kept], names[:n_kept])
        body_block.add(f"{acc_type} acc = {init};")
        red, inner = loop_nest(extents[n_kept:], names[n_kept:])
        (value,) = emitter.body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                           ctype, printer, inner)
        inner.add(_combine(op, "acc", value, ctype))
        if op in SIMD_REDUCTION and len(extents) > n_kept and vector_calls("\n".join(inner.lines(""))):
            _before_innermost_loop(red, SIMD_REDUCTION[op][0])
        elif op in SIMD_REDUCTION and len(extents) == n_kept + 1 and extents[-1] >= 2 * LANES:
            def statements(block):
                return emitter.body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                               ctype, printer, block)[0]
            red = _lanes(op, acc_type, init, names[-1], extents[-1], statements)
        body_block.body.extend(red.body)
        body_block.add(f"{out}[{out_idx}] = ({CTYPE[root.dtype]})acc;")
        block.body.extend(kept.body)
    else:
        block.add(fill(out, root.size, init))
        nest, inner = loop_nest(extents, names)
        (value,) = emitter.body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                           ctype, printer, inner)
        inner.add(_combine(op, f"{out}[{out_idx}]", value, ctype))
        block.body.extend(nest.body)
    return emitter.function(index, kernel, body_reads(kernel), [root], block)


def _before_innermost_loop(block, statement):
    """Insert `statement` just before the innermost For of the loop nest in `block`."""
    parent = block
    while True:
        at = next(i for i, item in enumerate(parent.body) if isinstance(item, For))
        inner = parent.body[at].body
        if not any(isinstance(item, For) for item in inner.body):
            parent.body.insert(at, Stmt(statement))
            return
        parent = inner


def _lanes(op, acc_type, init, var, extent, statements):
    """The reduction over `var` < extent into `acc` with LANES partial accumulators.

    A single accumulator chains every addition on the one before (the compiler may not
    reorder them), so a sum runs at the adder's latency; LANES independent sums vectorise,
    and are added pairwise at the end. statements(block) declares the body's values in
    block (with `var` defined there) and returns the value to accumulate.
    """
    whole = extent - extent % LANES
    outer = Block()
    outer.add(f"{acc_type} lanes[{LANES}] = {{{', '.join([init] * LANES)}}};")
    blocks = For("lb", whole // LANES)
    lane = For("l", LANES)
    lane.body.add(f"const ptrdiff_t {var} = lb*{LANES} + l;")
    lane.body.add(_combine(op, "lanes[l]", statements(lane.body), acc_type))
    blocks.body.add(lane)
    outer.add(blocks)
    if whole < extent:
        tail = For("t", extent - whole)
        tail.body.add(f"const ptrdiff_t {var} = {whole} + t;")
        tail.body.add(_combine(op, "acc", statements(tail.body), acc_type))
        outer.add(tail)
    parts = [f"lanes[{i}]" for i in range(LANES)]
    while len(parts) > 1:
        parts = [f"({parts[i]} {'+' if op == 'sum' else '*'} {parts[i + 1]})" for i in range(0, len(parts), 2)]
    outer.add(_combine(op, "acc", parts[0], acc_type))
    return outer


def _combine(op, acc, value, ctype):
    if op == "sum":
        return f"{acc} += {value};"
    if op == "prod":
        return f"{acc} *= {value};"
    helper = "dl_max" if op == "max" else "dl_min"
    suffix = "f" if ctype == "float" else ""
    return f"{acc} = {helper}{suffix}({acc}, {value});"


register(Kind("reduce", place, emit), op_kinds=(REDUCE,))
