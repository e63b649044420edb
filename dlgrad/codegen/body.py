"""Scalar kernel bodies: a tensor's value at a kernel's loop coordinates, as a sympy expression.

Elementwise nodes that are not materialised are inlined (their op's scalar form applied
to their inputs' values, as IEEE nodes that sympy cannot rewrite: see ieee.py); movement
nodes re-map coordinates; materialised tensors become load symbols. Everything a body
reads is recorded so the scheduler can order kernels and keep a kernel from reading what
it is still writing.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph.registry import ELEMENTWISE, MOVEMENT, OPS, const_value
from . import ieee
from .indexmap import IndexMap, NotAffine, broadcast_map, linear, movement_map


class NeedMaterialize(Exception):
    """Raised when a node must get a buffer of its own for the kernel to be expressible."""

    def __init__(self, node, why):
        super().__init__(why)
        self.node = node


@dataclass(frozen=True)
class Load:
    """One read of a buffer: offset + sum(coefs[p] * c[p]), zero outside `bounds`."""
    buffer: object   # the materialised node owning the memory
    offset: int
    coefs: tuple
    bounds: tuple


DUP_COST = 6  # an elementwise subtree this cheap is recomputed rather than stored

# gcc 12.2 at -O3 vectorises loads that are both masked (a pad's window) and run backwards (a
# reversed slice or pad) into wrong code: it drops the reversal of small unrolled groups
# (m ? x[2*i0 - i1 + 1] : 0 over a 5x4 loop read x[2*i0 + i1 + 1]), even out of bounds. Such
# a pad gets a kernel of its own, which reads forwards without a mask and stores backwards.
BACKWARDS = "a masked load that runs backwards"


class Context:
    """What the scheduler knows: which nodes own memory, and what aliases what."""

    def __init__(self, materialized, sympy_module, scalar_module):
        self.materialized = materialized      # id -> node
        self.sp = sympy_module
        self.S = scalar_module

    def is_buffer(self, node):
        return id(node) in self.materialized or node.op == "input" or \
            (node.op == "const" and node.size > 1)

    def storage(self, node):
        """(owner, shape) of memory holding node's value in C order, or None."""
        if self.is_buffer(node):
            return node, node.shape
        if node.op == "reshape":
            inner = self.storage(node.inputs[0])
            if inner is not None:
                return inner[0], node.shape
        return None


class Body:
    """Builds the expressions of one kernel over loop coordinates of `shape`."""

    def __init__(self, ctx: Context, shape, locals_=None):
        self.ctx, self.shape = ctx, tuple(shape)
        self.locals = locals_ if locals_ is not None else {}   # id(root) -> expression
        self.loads = {}    # Load -> symbol
        self.bounds = {}   # symbol of a load -> the bounds outside which it reads 0
        self.masks = {}    # bounds -> symbol
        self.reads = set()  # ids of buffers read

    def fork(self):
        """A copy that can try out another root; symbols keep their numbering."""
        other = Body(self.ctx, self.shape, dict(self.locals))
        other.loads, other.masks, other.reads = dict(self.loads), dict(self.masks), set(self.reads)
        other.bounds = dict(self.bounds)
        return other

    def value(self, node, imap: IndexMap, pad=None):
        """node's value at the coordinates imap gives; `pad` is the nearest pad above on the path."""
        sp = self.ctx.sp
        if imap.empty:
            return ieee.number(0.0)
        if node.op == "const" and node.size == 0:
            return ieee.number(0.0)   # never read: an empty loop
        if node.op == "const" and node.size == 1:
            return ieee.number(float(const_value(node).reshape(())))
        if id(node) in self.locals and imap.is_identity():
            return self.locals[id(node)]
        storage = self.ctx.storage(node)
        if storage is not None:
            owner, shape = storage
            offset, coefs = linear(imap, shape)
            if pad is not None and any(c < 0 for c in coefs) and any(b is not None for b in imap.bounds):
                raise NeedMaterialize(pad, BACKWARDS)
            load = Load(owner, offset, coefs, imap.bounds)
            self.reads.add(id(owner))
            if load not in self.loads:
                self.loads[load] = sp.Symbol(f"v{len(self.loads)}", real=True)
                self.bounds[self.loads[load]] = load.bounds
            return self.loads[load]
        kind = OPS[node.op].kind
        if kind == MOVEMENT:
            try:
                step = movement_map(node)
            except NotAffine as why:
                culprit = node.inputs[0] if node.op == "reshape" else node
                raise NeedMaterialize(culprit, str(why)) from None
            inner = imap.then(step)
            value = self.value(node.inputs[0], inner, node if step.masked() else pad)
            # a pad is zero outside its interval, whatever its input's expression gives there
            return self._masked(value, inner) if step.masked() else value
        if kind == ELEMENTWISE:
            if self._recomputes(node, imap):
                raise NeedMaterialize(node, "broadcast would recompute it")
            args = [self.value(x, imap.then(broadcast_map(x.shape, node.shape)), pad) for x in node.inputs]
            return ieee.apply(node.op, node.attrs, args)
        raise NeedMaterialize(node, f"{node.op} is computed by a kernel of its own")

    def _recomputes(self, node, imap):
        used = imap.uses()
        stretched = any(n > 1 and p not in used for p, n in enumerate(self.shape))
        return stretched and node.size > 1 and cost(node, self.ctx) > DUP_COST

    def _masked(self, expr, imap):
        bounds = tuple(imap.bounds)
        if imap.empty:
            return ieee.number(0.0)
        if not any(b is not None for b in bounds) or expr == 0 or _within(self.bounds.get(expr), bounds):
            # a load masked by these bounds (or narrower ones) already reads 0 outside them; the
            # redundant select also made gcc 12 -O3 -march=native (AVX-512) miscompile relu(t) - t
            return expr
        if bounds not in self.masks:
            self.masks[bounds] = self.ctx.sp.Symbol(f"m{len(self.masks)}", real=True)
        return self.ctx.S.select(self.masks[bounds], expr, 0)


def _within(inner, outer):
    """Whether the bounds `inner` (None: not a masked load) lie inside the bounds `outer`."""
    if inner is None:
        return False
    return all(o is None or (i is not None and o[0] <= i[0] and i[1] <= o[1]) for i, o in zip(inner, outer))


def cost(node, ctx):
    """Rough flop cost of computing node inline (materialised inputs cost nothing; each op
    states its own cost in the registry)."""
    if node.op in ("const", "input") or ctx.is_buffer(node):
        return 0
    return OPS[node.op].cost + sum(cost(x, ctx) for x in node.inputs)
