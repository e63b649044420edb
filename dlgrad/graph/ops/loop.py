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

import itertools

import numpy as np

from ...errors import ShapeError
from ..interpret import evaluate
from ..mincut import cheapest_cut
from ..node import INDEX_DTYPE, Node, postorder, pretty, toposort
from ..registry import ELEMENTWISE, MOVEMENT, OPS, SOURCE, Op, apply, const, input_node, register, source_infer
from . import elementwise as E
from . import movement as M
from . import reduce as R

LOOP = "loop"


class Body:
    """A loop's step as a hashable attribute: its outputs (carries, ys, then the residuals its
    adjoint reads), the (shape, dtype) of each input(i) it reads, and how many inputs are
    carries, xs and consts."""

    __slots__ = ("outputs", "specs", "counts", "residuals", "_exact")

    def __init__(self, outputs, specs, counts, residuals=0):
        self.outputs = tuple(outputs)
        self.specs = tuple((tuple(int(d) for d in shape), str(dtype)) for shape, dtype in specs)
        self.counts = tuple(int(c) for c in counts)
        self.residuals = int(residuals)
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
        """The step's outputs stacked over the steps (residuals last)."""
        return self.outputs[self.counts[0]:]

    @property
    def main(self) -> int:
        """How many ys are the step's own (the rest are residuals)."""
        return len(self.outputs) - self.counts[0] - self.residuals

    def __eq__(self, other):
        return (isinstance(other, Body) and len(self.outputs) == len(other.outputs)
                and all(a is b for a, b in zip(self.outputs, other.outputs))
                and self.specs == other.specs and self.counts == other.counts
                and self.residuals == other.residuals)

    def __hash__(self):
        return hash((tuple(o.serial for o in self.outputs), self.specs, self.counts, self.residuals))

    def __repr__(self):   # every bit: the text stored-program keys hash (node._exact_attr)
        if self._exact is None:
            text = pretty(self.outputs, exact=True).replace("\n", "; ")
            self._exact = (f"Body(counts={self.counts}, residuals={self.residuals}, specs={self.specs}, "
                           f"{{{text}}})")
        return self._exact

    def __str__(self):
        return "{" + pretty(self.outputs).replace("\n", "; ") + "}"


def _sizes(shapes):
    return [int(np.prod(s, dtype=np.int64)) for s in shapes]


def pieces(body: Body, length: int, keep: tuple) -> list:
    """Shapes of the packed value's parts in order: final carries, stacked ys, kept entering
    carries, stacked residuals (last, so that a loop without them is a prefix: merge_loops)."""
    carries = [o.shape for o in body.outputs[:body.n_carry]]
    ys = [(length,) + y.shape for y in body.ys]
    return (carries + ys[:body.main] + [(length,) + s for s, k in zip(carries, keep) if k]
            + ys[body.main:])


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
    kept = (e for e, k in zip(entering, keep) if k)
    parts = [np.ravel(a) for a in (*state, *ys[:body.main], *kept, *ys[body.main:])]
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def split(flat, body: Body, length: int, keep: tuple, residuals: bool = False):
    """(final carries, stacked ys, entering carries: None where not kept) of a packed loop value
    (or of its cotangent); with `residuals`, the stacked residuals too."""
    parts, offset = [], 0
    shapes = pieces(body, length, keep)
    for shape, size in zip(shapes, _sizes(shapes)):
        parts.append(M.view(flat, offset, shape))
        offset += size
    carries, ys = body.n_carry, body.main
    kept = iter(parts[carries + ys:])
    entering = [next(kept) if k else None for k in keep]
    result = parts[:carries], parts[carries:carries + ys], entering
    return (*result, list(kept)) if residuals else result


def unpack(node: Node, residuals: bool = False):
    """A loop node's (final carries, stacked ys, entering carries or None[, residuals]), as views."""
    return split(node, node.attr("body"), node.attr("length"), node.attr("keep"), residuals)


