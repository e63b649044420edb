"""C loop nests for scheduled kernels: elementwise, reduction, matmul, gather/scatter, strided pad."""
from __future__ import annotations

from ..graph.registry import MOVEMENT, OPS
from .cast import CTYPE, Block, For, Function, Stmt, index_expr, loop_nest
from .indexmap import IndexMap, c_strides, coalesce, linear
from .vecmath import SIMD_REDUCTION, vector_calls

_INIT = {"sum": "0", "prod": "1", "max": "-INFINITY", "min": "INFINITY"}


class KernelEmitter:
    """Emits one kernel as a static C function; `names` gives each buffer owner its C variable."""

    def __init__(self, prefix, names, ctx, provenance=None):
        self.prefix, self.names, self.ctx = prefix, names, ctx
        self.provenance = provenance or {}   # id(node) -> "file.py:LINE", for kernel comments

    def params(self, reads, writes):
        params, args = [], []
        written = {self.names[id(owner)] for owner in writes}
        for owner in reads:
            # two constants sharing one table; a donated input read through the output it becomes
            if self.names[id(owner)] in args or self.names[id(owner)] in written:
                continue
            params.append(f"const {CTYPE[owner.dtype]} *restrict {self.names[id(owner)]}")
            args.append(self.names[id(owner)])
        for owner in writes:
            params.append(f"{CTYPE[owner.dtype]} *restrict {self.names[id(owner)]}")
            args.append(self.names[id(owner)])
        return params, args

    # --- bodies built from sympy expressions -------------------------------------
    def _body_statements(self, body, exprs, dim_of, loop_names, access_of, ctype, printer, block, pre=None,
                         unmasked=False):
        """Declarations of masks, loads and cse temporaries in `block`; the printed expressions.

        With `pre`, loads and temporaries that do not depend on the loop indices (scalars such
        as hyperparameters, and what is computed from them alone) are hoisted there. With
        `unmasked`, the loop runs where every mask holds: no conditions are written.
        """
        import sympy as sp

        from . import ieee
        invariant = set()
        for bounds, symbol in body.masks.items():
            block.add(f"const int {symbol} = {'1' if unmasked else _condition(bounds, dim_of, loop_names)};")
        for load, symbol in body.loads.items():
            if isinstance(access_of[load], str):   # a value the caller holds (a matmul's accumulator)
                ref, coefs = access_of[load], (1,)
            else:
                offset, coefs = access_of[load]
                ref = f"{self.names[id(load.buffer)]}[{index_expr(offset, coefs, loop_names)}]"
            masked = not unmasked and any(b is not None for b in load.bounds)
            if masked:
                ref = f"({_condition(load.bounds, dim_of, loop_names)} ? {ref} : 0)"
            target = block
            if pre is not None and not masked and not any(coefs) and load.buffer.size > 0:
                target = pre
                invariant.add(symbol)
            target.add(f"const {CTYPE[load.buffer.dtype]} {symbol} = {ref};")
        temps, reduced = sp.cse(list(exprs), symbols=sp.numbered_symbols("t"), order="none")
        hoisted = sp.numbered_symbols("h")

        def declare(expr):
            symbol = next(hoisted)
            pre.add(f"const {ctype} {symbol} = {printer.doprint(expr)};")
            return symbol

        def hoist(expr):
            """expr with its loop-invariant compound parts computed once, before the loop."""
            return expr if pre is None else ieee.hoist(expr, invariant, declare)

        for symbol, expr in temps:
            if pre is not None and ieee.free_symbols([expr]) <= invariant:
                pre.add(f"const {ctype} {symbol} = {printer.doprint(expr)};")
                invariant.add(symbol)
            else:
                block.add(f"const {ctype} {symbol} = {printer.doprint(hoist(expr))};")
        return [printer.doprint(hoist(e)) for e in reduced]

    def _access_table(self, body, extra, exprs=None):
        if exprs is not None:
            _prune(body, exprs)
        loads = list(body.loads)
        accesses = [load.coefs for load in loads] + [coefs for _, coefs in extra]
        return loads, accesses

    def elementwise(self, index, kernel, stores):
        """stores: roots whose values are written (others are kernel-local)."""
        body, shape = kernel.body, kernel.shape
        out_coefs = c_strides(shape)
        loads, accesses = self._access_table(body, [(None, out_coefs)] if stores else [],
                                             [kernel.exprs[id(r)] for r in stores])
        masked = _masked_dims(body)
        extents, new_acc, dim_of, _ = coalesce(list(shape), accesses, masked)
        names = [f"i{d}" for d in range(len(extents))]
        access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
        out_idx = index_expr(0, new_acc[-1], names) if stores else "0"
        ctype, printer = self._numeric(kernel.roots + [l.buffer for l in loads])
        pre, exprs = Block(), [kernel.exprs[id(r)] for r in stores]

        def loop_body(block, unmasked=False, hoist=True):
            values = self._body_statements(body, exprs, dim_of, names, access_of, ctype, printer, block,
                                           pre if extents and hoist else None, unmasked)
            for root, value in zip(stores, values):
                block.add(f"{self.names[id(root)]}[{out_idx}] = {value};")
        interior = _unmasked_range(body, dim_of, extents)
        if interior is None:
            outer, inner = loop_nest(extents, names)
            loop_body(inner)
            return self._function(index, kernel, body_reads(kernel), stores, Block(pre.body + outer.body))
        # a 1-D loop through slices or pads: the conditions only at its ends, none in between
        outer = Block()
        for start, stop, unmasked in ((0, interior[0], False), (*interior, True), (interior[1], extents[0], False)):
            if stop > start:
                loop = For("t", stop - start)
                loop.body.add(f"const ptrdiff_t {names[0]} = {start} + t;")
                loop_body(loop.body, unmasked, hoist=unmasked)
                outer.add(loop)
        return self._function(index, kernel, body_reads(kernel), stores, Block(pre.body + outer.body))

    def reduce(self, index, kernel):
        (root,) = kernel.roots
        body, shape = kernel.body, kernel.shape
        axes = root.attr("axes")
        kept_shape = tuple(1 if d in axes else n for d, n in enumerate(shape))
        out_coefs = tuple(0 if d in axes else s for d, s in enumerate(c_strides(kept_shape)))
        inner_strategy = not shape or (len(shape) - 1) in axes
        perm = ([d for d in range(len(shape)) if d not in axes] + list(axes)) if inner_strategy \
            else list(range(len(shape)))
        loads, accesses = self._access_table(body, [(None, out_coefs)], [kernel.exprs[id(root)]])
        masked = {perm.index(d) for d in _masked_dims(body)}
        classes = [int(d in axes) for d in perm]
        extents, new_acc, dim_of, new_classes = coalesce(
            [shape[d] for d in perm], [tuple(a[d] for d in perm) for a in accesses], masked, classes)
        dim_of = {d: dim_of[perm.index(d)] for d in range(len(shape)) if perm.index(d) in dim_of}
        names = [f"i{d}" for d in range(len(extents))]
        access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
        out = self.names[id(root)]
        out_idx = index_expr(0, new_acc[-1], names)
        ctype, printer = self._numeric([root] + [l.buffer for l in loads])
        acc_type = "double" if root.op in ("sum", "prod") else ctype
        init, op = _INIT[root.op], root.op
        block = Block()
        if inner_strategy:
            n_kept = new_classes.count(0)
            kept, body_block = loop_nest(extents[:n_kept], names[:n_kept])
            body_block.add(f"{acc_type} acc = {init};")
            red, inner = loop_nest(extents[n_kept:], names[n_kept:])
            (value,) = self._body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                             ctype, printer, inner)
            inner.add(_combine(op, "acc", value, ctype))
            if op in SIMD_REDUCTION and len(extents) > n_kept and vector_calls("\n".join(inner.lines(""))):
                _before_innermost_loop(red, SIMD_REDUCTION[op][0])
            elif op in SIMD_REDUCTION and len(extents) == n_kept + 1 and extents[-1] >= 2 * LANES:
                def statements(block):
                    return self._body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                                 ctype, printer, block)[0]
                red = _lanes(op, acc_type, init, names[-1], extents[-1], statements)
            body_block.body.extend(red.body)
            body_block.add(f"{out}[{out_idx}] = ({CTYPE[root.dtype]})acc;")
            block.body.extend(kept.body)
        else:
            block.add(_fill(out, root.size, init))
            nest, inner = loop_nest(extents, names)
            (value,) = self._body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                             ctype, printer, inner)
            inner.add(_combine(op, f"{out}[{out_idx}]", value, ctype))
            block.body.extend(nest.body)
        return self._function(index, kernel, body_reads(kernel), [root], block)

    def pad(self, index, kernel):
        """Strided pad: zero the output, then store the input at its strided positions."""
        (root,) = kernel.roots
        body, shape = kernel.body, kernel.shape
        imap = IndexMap(len(shape), tuple((d, start, step) for d, (start, _, step) in enumerate(root.attr("index"))),
                        (None,) * len(shape))
        offset, out_coefs = linear(imap, root.shape)
        loads, accesses = self._access_table(body, [(None, out_coefs)], [kernel.exprs[id(root)]])
        extents, new_acc, dim_of, _ = coalesce(list(shape), accesses, _masked_dims(body))
        names = [f"i{d}" for d in range(len(extents))]
        access_of = {load: (load.offset, new_acc[i]) for i, load in enumerate(loads)}
        ctype, printer = self._numeric([root] + [l.buffer for l in loads])
        out = self.names[id(root)]
        block = Block()
        block.add(_fill(out, root.size, "0"))
        nest, inner = loop_nest(extents, names)
        (value,) = self._body_statements(body, [kernel.exprs[id(root)]], dim_of, names, access_of,
                                         ctype, printer, inner)
        inner.add(f"{out}[{index_expr(offset, new_acc[-1], names)}] = {value};")
        block.body.extend(nest.body)
        return self._function(index, kernel, body_reads(kernel), [root], block)

    # --- structural kernels ----------------------------------------------------------
    def matmul(self, index, kernel):
        from .gemm import emit_matmul
        return emit_matmul(self, index, kernel)

    def gather(self, index, kernel, table):
        (root,) = kernel.roots
        (x, _), = kernel.operands
        owner = self.owner(x)
        out = self.names[id(root)]
        loop = For("i", root.size)
        if root.op == "gather":
            loop.body.add(f"{out}[i] = {self.names[id(owner)]}[{table}[i]];")
            block = Block([loop])
        else:
            zero = _fill(out, root.size, "0")
            loop = For("i", x.size)
            loop.body.add(f"{out}[{table}[i]] += {self.names[id(owner)]}[i];")
            block = Block([zero, loop])
        return self._function(index, kernel, [owner], [root], block)

    # --- shared -------------------------------------------------------------------------
    def owner(self, node):
        return self.ctx.storage(node)[0]

    def storage_shape(self, node):
        return self.ctx.storage(node)[1]

    def _numeric(self, nodes):
        from .cprinter import KernelPrinter   # sympy is imported only when emitting
        dtype = "float64" if any(n.dtype == "float64" for n in nodes) else "float32"
        return CTYPE[dtype], KernelPrinter(dtype)

    def _function(self, index, kernel, reads, writes, block):
        params, args = self.params(reads, writes)
        name = f"{self.prefix}_k{index}"
        comment = describe(index, kernel, self.ctx, self.provenance)
        fn = Function(f"DLGRAD_KERNEL void {name}({', '.join(params) or 'void'})", block, comment)
        return fn, f"{name}({', '.join(args)});"


