"""What every kernel kind's emitter shares (kinds/): parameters, the declarations of a body's
loads and temporaries, the kernel function and its comment, and small loop helpers."""
from __future__ import annotations

from ..graph.registry import MOVEMENT, OPS
from .csyntax import CTYPE, For, Function, index_expr


class KernelEmitter:
    """Emits one kernel as a static C function; `names` gives each buffer owner its C variable.

    `index_table(k, array)` returns the C name of a constant index table holding `array`,
    written once for every kernel that reads it (emit.py).
    """

    def __init__(self, prefix, names, ctx, provenance=None, index_table=None):
        self.prefix, self.names, self.ctx = prefix, names, ctx
        self.provenance = provenance or {}   # id(node) -> "file.py:LINE", for kernel comments
        self.index_table = index_table

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
    def body_statements(self, body, exprs, dim_of, loop_names, access_of, ctype, printer, block, pre=None,
                        unmasked=False, region=None):
        """Declarations of masks, loads and cse temporaries in `block`; the printed expressions.

        With `pre`, loads and temporaries that do not depend on the loop indices (scalars such
        as hyperparameters, and what is computed from them alone) are hoisted there. With
        `unmasked`, the loop runs where every mask holds: no conditions are written. A `region`
        ({dim: (start, stop)}) is where the loop runs: masks it decides are written as 1 or 0
        (a load outside its bounds as 0, no read), so the C compiler drops the dead branches.
        """
        import sympy as sp

        from . import ieee
        invariant = set()
        for bounds, symbol in body.masks.items():
            known = True if unmasked else _holds(bounds, region)
            condition = _condition(bounds, dim_of, loop_names) if known is None else str(int(known))
            block.add(f"const int {symbol} = {condition};")
        for load, symbol in body.loads.items():
            if isinstance(access_of[load], str):   # a value the caller holds (a matmul's accumulator)
                ref, coefs = access_of[load], (1,)
            else:
                offset, coefs = access_of[load]
                ref = f"{self.names[id(load.buffer)]}[{index_expr(offset, coefs, loop_names)}]"
            known = True if unmasked or all(b is None for b in load.bounds) else _holds(load.bounds, region)
            masked = known is None
            if masked:
                ref = f"({_condition(load.bounds, dim_of, loop_names)} ? {ref} : 0)"
            elif not known:
                ref = "0"
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

    def access_table(self, body, extra, exprs=None):
        """(loads, their coefficients followed by `extra`'s), after dropping what `exprs` do not use."""
        if exprs is not None:
            prune(body, exprs)
        loads = list(body.loads)
        accesses = [load.coefs for load in loads] + [coefs for _, coefs in extra]
        return loads, accesses

    def stored(self, roots):
        """The roots that have memory (the others are kernel-local values)."""
        return [r for r in roots if id(r) in self.names]

    def owner(self, node):
        return self.ctx.storage(node)[0]

    def storage_shape(self, node):
        return self.ctx.storage(node)[1]

    def numeric(self, nodes):
        from .cprinter import KernelPrinter   # sympy is imported only when emitting
        dtype = "float64" if any(n.dtype == "float64" for n in nodes) else "float32"
        return CTYPE[dtype], KernelPrinter(dtype)

    def function(self, index, kernel, reads, writes, block):
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


def fill(out, size, value):
    """for (o < size) out[o] = value;"""
    loop = For("o", size)
    loop.body.add(f"{out}[o] = {value};")
    return loop


def prune(body, exprs):
    """Drop the loads and masks no expression uses (a body may simplify to a constant)."""
    from .ieee import free_symbols   # sympy's own walks a DAG as a tree
    used = free_symbols(exprs)
    body.loads = {load: s for load, s in body.loads.items() if s in used}
    body.masks = {bounds: s for bounds, s in body.masks.items() if s in used}


def body_reads(kernel):
    return unique([load.buffer for load in kernel.body.loads])


def unique(nodes):
    seen, result = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            result.append(n)
    return result


def masked_dims(body):
    dims = set()
    for bounds in list(body.masks) + [load.bounds for load in body.loads]:
        dims |= {d for d, b in enumerate(bounds) if b is not None}
    return dims


def _holds(bounds, region):
    """Whether `bounds` hold everywhere in `region` (True), nowhere (False), or it depends (None)."""
    if region is None:
        return None
    result = True
    for d, b in enumerate(bounds):
        if b is None:
            continue
        if d not in region:
            return None
        start, stop = region[d]
        if stop <= b[0] or start >= b[1]:
            return False
        if not (b[0] <= start and stop <= b[1]):
            result = None
    return result


def _condition(bounds, dim_of, names):
    parts = []
    for d, b in enumerate(bounds):
        if b is None:
            continue
        var = names[dim_of[d]] if d in dim_of else "0"
        parts.append(f"{var} >= {b[0]} && {var} < {b[1]}")
    return "(" + " && ".join(parts) + ")" if parts else "1"
