"""Matrix products: batch loops around a GEMM (gemm.py) reading both operands through their
strides, plus the elementwise consumers that read the product only where it is stored (a
bias, an activation, an optimizer step), fused as an epilogue run on each finished block."""
from __future__ import annotations

from ...graph.registry import MATMUL
from ..body import Body, NeedMaterialize
from ..csyntax import CTYPE, Block, Stmt, index_expr, loop_nest
from ..gemm import matmul_block, packed_epilogue, packs
from ..indexmap import c_strides, linear
from ..kernels import prune, unique
from . import Kernel, Kind, register


def place(scheduler, node):
    operands = [scheduler.operand(x, contiguous=False, offsets=True) for x in node.inputs]
    # a GEMM that packs B reads it through any strides; the others stream B's
    # rows, so a transposed B is copied first (O(k n) against the product's O(m k n))
    b, (owner, imap) = node.inputs[1], operands[1]
    b_k, b_n = linear(imap, scheduler.ctx.storage(owner)[1])[1][-2:]
    (m, k), n = node.inputs[0].shape[-2:], node.shape[-1]
    packed = packs(CTYPE[node.dtype], m, n, k, b_k, b_n)
    if n > 1 and b_n != 1 and not packed:
        raise NeedMaterialize(b, "transposed right operand")
    reads = {id(scheduler.ctx.storage(x)[0]) for x, _ in operands}
    return scheduler.add(Kernel("matmul", node.shape, [node], operands=operands, packed=packed), reads)


def epilogue(scheduler, kernel, index, node):
    """Add an elementwise root to a matmul kernel, computed from each block of the product
    as it is stored (gemm.py): it must read the product, and only where it is stored."""
    product, shape = kernel.roots[0], kernel.shape
    trial, expr = scheduler._trial(kernel.body or Body(scheduler.ctx, shape), node, shape)
    others = {id(load.buffer) for load in trial.loads if load.buffer is not product}
    accumulates = node.op == "add" and any(x is product for x in node.inputs)
    if kernel.packed and not packed_epilogue(CTYPE[product.dtype], product.inputs[0].shape[-1], accumulates,
                                             len(others)):
        return False   # see gemm.matmul_block
    strides = c_strides(shape)
    if (id(product) not in trial.reads or trial.masks
            or any(b is not None for load in trial.loads for b in load.bounds)
            or any(load.offset != 0 or any(n > 1 and c != s for c, s, n in zip(load.coefs, strides, shape))
                   for load in trial.loads if load.buffer is product)):
        return False
    return scheduler._admit(kernel, index, node, trial, expr, {id(r) for r in kernel.roots[1:]})


def emit(emitter, index, kernel):
    """kernel.roots[0] is the product; the other roots (elementwise over its shape, scheduled
    as its epilogue) are computed from each finished block of it."""
    root = kernel.roots[0]
    (a, amap), (b, bmap) = kernel.operands
    owner_a, owner_b = emitter.owner(a), emitter.owner(b)
    a_off, a_co = linear(amap, emitter.storage_shape(a))
    b_off, b_co = linear(bmap, emitter.storage_shape(b))
    a_off, b_off = a_off + emitter.ctx.storage(a)[2], b_off + emitter.ctx.storage(b)[2]   # views
    m, k = root.inputs[0].shape[-2:]
    n = root.shape[-1]
    batch = root.shape[:-2]
    nb = len(batch)
    # batch coefficients: operand batch axes are right-aligned and may be broadcast
    a_batch = _batch_coefs(a_co, root.inputs[0].shape, batch)
    b_batch = _batch_coefs(b_co, root.inputs[1].shape, batch)
    bnames = [f"b{d}" for d in range(nb)]
    ctype = CTYPE[root.dtype]
    A, B, C = emitter.names[id(owner_a)], emitter.names[id(owner_b)], emitter.names.get(id(root))
    outer, body = loop_nest(batch, bnames)
    body.add(f"const {CTYPE[owner_a.dtype]} *restrict A = {A} + ({index_expr(a_off, a_batch, bnames)});")
    body.add(f"const {CTYPE[owner_b.dtype]} *restrict B = {B} + ({index_expr(b_off, b_batch, bnames)});")
    stored = emitter.stored(kernel.roots[1:])
    product = emitter.stored([root])   # empty: only the epilogue reads it, from registers
    if product:
        body.add(f"{ctype} *restrict C = {C} + ({index_expr(0, c_strides(root.shape)[:nb], bnames)});")
    block_epilogue = _epilogue(emitter, kernel, stored, bnames) if stored else None
    body.body.extend(matmul_block(ctype, m, n, k, a_co[-2], a_co[-1], b_co[-2], b_co[-1],
                                  epilogue=block_epilogue, store=bool(product)).body)
    reads = unique([owner_a, owner_b] + ([load.buffer for load in kernel.body.loads if load.buffer is not root]
                                         if stored else []))
    return emitter.function(index, kernel, reads, [*product, *stored], outer)


def _epilogue(emitter, kernel, stored, bnames):
    """epilogue(i, r, j, value) for matmul_block: the stored roots at one element of the
    product, given its value.

    Measured on W3 (float32, 128x128 products, bias + relu forward, relu' backward): run on
    each 8 x 16 block after its stores it was slower than a kernel of its own (7.1 against
    5.7 us for dH and relu'); inside the loop storing the accumulators it kept them out of
    registers (the product 20 % slower); row by row after each row block of 8 rows it is
    5.4 against 5.7 us, and bias + relu 241-250 against 250 us with the product."""
    product, body, shape = kernel.roots[0], kernel.body, kernel.shape
    exprs = [kernel.exprs[id(r)] for r in stored]
    prune(body, exprs)
    names = [*bnames, "ei", "ej"]
    ctype, printer = emitter.numeric(stored + [load.buffer for load in body.loads])
    out = index_expr(0, c_strides(shape), names)
    dims = {d: d for d in range(len(shape))}

    def block(i, r, j, value):
        access_of = {load: value if load.buffer is product else (load.offset, load.coefs) for load in body.loads}
        statements = Block([Stmt(f"const ptrdiff_t ei = {i} + {r}, ej = {j};")])
        values = emitter.body_statements(body, exprs, dims, names, access_of, ctype, printer, statements)
        for root, expr in zip(stored, values):
            statements.add(f"{emitter.names[id(root)]}[{out}] = {expr};")
        return statements
    return block


def _batch_coefs(coefs, operand_shape, batch):
    """Coefficients of the result's batch loops in an operand's index (0 where broadcast)."""
    nb_op = len(operand_shape) - 2
    lead = len(batch) - nb_op
    result = []
    for d in range(len(batch)):
        od = d - lead
        result.append(coefs[od] if od >= 0 and operand_shape[od] == batch[d] else 0)
    return tuple(result)


register(Kind("matmul", place, emit, join=epilogue, in_place=lambda kernel: kernel.roots[1:],
              in_registers=lambda kernel: kernel.roots[:1] if kernel.packed and len(kernel.roots) > 1 else []),
         op_kinds=(MATMUL,))