def _vjp(g, out, inputs, body, length, reverse, keep):
    carries, xs, consts = body.counts
    init, steps, fixed = inputs[:carries], inputs[carries:carries + xs], inputs[carries + xs:]
    # residuals have cotangents too when the adjoint that reads them is differentiated again
    g_final, g_main, g_entering, g_stored = split(g, body, length, keep, residuals=True)
    # simplified now, to see which cotangents are the same at every step (_same_every_step)
    from ..rewrite import simplify
    parts = iter(simplify([*g_final, *g_main, *g_stored, *(x for x in g_entering if x is not None)]))
    g_final = [next(parts) for _ in g_final]
    g_ys = [next(parts) for _ in [*g_main, *g_stored]]
    g_kept = list(parts)
    wanted = [x.dtype != INDEX_DTYPE for x in fixed]   # index arrays have no cotangent
    originals = [input_node(i, s, d) for i, (s, d) in enumerate(body.specs)]
    # the step's reverse mode on the body's own inputs; what the backward step gets as inputs
    # of its own stands in as placeholders until the residuals are known
    ct = [placeholder(o.shape, o.dtype) for o in body.outputs[:carries]]
    gy = [placeholder(y.shape, y.dtype) for y in body.ys]
    gc = [placeholder(c.shape[1:], c.dtype) if c is not None else None for c in g_entering]
    acc = [placeholder(k.shape, k.dtype) for k, w in zip(fixed, wanted) if w]
    total = None
    for value, cotangent in zip(body.outputs, [*ct, *gy]):
        term = R.sum_(E.mul(value, cotangent))
        total = term if total is None else E.add(total, term)
    from ..autodiff import gradients
    c_in, x_in, k_in = originals[:carries], originals[carries:carries + xs], originals[carries + xs:]
    wrt = [*c_in, *x_in, *(k for k, w in zip(k_in, wanted) if w)]
    grads = gradients(total, wrt) if total is not None else [_zeros(p) for p in wrt]
    new_ct = [d if e is None else E.add(d, e) for d, e in zip(grads[:carries], gc)]
    new_acc = [E.add(a, d) for a, d in zip(acc, grads[carries + xs:])]
    back_outputs = [*new_ct, *new_acc, *grads[carries:carries + xs]]
    residuals = _residuals(body.outputs, back_outputs, originals, [*c_in, *x_in])
    # the forward loop again, storing the residuals too: merge_loops makes it the only one
    forward = loop(init, steps, fixed, Body([*body.outputs, *residuals], body.specs, body.counts,
                                            body.residuals + len(residuals)), length, reverse, keep=True)
    _, _, entering, stored = unpack(forward, residuals=True)
    stored = stored[body.residuals:]   # the new ones (the body's own are among its ys)
    # the backward step's inputs: carries (cotangents of the carries, accumulated cotangents of
    # the consts), one step of the sequences (xs, entering carries, cotangents of ys and of kept
    # entering carries, residuals), then the consts; a cotangent that is the same at every step
    # (a broadcast, zeros) is one step's value: a constant of the body or one of its consts
    carry_in = [*zip(ct, g_final), *zip(acc, (_zeros(k) for k, w in zip(fixed, wanted) if w))]
    sequences, mapping = [], {}
    for src, part in zip([*x_in, *c_in, *gy, *(p for p in gc if p is not None), *residuals],
                         [*steps, *entering, *g_ys, *g_kept, *stored]):
        one = _same_every_step(part)
        if one is None:
            sequences.append((src, part))
        else:
            mapping[id(src)] = one
    mapping.update((id(src), value) for src, value in zip(k_in, fixed))
    # the step closes over outer values (the consts, what is the same at every step): make_body
    # turns what it computes from them alone (a transposed weight) into inputs computed once
    stand_ins = [placeholder(v.shape if i < len(carry_in) else v.shape[1:], v.dtype)
                 for i, (_, v) in enumerate([*carry_in, *sequences])]
    mapping.update((id(src), p) for (src, _), p in zip([*carry_in, *sequences], stand_ins))
    back_body, free = make_body(substitute(back_outputs, mapping), stand_ins, len(carry_in))
    back = loop([v for _, v in carry_in], [v for _, v in sequences], free, back_body, length, not reverse,
                keep=False)
    final, ct_all, _ = unpack(back)
    ct_steps = iter(ct_all)
    ct_fixed = iter(final[carries:])
    return [*final[:carries], *(next(ct_steps) for _ in steps), *(next(ct_fixed) if w else None for w in wanted)]


