"""Scheduling: which nodes get memory, which kernels compute them, in what order.

Materialised: outputs, reductions, matmuls, gathers/scatters, elementwise nodes used
more than once unless cheap to recompute, and anything a kernel could not express
(NeedMaterialize restarts the plan with that node added). Elementwise roots of one
shape share a kernel when no dependency forbids it, so a function's value and its
gradient share one loop where they can; those that read a matrix product only where it
is stored (a bias, an activation, an optimizer step) join the product's kernel as an
epilogue, run on each block of the product as it is computed (gemm.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph.node import toposort, users
from ..graph.registry import ELEMENTWISE, GATHER, MATMUL, MOVEMENT, OPS, REDUCE
from .cast import CTYPE
from .gemm import packs
from .body import DUP_COST, Body, Context, NeedMaterialize, cost, deep_chains
from .indexmap import IndexMap, NotAffine, c_strides, linear, movement_map


JOIN_CANDIDATES = 4  # same-shape kernels a root may try to join (keeps scheduling near-linear)


@dataclass
class Kernel:
    kind: str                  # "elementwise", "reduce", "matmul", "gather", "scatter", "pad"
    shape: tuple               # iteration shape
    roots: list                # nodes written by the kernel
    body: Body = None
    exprs: dict = field(default_factory=dict)     # id(root) -> expression
    operands: list = field(default_factory=list)  # matmul/gather/scatter: (node, imap) per input
    deps: set = field(default_factory=set)        # indices of kernels this one reads from
    packed: bool = False                          # matmul: the GEMM packs B (gemm.packs)


@dataclass
class Schedule:
    ctx: Context
    kernels: list       # in execution order
    materialized: dict  # id -> node


def schedule(outputs, sympy_module, scalar_module) -> Schedule:
    order = toposort(outputs)
    forced = _predictable(order) | deep_chains(order)
    while True:
        try:
            return _Scheduler(outputs, forced, sympy_module, scalar_module).run()
        except NeedMaterialize as need:
            if id(need.node) in forced:
                raise AssertionError(f"cannot schedule {need.node!r}: {need}") from None
            forced.add(id(need.node))


def _predictable(order):
    """Nodes that surely need memory, found up front so the plan restarts rarely:
    inputs of reshapes that merge or split axes of something not in memory, strided pads."""
    forced = set()
    for node in order:
        if OPS[node.op].kind != MOVEMENT:
            continue
        try:
            movement_map(node)
        except NotAffine:
            x = node.inputs[0]
            if node.op != "reshape":
                forced.add(id(node))
            elif x.op not in ("input", "const") and OPS[x.op].kind != MOVEMENT:
                forced.add(id(x))
    return forced


def _uses(order):
    """Number of non-movement consumers of each node, looking through movement chains."""
    direct = users(order)
    count = {}
    for node in reversed(order):
        count[id(node)] = sum(count[id(u)] if OPS[u.op].kind == MOVEMENT else 1 for u in direct[id(node)])
    return count


class _Scheduler:
    def __init__(self, outputs, forced, sp, S):
        self.order = toposort(outputs)
        self.forced = forced
        self.materialized = {}
        self.ctx = Context(self.materialized, sp, S)
        self.kernels, self.producer = [], {}   # producer: id(node) -> kernel index
        uses, output_ids = _uses(self.order), {id(o) for o in outputs}
        self.output_ids = output_ids
        for node in self.order:
            kind = OPS[node.op].kind
            if node.op in ("input", "const"):
                continue
            if (id(node) in forced or id(node) in output_ids or kind in (REDUCE, MATMUL, GATHER)
                    or (kind == ELEMENTWISE and uses[id(node)] > 1 and cost(node, self.ctx) > DUP_COST)):
                self.materialized[id(node)] = node

    def run(self):
        for node in self.order:
            if id(node) in self.materialized:
                self.producer[id(node)] = self.place(node)
        order = self.topological()
        live = self.live(order)
        return Schedule(self.ctx, [self.kernels[i] for i in order if i in live], self.materialized)

    def live(self, order):
        """Kernels that write an output or something a live kernel reads. The others compute
        values every reader sees only through statically empty windows (a slice of a pad's
        zeros): no buffer would be named for them, so they are dropped."""
        needed, live = set(self.output_ids), set()
        for k in reversed(order):
            kernel = self.kernels[k]
            if any(id(root) in needed for root in kernel.roots):
                live.add(k)
                if kernel.body is not None:
                    needed |= {id(load.buffer) for load in kernel.body.loads}
                needed |= {id(self.ctx.storage(x)[0]) for x, _ in kernel.operands}
        return live

    def place(self, node):
        kind = OPS[node.op].kind
        if kind in (MATMUL, GATHER):
            operands = [self.operand(x, contiguous=kind == GATHER) for x in node.inputs]
            if kind == MATMUL:
                # a GEMM that packs B reads it through any strides; the others stream B's
                # rows, so a transposed B is copied first (O(k n) against the product's O(m k n))
                b, (owner, imap) = node.inputs[1], operands[1]
                b_k, b_n = linear(imap, self.ctx.storage(owner)[1])[1][-2:]
                (m, k), n = node.inputs[0].shape[-2:], node.shape[-1]
                packed = packs(CTYPE[node.dtype], m, n, k, b_k, b_n)
                if n > 1 and b_n != 1 and not packed:
                    raise NeedMaterialize(b, "transposed right operand")
            reads = {id(self.ctx.storage(x)[0]) for x, _ in operands}
            return self.add(Kernel(node.op, node.shape, [node], operands=operands,
                                   packed=kind == MATMUL and packed), reads)
        # a forced pad (strided, or read backwards through its window: see body.BACKWARDS) is
        # computed by zeroing its buffer and storing its input, read forwards, into it
        if kind == REDUCE or (node.op == "pad" and (not _affine(node) or id(node) in self.forced)):
            x = node.inputs[0]
            kernel = Kernel("reduce" if kind == REDUCE else "pad", x.shape, [node], Body(self.ctx, x.shape))
            kernel.exprs[id(node)] = kernel.body.value(x, IndexMap.identity(x.shape))
            return self.add(kernel, kernel.body.reads)
        tried = 0
        for index in range(len(self.kernels) - 1, -1, -1):
            kernel = self.kernels[index]
            if kernel.kind in ("elementwise", "matmul") and kernel.shape == node.shape:
                join = self.join if kernel.kind == "elementwise" else self.epilogue
                if join(kernel, index, node):
                    return index
                tried += 1
                if tried == JOIN_CANDIDATES:
                    break
        kernel = Kernel("elementwise", node.shape, [], Body(self.ctx, node.shape))
        index = self.add(kernel, set())
        if not self.join(kernel, index, node):
            raise AssertionError(f"{node!r} cannot start a kernel")
        return index

    def join(self, kernel, index, node):
        """Add an elementwise root to a kernel unless that would read its own output or make a cycle,
        or the kernel's body is at its size budget."""
        if kernel.body.full():
            return False
        trial, expr = self._trial(kernel.body, node, node.shape)
        return self._admit(kernel, index, node, trial, expr, {id(r) for r in kernel.roots})

    def epilogue(self, kernel, index, node):
        """Add an elementwise root to a matmul kernel, computed from each block of the product
        as it is stored (gemm.py): it must read the product, and only where it is stored."""
        product, shape = kernel.roots[0], kernel.shape
        if kernel.packed:   # see gemm.matmul_block
            return False
        trial, expr = self._trial(kernel.body or Body(self.ctx, shape), node, shape)
        strides = c_strides(shape)
        if (id(product) not in trial.reads or trial.masks
                or any(b is not None for load in trial.loads for b in load.bounds)
                or any(load.offset != 0 or any(n > 1 and c != s for c, s, n in zip(load.coefs, strides, shape))
                       for load in trial.loads if load.buffer is product)):
            return False
        return self._admit(kernel, index, node, trial, expr, {id(r) for r in kernel.roots[1:]})

    def _trial(self, body, node, shape):
        """(a fork of body, node's value in it), computing the root rather than loading it."""
        trial = body.fork()
        saved = self.materialized.pop(id(node))
        try:
            return trial, trial.value(node, IndexMap.identity(shape))
        finally:
            self.materialized[id(node)] = saved

    def _admit(self, kernel, index, node, trial, expr, own):
        """Make node a root of kernel with trial as its body, unless trial reads one of the
        buffers `own` (the kernel's own outputs) or a source that depends on the kernel."""
        sources = {self.producer[r] for r in trial.reads if r in self.producer} - {index}
        if trial.reads & own or any(self.depends(s, index) for s in sources):
            return False
        kernel.roots.append(node)
        kernel.exprs[id(node)] = expr
        trial.locals[id(node)] = expr
        kernel.body = trial
        kernel.deps |= sources
        return True

    def operand(self, node, contiguous):
        """(node, imap) through which a matmul/gather reads `node`; otherwise it gets memory."""
        imap, current = IndexMap.identity(node.shape), node
        while self.ctx.storage(current) is None:
            if contiguous or OPS[current.op].kind != MOVEMENT:
                raise NeedMaterialize(node, "operand needs memory")
            try:
                imap = imap.then(movement_map(current))
            except NotAffine:
                raise NeedMaterialize(node, "operand is not an affine view") from None
            if imap.masked():
                raise NeedMaterialize(node, "operand is a masked view")
            current = current.inputs[0]
        return current, imap

    def add(self, kernel, reads):
        kernel.deps = {self.producer[r] for r in reads if r in self.producer}
        self.kernels.append(kernel)
        return len(self.kernels) - 1

    def depends(self, start, target):
        seen, stack = set(), [start]
        while stack:
            k = stack.pop()
            if k == target:
                return True
            for d in self.kernels[k].deps - seen:
                seen.add(d)
                stack.append(d)
        return False

    def topological(self):
        """Kernel indices, each after the kernels it reads (depth-first, dependencies in order)."""
        done, result = set(), []
        for start in range(len(self.kernels)):
            if start in done:
                continue
            done.add(start)
            stack = [(start, iter(sorted(self.kernels[start].deps)))]
            while stack:
                k, pending = stack[-1]
                d = next((d for d in pending if d not in done), None)
                if d is None:
                    stack.pop()
                    result.append(k)
                else:
                    done.add(d)
                    stack.append((d, iter(sorted(self.kernels[d].deps))))
        return result


def _affine(node):
    try:
        movement_map(node)
        return True
    except NotAffine:
        return False