def describe(index, kernel, ctx, provenance):
    """A kernel's comment: its kind and shape, the operations it computes, their source lines."""
    computed, seen, stack = [], set(), list(kernel.roots)
    while stack:   # the roots and the nodes inlined into them, down to what has memory
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            computed.append(node)
            stack.extend(x for x in node.inputs if not ctx.is_buffer(x) and x.op != "const")
    computed.sort(key=lambda n: n.serial)
    counts = ({}, {})   # arithmetic, movement (views folded into index arithmetic)
    for node in computed:
        op = f"partial({node.attr('of')})" if node.op == "partial" else \
            "copy" if node.attr("copy") is not None else node.op
        group = counts[OPS[node.op].kind == MOVEMENT and node not in kernel.roots]
        group[op] = group.get(op, 0) + 1
    ops, views = (", ".join(op if n == 1 else f"{n} {op}" for op, n in c.items()) for c in counts)
    lines = [f"kernel {index}: {kernel.kind} over {list(kernel.shape)}: {ops or 'copy'}"
             + (f" (through {views})" if views else "")]
    places = []
    for node in computed:
        place = provenance.get(id(node))
        if place and place not in places:
            places.append(str(place).replace("*/", "* /"))
    if places:
        lines.append("from " + ", ".join(places[:8]) + (", ..." if len(places) > 8 else ""))
    return "\n".join(lines)


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


