"""A loop over time whose step is a graph: recurrences (scan) compiled as one loop, never unrolled.

loop(init..., xs..., consts...; body, length, reverse, keep): the carries start at `init`;
step t (t = 0, ..., T-1, or T-1, ..., 0 when `reverse`) evaluates the body on (carries,
xs[t], consts) and gives the next carries and ys[t]. The node's value packs everything the
loop writes into one flat vector: the final carries, the stacked ys, and, for each carry
`keep` marks, the value entering each step, stacked (T of them). Backpropagation through time
reads those, so a gradient does not run the loop again: scan keeps every carry. An adjoint
loop keeps none (its carries include the accumulated cotangents of weights: T copies of
those would be most of the memory); differentiating it again (a higher derivative) runs it
once more, keeping them. `unpack(node)` gives the parts as views.

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


def pieces(body: Body, length: int, keep: tuple) -> list:
    """Shapes of the packed value's parts in order: final carries, stacked ys, kept entering carries."""
    carries = [o.shape for o in body.outputs[:body.n_carry]]
    return (carries + [(length,) + y.shape for y in body.ys]
            + [(length,) + s for s, k in zip(carries, keep) if k])


def _infer(inputs, body, length, reverse, keep):
    if not isinstance(body, Body):
        raise TypeError(f"loop: body must be a Body, got {type(body).__name__}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ShapeError(f"loop: length must be a non-negative int, got {length!r}")
    if len(inputs) != len(body.specs):
        raise ShapeError(f"loop: the body reads {len(body.specs)} inputs, {len(inputs)} were given")
    if not isinstance(keep, tuple) or len(keep) != body.n_carry or not all(isinstance(k, bool) for k in keep):
        raise TypeError(f"loop: keep must be a tuple of {body.n_carry} bools, got {keep!r}")
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
    return (sum(_sizes(pieces(body, length, keep))),), dtype


def _numpy(*arrays, body, length, reverse, keep):
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
    parts = [np.ravel(a) for a in (*state, *ys, *(e for e, k in zip(entering, keep) if k))]
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def split(flat, body: Body, length: int, keep: tuple):
    """(final carries, stacked ys, entering carries: None where not kept) of a packed loop value
    (or of its cotangent)."""
    parts, offset = [], 0
    shapes = pieces(body, length, keep)
    for shape, size in zip(shapes, _sizes(shapes)):
        parts.append(M.reshape(M.slice_(flat, ((offset, offset + size, 1),)), shape))
        offset += size
    carries, ys = body.n_carry, len(body.ys)
    kept = iter(parts[carries + ys:])
    return parts[:carries], parts[carries:carries + ys], [next(kept) if k else None for k in keep]


def unpack(node: Node):
    """A loop node's (final carries, stacked ys, entering carries or None), as views of its value."""
    return split(node, node.attr("body"), node.attr("length"), node.attr("keep"))


def _vjp(g, out, inputs, body, length, reverse, keep):
    carries, xs, consts = body.counts
    init, steps, fixed = inputs[:carries], inputs[carries:carries + xs], inputs[carries + xs:]
    g_final, g_ys, g_entering = split(g, body, length, keep)
    if not all(keep):   # run the loop again, keeping the carries entering each step
        out = loop(init, steps, fixed, body, length, reverse)
    _, _, entering = unpack(out)
    g_kept = [x for x in g_entering if x is not None]
    wanted = [x.dtype != INDEX_DTYPE for x in fixed]   # index arrays have no cotangent
    # the backward step's inputs: carries (cotangents of the carries, accumulated cotangents of
    # the consts), one step of (xs, entering carries, cotangents of ys and of kept entering
    # carries), then the consts
    step_parts = [*steps, *entering, *g_ys, *g_kept]
    nodes = [*init, *(k for k, w in zip(fixed, wanted) if w)]
    specs = [(n.shape, n.dtype) for n in nodes] + [(x.shape[1:], x.dtype) for x in step_parts]
    specs += [(k.shape, k.dtype) for k in fixed]
    params = iter([input_node(i, s, d) for i, (s, d) in enumerate(specs)])
    ct = [next(params) for _ in init]
    acc = [next(params) for w in wanted if w]
    x_p = [next(params) for _ in steps]
    c_p = [next(params) for _ in entering]
    gy_p = [next(params) for _ in g_ys]
    gc_p = [next(params) if k else None for k in keep]
    k_p = [next(params) for _ in fixed]
    outs = substitute(body.outputs, {id(old): new for old, new in zip(
        [input_node(i, s, d) for i, (s, d) in enumerate(body.specs)], [*c_p, *x_p, *k_p])})
    total = None
    for value, cotangent in zip(outs, [*ct, *gy_p]):
        term = R.sum_(E.mul(value, cotangent))
        total = term if total is None else E.add(total, term)
    from ..autodiff import gradients
    wrt = [*c_p, *x_p, *(k for k, w in zip(k_p, wanted) if w)]
    grads = gradients(total, wrt) if total is not None else [_zeros(p) for p in wrt]
    new_ct = [d if e is None else E.add(d, e) for d, e in zip(grads[:carries], gc_p)]
    new_acc = [E.add(a, d) for a, d in zip(acc, grads[carries + xs:])]
    back_body = Body([*new_ct, *new_acc, *grads[carries:carries + xs]], specs,
                     (len(ct) + len(acc), len(step_parts), consts))
    start = [*g_final, *(_zeros(k) for k, w in zip(fixed, wanted) if w)]
    back = loop(start, step_parts, fixed, back_body, length, not reverse, keep=False)
    final, ct_steps, _ = unpack(back)
    ct_fixed = iter(final[carries:])
    return [*final[:carries], *ct_steps, *(next(ct_fixed) if w else None for w in wanted)]


def _zeros(node):
    return M.broadcast_to(const(0.0, node.dtype), node.shape)


register(Op(LOOP, LOOP, _infer, _numpy, _vjp, cost=10 ** 6))
# a step's stand-in for its carries and its slices of xs while the step is traced (make_body)
register(Op("placeholder", SOURCE, source_infer, lambda **_: None))


def loop(init, xs, consts, body: Body, length: int, reverse: bool = False, keep: bool = True) -> Node:
    """The loop node running `body` over `length` steps, keeping the carries entering each step
    or none of them (see the module docstring)."""
    return apply(LOOP, *init, *xs, *consts, body=body, length=int(length), reverse=bool(reverse),
                 keep=(bool(keep),) * body.n_carry)


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
