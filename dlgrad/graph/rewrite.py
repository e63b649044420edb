"""Graph simplification: named rewrite rules that hold in IEEE arithmetic (CANONICAL), and the
stable forms of log/exp compositions (STABLE, in graph/stable.py), applied bottom-up to a fixpoint.

Each rule is a (pattern, rewrite) row of a table (graph/patterns.py); `simplify(outputs,
fired=[])` lists the names of the rules that fired. Passes build new nodes and never mutate.

A canonical rule must give the numbers the unsimplified graph gives for every input, 0, -0,
Inf and NaN included (up to rounding where it reassociates): x*1 -> x and x - 0 -> x hold,
but x*0 -> 0 does not (Inf*0 and NaN*0 are NaN), nor x + 0 -> x (-0 + 0 is +0, and 1/(x + 0)
is +Inf where 1/x is -Inf).
"""
from __future__ import annotations

import numpy as np

from .ops import elementwise as E
from .ops import movement as M
from .ops import reduce as R
from .ops.take import rules as take_rules
from .patterns import P, Rule, Rules, rewrite_graph
from .registry import ELEMENTWISE, OPS, apply, const, const_value, scalar_const_value, uniform
from .stable import STABLE
from .transposes import rules as transpose_rules

FOLD_LIMIT = 256  # largest constant produced by folding (elements)


def _is(node, value):
    """node is the constant `value` (a signed zero matches only itself)."""
    number = scalar_const_value(node)
    return number == value and (value != 0 or np.signbit(number) == np.signbit(value))


def _same(node, x):
    """x stands in for node if it already has node's shape and dtype."""
    return x if x.shape == node.shape and x.dtype == node.dtype else None


def _fill(node, value):
    return M.broadcast_to(const(value, node.dtype), node.shape)


def fold_constants(node):
    if node.op in ("stop_gradient", "broadcast_to") or not node.inputs:
        return None
    if node.size <= FOLD_LIMIT or all(i.size == 1 for i in node.inputs):
        args = [const_value(i) for i in node.inputs]
        with np.errstate(all="ignore"):
            value = np.asarray(OPS[node.op].numpy(*args, **dict(node.attrs)), dtype=node.dtype)
        if value.size > 1 and (value == value.flat[0]).all():
            # keep uniform results as a broadcast scalar, never a big literal array
            return M.broadcast_to(const(value.flat[0], node.dtype), node.shape)
        return const(value, node.dtype) if value.size <= FOLD_LIMIT else None
    return None


def _uniform(node):
    """A float constant of more than one element, all equal (a user's np.zeros((H, B)))."""
    if node.size <= 1 or node.dtype not in ("float32", "float64"):
        return False
    return uniform(const_value(node))


def uniform_constant(node):
    """The same number everywhere is one number broadcast: the C holds no table of it."""
    return M.broadcast_to(const(const_value(node).flat[0], node.dtype), node.shape) if _uniform(node) else None


def _const(value):
    """Pattern of a constant equal to `value` everywhere (a signed zero matches only itself)."""
    return P("const", where=lambda n: _is(n, value))


_X, _Y = P(name="x"), P(name="y")
_ANY = P()
_MOVES = ("reshape", "permute", "broadcast_to", "slice", "view")


def _inner_cast_widens(node):
    return node.dtype == "float64"


ARITHMETIC = (
    Rule("mul_by_one", P("mul", _X, _const(1.0)), lambda node, x: _same(node, x)),
    Rule("one_times", P("mul", _const(1.0), _X), lambda node, x: _same(node, x)),
    Rule("minus_one_times", P("mul", _const(-1.0), _X), lambda node, x: _same(node, E.neg(x))),
    Rule("mul_by_minus_one", P("mul", _X, _const(-1.0)), lambda node, x: _same(node, E.neg(x))),
    Rule("neg_times_neg", P("mul", P("neg", _X), P("neg", _Y)), lambda node, x, y: E.mul(x, y)),
    # x + -0 is x for every x; x + 0 is not (at x = -0)
    Rule("add_minus_zero", P("add", _X, _const(-0.0)), lambda node, x: _same(node, x)),
    Rule("minus_zero_add", P("add", _const(-0.0), _X), lambda node, x: _same(node, x)),
    Rule("add_neg", P("add", _X, P("neg", _Y)), lambda node, x, y: E.sub(x, y)),
    Rule("neg_add", P("add", P("neg", _Y), _X), lambda node, x, y: E.sub(x, y)),
    # x - 0 is x; x - (-0) is not (at x = -0). -0 - x is -x; 0 - x is not (at x = 0)
    Rule("sub_zero", P("sub", _X, _const(0.0)), lambda node, x: _same(node, x)),
    Rule("minus_zero_sub", P("sub", _const(-0.0), _X), lambda node, x: _same(node, E.neg(x))),
    Rule("sub_neg", P("sub", _X, P("neg", _Y)), lambda node, x, y: E.add(x, y)),
    Rule("div_by_one", P("div", _X, _const(1.0)), lambda node, x: _same(node, x)),
    Rule("neg_neg", P("neg", P("neg", _X)), lambda node, x: x),
    Rule("pow_one", P("pow", _X, _const(1.0)), lambda node, x: _same(node, x)),
    # pow(x, +-0) is 1, NaN included
    Rule("pow_zero", P("pow", _ANY, P(where=lambda n: scalar_const_value(n) == 0)),
         lambda node: _fill(node, 1.0)),
    Rule("where_true", P("where", P("const", where=lambda c: (const_value(c) != 0).all()), _X, _ANY),
         lambda node, x: _same(node, x)),
    Rule("where_false", P("where", P("const", where=lambda c: (const_value(c) == 0).all()), _ANY, _X),
         lambda node, x: _same(node, x)),
    # composing through a widening inner cast is exact; through a narrowing one it is not
    Rule("cast_of_widening_cast", P("cast", P("cast", _X, where=_inner_cast_widens)),
         lambda node, x: E.cast(x, node.dtype)),
)


