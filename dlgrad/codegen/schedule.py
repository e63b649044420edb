"""Scheduling: which nodes get memory, which kernels compute them, in what order.

Materialised: outputs, what a kernel kind writes whole (reductions, matmuls, gathers/scatters:
kinds/), elementwise nodes used more than once unless cheap to recompute, and anything a
kernel could not express (NeedMaterialize restarts the plan with that node added). Each
materialised node is placed by its kind (kinds.kind_of). Elementwise roots of one shape
share a kernel when no dependency forbids it, so a function's value and its gradient share
one loop where they can; those that read a matrix product only where it is stored (a bias,
an activation, an optimizer step) join the product's kernel as an epilogue (kinds/matmul.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph.node import toposort, users
from ..graph.registry import MOVEMENT, OPS
from .body import Body, Context, NeedMaterialize, deep_chains
from .indexmap import IndexMap, NotAffine, movement_map
from .kinds import Kernel, kind_of


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
        if OPS[node.op].kind != MOVEMENT or node.op == "view":   # a view is read in place
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
            if node.op in ("input", "const"):
                continue
            if (id(node) in forced or id(node) in output_ids
                    or kind_of(node).needs_memory(self, node, uses[id(node)])):
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
        return kind_of(node).place(self, node)

    def over_input(self, kind, node):
        """A kernel of `kind` over the shape of node's input, whose body computes that input
        (read forwards): the kind's loop writes node from it (a reduction, a strided pad)."""
        x = node.inputs[0]
        kernel = Kernel(kind, x.shape, [node], Body(self.ctx, x.shape))
        kernel.exprs[id(node)] = kernel.body.value(x, IndexMap.identity(x.shape))
        return self.add(kernel, kernel.body.reads)

    def join(self, kernel, index, node):
        """Add an elementwise root to a kernel unless that would read its own output or make a cycle,
        or the kernel's body is at its size budget."""
        if kernel.body.full():
            return False
        trial, expr = self._trial(kernel.body, node, node.shape)
        return self._admit(kernel, index, node, trial, expr, {id(r) for r in kernel.roots})

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

    def operand(self, node, contiguous, offsets=False):
        """(node, imap) through which a matmul/gather reads `node`; otherwise it gets memory.
        Memory read at an offset (a view of a loop's value) only for a kind that adds `offsets`."""
        imap, current = IndexMap.identity(node.shape), node
        found = self.ctx.storage(current)
        if found is not None and found[2] and not offsets:
            raise NeedMaterialize(node, "operand at an offset")
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
            found = self.ctx.storage(current)
            if found is not None and found[2] and not offsets:
                raise NeedMaterialize(node, "operand at an offset")
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
