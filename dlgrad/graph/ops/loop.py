"""A loop over time whose step is a graph: recurrences (scan) compiled as one loop, never unrolled.

loop(init..., xs..., consts...; body, length, reverse): the carries start at `init`; step t
(t = 0, ..., T-1, or T-1, ..., 0 when `reverse`) evaluates the body on (carries, xs[t], consts)
and gives the next carries and ys[t]. The node's value packs everything the loop writes into
one flat vector: the final carries, the stacked ys, and the carry entering each step, stacked
(T of each). Backpropagation through time reads those, so a gradient never runs the forward
loop twice. `unpack(node)` gives the parts as views.

The body (`Body`) is a graph of its own: its sources are constants and input(i) nodes numbered
carries, then one step's slices of xs, then consts. The adjoint is a loop in the other
direction whose body is the body's reverse-mode graph: it carries the carries' cotangents and
the consts' accumulated cotangents, and reads xs, the entering carries and the cotangents of
ys step by step. A higher derivative differentiates that loop in turn.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ..interpret import evaluate
from ..node import INDEX_DTYPE, Node, postorder, pretty, toposort
from ..registry import SOURCE, Op, apply, const, input_node, register, source_infer
from . import elementwise as E
from . import movement as M
from . import reduce as R

LOOP = "loop"


class Body:
    """A loop's step as a hashable attribute: its outputs (carries, then ys), the (shape, dtype)
    of each input(i) it reads, and how many inputs are carries, xs and consts."""

    __slots__ = ("outputs", "specs", "counts", "_exact")

    def __init__(self, outputs, specs, counts):
        self.outputs = tuple(outputs)
        self.specs = tuple((tuple(int(d) for d in shape), str(dtype)) for shape, dtype in specs)
        self.counts = tuple(int(c) for c in counts)
        self._exact = None
        carries = self.counts[0]
        if len(self.specs) != sum(self.counts) or len(self.outputs) < carries:
            raise ShapeError(f"loop body: {len(self.specs)} inputs for counts {self.counts} and "
                             f"{len(self.outputs)} outputs")
        for i, (out, (shape, dtype)) in enumerate(zip(self.outputs, self.specs[:carries])):
            if out.shape != shape or out.dtype != dtype:
                raise ShapeError(f"the step must return carry {i} as it came, {dtype}{list(shape)}; "
                                 f"it returned {out.dtype}{list(out.shape)}")

    @property
    def n_carry(self) -> int:
        return self.counts[0]

    @property
    def ys(self) -> tuple:
        return self.outputs[self.counts[0]:]

    def __eq__(self, other):
        return (isinstance(other, Body) and len(self.outputs) == len(other.outputs)
                and all(a is b for a, b in zip(self.outputs, other.outputs))
                and self.specs == other.specs and self.counts == other.counts)

    def __hash__(self):
        return hash((tuple(o.serial for o in self.outputs), self.specs, self.counts))

    def __repr__(self):   # every bit: the text stored-program keys hash (node._exact_attr)
        if self._exact is None:
            text = pretty(self.outputs, exact=True).replace("\n", "; ")
            self._exact = f"Body(counts={self.counts}, specs={self.specs}, {{{text}}})"
        return self._exact

    def __str__(self):
        return "{" + pretty(self.outputs).replace("\n", "; ") + "}"


def _sizes(shapes):
    return [int(np.prod(s, dtype=np.int64)) for s in shapes]


def pieces(body: Body, length: int) -> list:
    """Shapes of the packed value's parts in order: final carries, stacked ys, entering carries."""
    carries = [o.shape for o in body.outputs[:body.n_carry]]
    return carries + [(length,) + y.shape for y in body.ys] + [(length,) + s for s in carries]