def _permute_of_permute(node, x):
    inner, outer = node.inputs[0].attr("axes"), node.attr("axes")
    return M.permute(x, [inner[a] for a in outer])


def _is_broadcast_number(node):
    return node.inputs[0].size == 1


def _view_of_pad(node, x):
    """A view of a padded vector: the padded values where the view is their region, zeros where
    it misses them (the cotangents of a loop's parts, summed into its packed value)."""
    ((start, stop, step),) = node.inputs[0].attr("index")
    offset, size = node.attr("offset"), node.size
    if step != 1:
        return None
    if offset == start and offset + size == stop:
        return M.reshape(x, node.shape)
    if offset + size <= start or offset >= stop:
        return M.broadcast_to(const(0.0, node.dtype), node.shape)
    return None


def _view_of_sum(node, x, y):
    """A view of a sum of vectors is the sum of their views (each may then fold, _view_of_pad)."""
    if x.shape != y.shape or x.shape != node.inputs[0].shape:
        return None
    offset = node.attr("offset")
    return E.add(M.view(x, offset, node.shape), M.view(y, offset, node.shape))


MOVEMENT = (
    Rule("view_of_pad", P("view", P("pad", _X)), _view_of_pad),
    Rule("view_of_sum", P("view", P("add", _X, _Y, where=lambda n: n.inputs[0].op == "pad" or n.inputs[1].op == "pad")),
         _view_of_sum),
    Rule("view_of_view", P("view", P("view", _X)),
         lambda node, x: M.view(x, node.inputs[0].attr("offset") + node.attr("offset"), node.shape)
         if node.inputs[0].ndim == 1 else None),
    Rule("noop_movement", P(("reshape", "broadcast_to"), _X), lambda node, x: x if node.shape == x.shape else None),
    Rule("reshape_of_reshape", P("reshape", P("reshape", _X)), lambda node, x: M.reshape(x, node.shape)),
    Rule("permute_of_permute", P("permute", P("permute", _X)), _permute_of_permute),
    Rule("broadcast_of_broadcast", P("broadcast_to", P("broadcast_to", _X)),
         lambda node, x: M.broadcast_to(x, node.shape)),
    # a broadcast scalar stays a broadcast scalar through any movement
    Rule("movement_of_broadcast_number", P(_MOVES, P("broadcast_to", _X, where=_is_broadcast_number)),
         lambda node, x: M.broadcast_to(M.reshape(x, ()), node.shape)),
)


def sum_of_broadcast(node):
    """sum(broadcast_to(x)) over stretched axes = x * (number of copies)."""
    b = node.inputs[0]
    x = b.inputs[0]
    lead = b.ndim - x.ndim
    padded = (1,) * lead + x.shape
    axes = node.attr("axes")
    if any(padded[a] != 1 for a in axes):
        return None
    count = int(np.prod([b.shape[a] for a in axes], dtype=np.int64))
    kept = R.reduced_shape(padded, axes, node.attr("keepdims"))
    base = M.broadcast_to(M.reshape(x, kept), node.shape)
    return E.mul(base, float(count)) if count != 1 else base


def _one_number(node):
    """The value of a 1-element constant, seen through reshapes and broadcasts; else None."""
    while node.op in ("broadcast_to", "reshape"):
        node = node.inputs[0]
    return scalar_const_value(node) if node.op == "const" and node.size == 1 else None


def scalar_operands(node):
    """One number spread over an array is a 0-d constant: broadcast_to(c[1,1]) -> broadcast_to(c);
    an elementwise operand broadcast from one number becomes that number (so x * ones -> x folds).
    """
    if node.op == "broadcast_to" and node.inputs[0].op == "const" and node.inputs[0].size == 1 \
            and node.inputs[0].ndim:
        return M.broadcast_to(const(_one_number(node.inputs[0]), node.dtype), node.shape)
    if node.op == "stop_gradient" or OPS[node.op].kind != ELEMENTWISE:
        return None
    inputs = [i if not i.ndim or i.op == "const" and i.size > 1 or _one_number(i) is None
              else const(_one_number(i), i.dtype) for i in node.inputs]
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return None
    return M.broadcast_to(apply(node.op, *inputs, **dict(node.attrs)), node.shape)