def _same_every_step(x):
    """x (steps along axis 0) as one step's value when a broadcast makes it the same at every step."""
    if x.op != "broadcast_to":
        return None
    inner = x.inputs[0]
    if inner.ndim == x.ndim:
        if inner.shape[0] != 1:
            return None
        inner = M.reshape(inner, inner.shape[1:])
    return M.broadcast_to(inner, x.shape[1:])


# values the backward step reads are recomputed from the forward step's inputs through these
# (cheap, elementwise); any other forward value it reads (a matrix product, a reduction) is
# stored by the forward loop, one per step, or an elementwise value computed from such ones
_RECOMPUTED = (ELEMENTWISE, MOVEMENT)


def _residuals(forward, backward, originals, varying):
    """The forward step's values (of `forward`, on the body inputs `originals`) that the forward
    loop stores for the backward step: the fewest bytes from which the backward step can
    recompute, by elementwise and movement ops, every value of the forward step it reads that
    depends on the `varying` inputs (carries, xs). A matrix product, reduction, ... cannot be
    recomputed: it is stored, or an elementwise value computed from it is (an LSTM stores
    W x + R h, one array, rather than both products)."""
    inner = {id(n) for n in varying}
    for node in toposort(forward):
        if any(id(i) in inner for i in node.inputs):
            inner.add(id(node))
    sources = {id(n) for n in originals}
    reads = [i for node in toposort(backward) if id(node) not in inner for i in node.inputs if id(i) in inner]
    stack, region, fixed = list(reads), {}, []
    while stack:
        node = stack.pop()
        if id(node) in region or id(node) in sources:
            continue
        region[id(node)] = node
        if OPS[node.op].kind in _RECOMPUTED:
            stack += [i for i in node.inputs if id(i) in inner]
        else:
            fixed.append(node)
    return sorted(cheapest_cut(region, fixed, reads), key=lambda n: n.serial)


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


_numbers = itertools.count()


def placeholder(shape, dtype: str) -> Node:
    """A stand-in for a step's input while the step is built (make_body replaces it, so it never
    reaches codegen); each is a new node, so steps nested in steps never share one."""
    return Node.make("placeholder", (), (("number", next(_numbers)),), tuple(int(d) for d in shape), dtype)


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
_RANDOM = ("random_uniform", "random_normal")


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
    constant, draws = set(), set()   # computed from constants alone: they stay in the step, folded
    for node in order:
        if node.op == "const" or node.inputs and all(id(i) in constant for i in node.inputs):
            constant.add(id(node))
        if node.op in _RANDOM or any(id(i) in draws for i in node.inputs):
            draws.add(id(node))
    free, seen = [], set()

    def keep(node):
        if id(node) not in inner and id(node) not in constant and id(node) not in seen:
            seen.add(id(node))
            free.append(node)
    for node in order:
        if id(node) in inner:
            for i in node.inputs:
                keep(i)
    for node in outputs:
        keep(node)
    if any(id(n) in draws for n in free):
        raise TypeError("a random draw inside a scan step would be the same at every step (the key does not "
                        "change between steps): draw the numbers for all steps before the scan (for example "
                        "masks of shape (T, ...)) and pass them as xs")
    nodes = [*placeholders, *free]
    mapping = {id(n): input_node(i, n.shape, n.dtype) for i, n in enumerate(nodes)}
    body = Body(substitute(outputs, mapping), [(n.shape, n.dtype) for n in nodes],
                (carries, len(placeholders) - carries, len(free)))
    return body, free
