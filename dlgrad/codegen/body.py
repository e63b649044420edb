"""Scalar kernel bodies: a tensor's value at a kernel's loop coordinates, as a sympy expression.

Elementwise nodes that are not materialised are inlined (their op's scalar form applied
to their inputs' values, as IEEE nodes that sympy cannot rewrite: see ieee.py); movement
nodes re-map coordinates; materialised tensors become load symbols. Everything a body
reads is recorded so the scheduler can order kernels and keep a kernel from reading what
it is still writing.
"""
from __future__ import annotations

import functools
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

# Budgets that keep a kernel body small enough for sympy, which recurses on nesting (cse,
# hashing, printing: about four Python frames per level), and for linear compile time.
CHAIN_DEPTH = 48    # deep_chains cuts a chain of inlined operations at this depth ...
LOCAL_DEPTH = 48    # ... and a root this deep is no longer inlined into later roots,
MAX_DEPTH = 160     # so a body stays below this depth (a NeedMaterialize past it);
BODY_BUDGET = 400   # a kernel takes no further roots once this many nodes are inlined,
BODY_LIMIT = 4000   # and no body inlines more than this many.

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
        self.costs = {}                       # id(node) -> cost of computing it inline

    def is_buffer(self, node):
        return id(node) in self.materialized or node.op == "input" or \
            (node.op == "const" and node.size != 1)   # an empty one too: a kernel may take it as an operand

    def storage(self, node):
        """(owner, shape, offset) of memory holding node's value in C order from element
        `offset` of its owner's, or None."""
        owner, offset = node, 0
        while not self.is_buffer(owner):   # reshapes and views read their input's memory
            if owner.op == "view":
                offset += owner.attr("offset")
            elif owner.op != "reshape":
                return None
            owner = owner.inputs[0]
        return owner, node.shape, offset


class Body:
    """Builds the expressions of one kernel over loop coordinates of `shape`."""

    def __init__(self, ctx: Context, shape, locals_=None):
        self.ctx, self.shape = ctx, tuple(shape)
        self.locals = locals_ if locals_ is not None else {}   # id(root) -> expression
        self.loads = {}    # Load -> symbol
        self.bounds = {}   # symbol of a load -> the bounds outside which it reads 0
        self.masks = {}    # bounds -> symbol
        self.reads = set()  # ids of buffers read
        self.memo = {}     # (id(node), imap, id(pad)) -> expression
        self.depths = {}   # id(expression) -> its nesting depth
        self.size = 0      # elementwise graph nodes inlined: the body's DAG size

    def fork(self):
        """A copy that can try out another root; symbols keep their numbering."""
        other = Body(self.ctx, self.shape, dict(self.locals))
        other.loads, other.masks, other.reads = dict(self.loads), dict(self.masks), set(self.reads)
        other.bounds, other.memo, other.depths = dict(self.bounds), dict(self.memo), dict(self.depths)
        other.size = self.size
        return other

    def value(self, node, imap: IndexMap, pad=None):
        """node's value at the coordinates imap gives; `pad` is the nearest pad above on the path.

        Iterative, and memoised per (node, map, pad) for the body's lifetime: a node read twice
        gives one expression object, so a body is a DAG as large as the graph it inlines, never
        a tree doubling at each shared value, and no Python recursion grows with the graph."""
        top = _keyed((node, imap, pad))
        fresh = set()   # keys resolved by this call (a root of the kernel resolves anew each call)

        def known(key):
            return key in self.memo and (key[0] not in self.locals or key in fresh)
        stack = [[top, None]]
        while stack:
            (node, imap, pad, key), pending = stack[-1]
            if pending is None:
                if known(key):
                    stack.pop()
                    continue
                pending = stack[-1][1] = self._step(node, imap, pad)
            if isinstance(pending, _Pending):
                missing = [child for child in pending.children if not known(child[3])]
                if missing:
                    stack.extend([child, None] for child in reversed(missing))   # in argument order
                    continue
                pending = _Done(*pending.finish([self.memo[child[3]] for child in pending.children]))
            stack.pop()
            self._remember(key, pending.expr, pending.depth)
            fresh.add(key)
        return self.memo[top[3]]

    def depth(self, expr):
        """Nesting depth of a body expression (0 for loads and constants)."""
        return self.depths.get(id(expr), 0)

    def full(self):
        """Whether the body has reached its size budget: it accepts no further roots."""
        return self.size >= BODY_BUDGET

    def _remember(self, key, expr, depth):
        self.memo[key] = expr
        self.depths[id(expr)] = max(depth, self.depths.get(id(expr), 0))

    def _step(self, node, imap, pad):
        """node's value if it needs no other value (_Done), else the values it needs (_Pending)."""
        if imap.empty:
            return _Done(ieee.number(0.0))
        if node.op == "const" and node.size == 0:
            return _Done(ieee.number(0.0))   # never read: an empty loop
        if node.op == "const" and node.size == 1:
            return _Done(ieee.number(float(const_value(node).reshape(()))))
        if id(node) in self.locals and imap.is_identity():
            local = self.locals[id(node)]
            # a root of this kernel is inlined while the body stays within budget; otherwise it
            # is loaded, which the scheduler refuses (a kernel reading its own output), so the
            # reader starts a kernel of its own
            if self.depth(local) < LOCAL_DEPTH and not self.full():
                return _Done(local, self.depth(local))
        storage = self.ctx.storage(node)
        if storage is not None:
            return _Done(self._load(storage, imap, pad))
        kind = OPS[node.op].kind
        if kind == MOVEMENT:
            try:
                step = movement_map(node)
            except NotAffine as why:
                culprit = node.inputs[0] if node.op in ("reshape", "view") else node
                raise NeedMaterialize(culprit, str(why)) from None
            inner = imap.then(step)
            masked = step.masked()
            x = node.inputs[0]
            child = (x, inner, node if masked else pad)

            def finish(args):
                # a pad is zero outside its interval, whatever its input's expression gives there
                (value,) = args
                if not masked:
                    return value, self.depth(value)
                result = self._masked(value, inner)
                return result, self.depth(value) + (result is not value)
            return _Pending([_keyed(child)], finish)
        if kind == ELEMENTWISE:
            if self._recomputes(node, imap):
                raise NeedMaterialize(node, "broadcast would recompute it")
            children = [_keyed((x, imap.then(_broadcast(x.shape, node.shape)), pad)) for x in node.inputs]

            def finish(args):
                self.size += 1
                if self.size > BODY_LIMIT:   # the scheduler's budgets should have cut it before
                    raise NeedMaterialize(node, "kernel body over its size limit")
                depth = template_depth(node) + max((self.depth(a) for a in args), default=0)
                if depth > MAX_DEPTH:
                    raise NeedMaterialize(node, "kernel body over its depth limit")
                return ieee.apply(node.op, node.attrs, args), depth
            return _Pending(children, finish)
        raise NeedMaterialize(node, f"{node.op} is computed by a kernel of its own")

    def _load(self, storage, imap, pad):
        sp = self.ctx.sp
        owner, shape, base = storage
        offset, coefs = linear(imap, shape)
        offset += base
        if pad is not None and any(c < 0 for c in coefs) and any(b is not None for b in imap.bounds):
            raise NeedMaterialize(pad, BACKWARDS)
        load = Load(owner, offset, coefs, imap.bounds)
        self.reads.add(id(owner))
        if load not in self.loads:
            self.loads[load] = sp.Symbol(f"v{len(self.loads)}", real=True)
            self.bounds[self.loads[load]] = load.bounds
        return self.loads[load]

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