def _factor(node):
    """(x, c) if node is x * c or c * x with c a 0-d constant, else None."""
    if node.op == "mul":
        a, b = node.inputs
        if b.op == "const" and b.ndim == 0:
            return a, b
        if a.op == "const" and a.ndim == 0:
            return b, a
    return None


def _power_of_two(value):
    return value != 0 and np.isfinite(value) and abs(np.frexp(value)[0]) == 0.5


def constant_factors(node):
    """(x * a) * b -> x * (a * b) when a or b is a power of two (so no rounding changes) and
    both scale the same way (|a|, |b| >= 1 or both <= 1: x * a cannot overflow to Inf where
    x * (a * b) does not, as (x * 2) * 0.5 does at x = 1e308);
    -(x * a) -> x * (-a) and (-x) * a -> x * (-a) (negation is exact).
    """
    if node.op == "neg" and _factor(node.inputs[0]) is not None:
        x, c = _factor(node.inputs[0])
        return _same(node, E.mul(x, const(-const_value(c), c.dtype)))
    outer = _factor(node)
    if outer is None:
        return None
    y, b = outer
    if y.op == "neg":
        return _same(node, E.mul(y.inputs[0], const(-const_value(b), b.dtype)))
    inner = _factor(y)
    if inner is None:
        return None
    x, a = inner
    va, vb = const_value(a), const_value(b)
    if not (_power_of_two(float(va)) or _power_of_two(float(vb))) or a.dtype != b.dtype:
        return None
    magnitudes = abs(float(va)), abs(float(vb))
    if not (min(magnitudes) >= 1 or max(magnitudes) <= 1):
        return None
    with np.errstate(all="ignore"):
        product = va * vb
    if not np.isfinite(product) or product == 0:
        return None
    return _same(node, E.mul(x, const(product, a.dtype)))


def matmul_by_a_number(node):
    """a @ (c spread over (k, n)) = c * (row sums of a) spread over n, and (c spread) @ b likewise:
    the cotangent of a sum reaching a matmul becomes a reduction (k == 1: just a broadcast).
    """
    a, b = node.inputs
    for number, other, axis in ((_one_number(b), a, a.ndim - 1), (_one_number(a), b, b.ndim - 2)):
        if number is None or not np.isfinite(number):   # a row [0, 1] @ Inf is NaN, not Inf
            continue
        sums = other if other.shape[axis] == 1 else R.sum_(other, (axis,), keepdims=True)
        if sums.dtype != node.dtype:
            sums = E.cast(sums, node.dtype)
        spread = M.broadcast_to(sums, node.shape)
        return spread if number == 1.0 else E.mul(spread, const(number, node.dtype))
    return None


def permute_as_reshape(node):
    """A permutation that only moves length-1 axes keeps the element order: a reshape."""
    moved = [a for a in node.attr("axes") if node.inputs[0].shape[a] != 1]
    return M.reshape(node.inputs[0], node.shape) if moved == sorted(moved) else None


def _all_const(node):
    for i in node.inputs:
        if i.op != "const":
            return False
    return True


CANONICAL = Rules(
    (Rule("fold_constants", P(where=_all_const), fold_constants),),
    ARITHMETIC, MOVEMENT,
    (Rule("sum_of_broadcast", P("sum", P("broadcast_to")), sum_of_broadcast),
     Rule("scalar_operands", P(), scalar_operands),
     Rule("constant_factors", P(("mul", "neg")), constant_factors),
     Rule("matmul_by_a_number", P("matmul"), matmul_by_a_number),
     Rule("permute_as_reshape", P("permute"), permute_as_reshape)),
    take_rules(), transpose_rules())
RULES = Rules(CANONICAL, STABLE)


def _strip_stop_gradient(node, inputs):
    return inputs[0] if node.op == "stop_gradient" else None


def _leaves_and_stops(strip):
    """simplify's `prepare`: uniform constants (leaves, which rules never visit) become a
    broadcast number, and stop_gradient goes where `strip`."""
    def prepare(node, inputs):
        if node.op == "const":
            return uniform_constant(node)
        return _strip_stop_gradient(node, inputs) if strip else None
    return prepare


def simplify(outputs, strip_stop_gradient=True, fired=None, rules=CANONICAL, final=False):
    """Simplified outputs (new nodes; the input graph is untouched). `fired`, a list, receives the
    name of each rule that fired.

    The default rules keep the graph's numbers to rounding. The stable forms (RULES adds them)
    are applied where the frontend builds a node, traced and eager alike, not here: they are more
    accurate than the naive graph (log1p against log(1 + y) at a tiny y), and a compiled graph
    must give the reference interpreter's numbers for the graph it was given. `final`: the graph
    is about to run (no adjoint will be built from it), so loops drop the parts nobody reads."""
    from .loops import merge_loops, prune_loops   # a loop and its twin that stores residuals run as one
    simplified = rewrite_graph(merge_loops(outputs), rules, fired, _leaves_and_stops(strip_stop_gradient))
    return prune_loops(simplified) if final else simplified