def _fill(out, size, value):
    """for (o < size) out[o] = value;"""
    loop = For("o", size)
    loop.body.add(f"{out}[o] = {value};")
    return loop


def _prune(body, exprs):
    """Drop the loads and masks no expression uses (a body may simplify to a constant)."""
    from .ieee import free_symbols   # sympy's own walks a DAG as a tree
    used = free_symbols(exprs)
    body.loads = {load: s for load, s in body.loads.items() if s in used}
    body.masks = {bounds: s for bounds, s in body.masks.items() if s in used}


def body_reads(kernel):
    return _unique([load.buffer for load in kernel.body.loads])


def _unique(nodes):
    seen, result = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            result.append(n)
    return result


def _masked_dims(body):
    dims = set()
    for bounds in list(body.masks) + [load.bounds for load in body.loads]:
        dims |= {d for d, b in enumerate(bounds) if b is not None}
    return dims


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


def _condition(bounds, dim_of, names):
    parts = []
    for d, b in enumerate(bounds):
        if b is None:
            continue
        var = names[dim_of[d]] if d in dim_of else "0"
        parts.append(f"{var} >= {b[0]} && {var} < {b[1]}")
    return "(" + " && ".join(parts) + ")" if parts else "1"


LANES = 8  # partial sums of a reduction: one vector register of doubles


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