class _Done:
    """A value that is known: its expression and nesting depth."""
    __slots__ = ("expr", "depth")

    def __init__(self, expr, depth=0):
        self.expr, self.depth = expr, depth


class _Pending:
    """A value waiting for others: `children` as (node, imap, pad, key), `finish(values)`."""
    __slots__ = ("children", "finish")

    def __init__(self, children, finish):
        self.children, self.finish = children, finish


_broadcast = functools.lru_cache(maxsize=1024)(broadcast_map)   # IndexMaps are immutable


def _keyed(request):
    node, imap, pad = request
    return node, imap, pad, (id(node), imap, id(pad) if pad is not None else None)


def template_depth(node):
    """Nesting depth of an elementwise node's scalar form (1 for the arithmetic operators)."""
    return ieee.op_depth(node.op, node.attrs, len(node.inputs))


def deep_chains(order):
    """Ids of nodes to materialise so that no chain of operations inlined into one kernel body is
    deeper than CHAIN_DEPTH, whatever else gets memory: a chain of a thousand elementwise ops
    becomes kernels of CHAIN_DEPTH levels each, not one expression sympy cannot print."""
    depth, cuts = {}, set()
    for node in order:
        kind = OPS[node.op].kind
        if kind not in (ELEMENTWISE, MOVEMENT):
            continue
        own = template_depth(node) if kind == ELEMENTWISE else int(node.op == "pad")
        reached = own + max((depth.get(id(x), 0) for x in node.inputs), default=0)
        if reached >= CHAIN_DEPTH:
            cuts.add(id(node))
            reached = 0
        depth[id(node)] = reached
    return cuts


def _within(inner, outer):
    """Whether the bounds `inner` (None: not a masked load) lie inside the bounds `outer`."""
    if inner is None:
        return False
    return all(o is None or (i is not None and o[0] <= i[0] and i[1] <= o[1]) for i, o in zip(inner, outer))


COST_CAP = 10 ** 6   # a recurrence's tree cost doubles per step: only comparisons with DUP_COST matter


def cost(node, ctx):
    """Rough flop cost of computing node inline (materialised inputs cost nothing), counted
    over the expression tree as before (each op states its own cost in the registry); memoised in ctx, so linear in the graph, and capped."""
    if node.op in ("const", "input") or ctx.is_buffer(node):
        return 0
    known, stack = ctx.costs, [node]
    while stack:
        current = stack[-1]
        if id(current) in known:
            stack.pop()
            continue
        inner = [x for x in current.inputs if id(x) not in known and x.op not in ("const", "input")
                 and not ctx.is_buffer(x)]
        if inner:
            stack.extend(inner)
            continue
        stack.pop()
        total = OPS[current.op].cost + sum(known.get(id(x), 0) for x in current.inputs
                                         if x.op not in ("const", "input") and not ctx.is_buffer(x))
        known[id(current)] = min(total, COST_CAP)
    return known[id(node)]