def _infer(inputs, body, length, reverse):
    if not isinstance(body, Body):
        raise TypeError(f"loop: body must be a Body, got {type(body).__name__}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ShapeError(f"loop: length must be a non-negative int, got {length!r}")
    if len(inputs) != len(body.specs):
        raise ShapeError(f"loop: the body reads {len(body.specs)} inputs, {len(inputs)} were given")
    carries, xs, _ = body.counts
    for i, (x, (shape, dtype)) in enumerate(zip(inputs, body.specs)):
        want = (length,) + shape if carries <= i < carries + xs else shape
        if x.shape != want or x.dtype != dtype:
            raise ShapeError(f"loop: input {i} is {x.dtype}{list(x.shape)}, the body expects "
                             f"{dtype}{list(want)}")
    dtypes = {o.dtype for o in body.outputs}
    if len(dtypes) > 1 or INDEX_DTYPE in dtypes:
        raise TypeError(f"loop: the step's carries and outputs must share one float dtype, got "
                        f"{sorted(dtypes)}")
    dtype = dtypes.pop() if dtypes else "float64"
    return (sum(_sizes(pieces(body, length))),), dtype


def _numpy(*arrays, body, length, reverse):
    carries, xs, _ = body.counts
    state = [np.array(a) for a in arrays[:carries]]
    steps, consts = arrays[carries:carries + xs], list(arrays[carries + xs:])
    ys = [np.zeros((length,) + y.shape, y.dtype) for y in body.ys]
    entering = [np.zeros((length,) + c.shape, c.dtype) for c in state]
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        for stack, c in zip(entering, state):
            stack[t] = c
        values = evaluate(body.outputs, [*state, *(x[t] for x in steps), *consts])
        state = values[:carries]
        for y, v in zip(ys, values[carries:]):
            y[t] = v
    dtype = body.outputs[0].dtype if body.outputs else "float64"
    parts = [np.ravel(a) for a in (*state, *ys, *entering)]
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def split(flat, body: Body, length: int):
    """(final carries, stacked ys, entering carries) of a packed loop value (or its cotangent)."""
    parts, offset = [], 0
    for shape, size in zip(pieces(body, length), _sizes(pieces(body, length))):
        parts.append(M.reshape(M.slice_(flat, ((offset, offset + size, 1),)), shape))
        offset += size
    carries, ys = body.n_carry, len(body.ys)
    return parts[:carries], parts[carries:carries + ys], parts[carries + ys:]


def unpack(node: Node):
    """A loop node's (final carries, stacked ys, entering carries), as views of its value."""
    return split(node, node.attr("body"), node.attr("length"))


def _vjp(g, out, inputs, body, length, reverse):
    carries, xs, consts = body.counts
    init, steps, fixed = inputs[:carries], inputs[carries:carries + xs], inputs[carries + xs:]
    g_final, g_ys, g_entering = split(g, body, length)
    _, _, entering = unpack(out)
    wanted = [x.dtype != INDEX_DTYPE for x in fixed]   # index arrays have no cotangent
    # the backward step's inputs: carries (cotangents of the carries, accumulated cotangents of
    # the consts), one step of (xs, entering carries, cotangents of ys and of entering carries),
    # then the consts
    specs = [c.shape for c in init] + [k.shape for k, w in zip(fixed, wanted) if w]
    dtypes = [c.dtype for c in init] + [k.dtype for k, w in zip(fixed, wanted) if w]
    step_parts = [*steps, *entering, *g_ys, *g_entering]
    specs += [x.shape[1:] for x in step_parts] + [k.shape for k in fixed]
    dtypes += [x.dtype for x in step_parts] + [k.dtype for k in fixed]
    params = [input_node(i, s, d) for i, (s, d) in enumerate(zip(specs, dtypes))]
    n_acc = sum(wanted)
    ct, acc = params[:carries], params[carries:carries + n_acc]
    at = carries + n_acc
    x_p, c_p = params[at:at + xs], params[at + xs:at + xs + carries]
    at += xs + carries
    gy_p, gc_p = params[at:at + len(body.ys)], params[at + len(body.ys):at + len(body.ys) + carries]
    k_p = params[len(params) - consts:]
    outs = substitute(body.outputs, {id(old): new for old, new in zip(
        [input_node(i, s, d) for i, (s, d) in enumerate(body.specs)], [*c_p, *x_p, *k_p])})
    total = None
    for value, cotangent in zip(outs, [*ct, *gy_p]):
        term = R.sum_(E.mul(value, cotangent))
        total = term if total is None else E.add(total, term)
    from ..autodiff import gradients
    wrt = [*c_p, *x_p, *(k for k, w in zip(k_p, wanted) if w)]
    grads = gradients(total, wrt) if total is not None else [_zeros(p) for p in wrt]
    new_ct = [E.add(d, e) for d, e in zip(grads[:carries], gc_p)]
    new_acc = [E.add(a, d) for a, d in zip(acc, grads[carries + xs:])]
    back_body = Body([*new_ct, *new_acc, *grads[carries:carries + xs]], zip(specs, dtypes),
                     (carries + n_acc, len(step_parts), consts))
    start = [*g_final, *(_zeros(k) for k, w in zip(fixed, wanted) if w)]
    back = loop(start, step_parts, fixed, back_body, length, not reverse)
    final, ct_steps, _ = unpack(back)
    ct_fixed = iter(final[carries:])
    return [*final[:carries], *ct_steps, *(next(ct_fixed) if w else None for w in wanted)]


def _zeros(node):
    return M.broadcast_to(const(0.0, node.dtype), node.shape)


register(Op(LOOP, LOOP, _infer, _numpy, _vjp, cost=10 ** 6))
# a step's stand-in for its carries and its slices of xs while the step is traced (make_body)
register(Op("placeholder", SOURCE, source_infer, lambda **_: None))


def loop(init, xs, consts, body: Body, length: int, reverse: bool = False) -> Node:
    """The loop node running `body` over `length` steps (see the module docstring)."""
    return apply(LOOP, *init, *xs, *consts, body=body, length=int(length), reverse=bool(reverse))


def placeholder(number: int, shape, dtype: str) -> Node:
    """A step's stand-in input while it is traced (never reaches codegen: make_body replaces it)."""
    return Node.make("placeholder", (), (("number", int(number)),), tuple(int(d) for d in shape), dtype)


def substitute(outputs, mapping: dict) -> list:
    """`outputs` rebuilt with the nodes of `mapping` (id -> node of the same shape and dtype) replaced."""
    new = dict(mapping)
    for node in postorder(outputs, lambda n: () if id(n) in mapping else n.inputs):
        if id(node) in new:
            continue
        inputs = tuple(new.get(id(i), i) for i in node.inputs)
        new[id(node)] = node if all(a is b for a, b in zip(inputs, node.inputs)) else \
            Node.make(node.op, inputs, node.attrs, node.shape, node.dtype)
    return [new[id(o)] for o in outputs]


_GATHERS = ("take", "index_add")


def make_body(outputs, placeholders, carries: int):
    """(Body, free nodes) for a step traced on `placeholders` (its carries, then its xs slices).

    Nodes the step computes from neither (weights, their products: anything loop-invariant
    that is not a constant) become the loop's consts, so they are computed once, before the loop.
    """
    ids = {id(p) for p in placeholders}
    order = toposort(outputs)
    inner = set(ids)
    for node in order:
        if any(id(i) in inner for i in node.inputs):
            inner.add(id(node))
            if node.op in _GATHERS and id(node.inputs[1]) in inner:
                raise TypeError("a gather inside a scan step with indices that change per step is not "
                                "supported: gather the whole sequence before the scan and pass it as xs")
    free, seen = [], set()

    def keep(node):
        if id(node) not in inner and node.op != "const" and id(node) not in seen:
            seen.add(id(node))
            free.append(node)
    for node in order:
        if id(node) in inner:
            for i in node.inputs:
                keep(i)
    for node in outputs:
        keep(node)
    nodes = [*placeholders, *free]
    mapping = {id(n): input_node(i, n.shape, n.dtype) for i, n in enumerate(nodes)}
    body = Body(substitute(outputs, mapping), [(n.shape, n.dtype) for n in nodes],
                (carries, len(placeholders) - carries, len(free)))
    return body, free
