"""Graph simplification: rules that hold in IEEE arithmetic, applied bottom-up to a fixpoint.

Each rule takes a node (whose inputs are already simplified) and returns a
replacement node or None. Passes build new nodes and never mutate.

A rule must give the numbers the unsimplified graph gives for every input, 0, -0, Inf and
NaN included (up to rounding where it reassociates): x*1 -> x and x - 0 -> x hold, but
x*0 -> 0 does not (Inf*0 and NaN*0 are NaN), nor x + 0 -> x (-0 + 0 is +0, and 1/(x + 0)
is +Inf where 1/x is -Inf).
"""
from __future__ import annotations

import numpy as np

from .node import Node, toposort
from .ops import elementwise as E
from .ops import movement as M
from .ops import reduce as R
from .registry import OPS, apply, const, const_value, scalar_const_value

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
    if node.op in ("const", "input", "stop_gradient") or not node.inputs:
        return None
    if node.op == "broadcast_to" or not all(i.op == "const" for i in node.inputs):
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


def arithmetic_identities(node):
    op, ins = node.op, node.inputs
    if op == "mul":
        a, b = ins
        if _is(b, 1.0):
            return _same(node, a)
        if _is(a, 1.0):
            return _same(node, b)
        if _is(a, -1.0):
            return _same(node, E.neg(b))
        if _is(b, -1.0):
            return _same(node, E.neg(a))
        if a.op == "neg" and b.op == "neg":
            return E.mul(a.inputs[0], b.inputs[0])
    if op == "add":
        a, b = ins
        if _is(b, -0.0):    # x + -0 is x for every x; x + 0 is not (at x = -0)
            return _same(node, a)
        if _is(a, -0.0):
            return _same(node, b)
        if b.op == "neg":
            return E.sub(a, b.inputs[0])
        if a.op == "neg":
            return E.sub(b, a.inputs[0])
    if op == "sub":
        a, b = ins
        if _is(b, 0.0):     # x - 0 is x; x - (-0) is not (at x = -0)
            return _same(node, a)
        if _is(a, -0.0):    # -0 - x is -x; 0 - x is not (at x = 0)
            return _same(node, E.neg(b))
        if b.op == "neg":
            return E.add(a, b.inputs[0])
    if op == "div" and _is(ins[1], 1.0):
        return _same(node, ins[0])
    if op == "neg" and ins[0].op == "neg":
        return ins[0].inputs[0]
    if op == "pow" and _is(ins[1], 1.0):
        return _same(node, ins[0])
    if op == "pow" and scalar_const_value(ins[1]) == 0:   # pow(x, +-0) is 1, NaN included
        return _fill(node, 1.0)
    if op == "where" and ins[0].op == "const" and (const_value(ins[0]) != 0).all():
        return _same(node, ins[1])
    if op == "where" and ins[0].op == "const" and (const_value(ins[0]) == 0).all():
        return _same(node, ins[2])
    if op == "cast" and ins[0].op == "cast" and ins[0].dtype == "float64":
        # composing through a widening inner cast is exact; through a narrowing one it is not
        return E.cast(ins[0].inputs[0], node.dtype)
    return None


def movement_identities(node):
    op = node.op
    if op in ("reshape", "broadcast_to", "permute", "slice") and node.shape == node.inputs[0].shape \
            and op != "permute" and op != "slice":
        return node.inputs[0]
    x = node.inputs[0] if node.inputs else None
    if op == "reshape" and x.op == "reshape":
        return M.reshape(x.inputs[0], node.shape)
    if op == "permute" and x.op == "permute":
        inner, outer = x.attr("axes"), node.attr("axes")
        return M.permute(x.inputs[0], [inner[a] for a in outer])
    if op == "broadcast_to" and x.op == "broadcast_to":
        return M.broadcast_to(x.inputs[0], node.shape)
    if op in ("reshape", "permute", "broadcast_to", "slice") and x.op == "broadcast_to" \
            and x.inputs[0].size == 1:
        # a broadcast scalar stays a broadcast scalar through any movement
        return M.broadcast_to(M.reshape(x.inputs[0], ()), node.shape)
    return None


def sum_of_broadcast(node):
    """sum(broadcast_to(x)) over stretched axes = x * (number of copies)."""
    if node.op != "sum" or node.inputs[0].op != "broadcast_to":
        return None
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


RULES = (fold_constants, arithmetic_identities, movement_identities, sum_of_broadcast)


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
    if node.op == "stop_gradient" or OPS[node.op].kind != "elementwise":
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
    if node.op != "matmul":
        return None
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
    if node.op != "permute":
        return None
    moved = [a for a in node.attr("axes") if node.inputs[0].shape[a] != 1]
    return M.reshape(node.inputs[0], node.shape) if moved == sorted(moved) else None


RULES = RULES + (scalar_operands, constant_factors, matmul_by_a_number, permute_as_reshape)


def simplify(outputs, strip_stop_gradient=True):
    """Simplified outputs (new nodes; the inputs graph is untouched)."""
    memo = {}
    for node in toposort(outputs):
        if not node.inputs:
            memo[id(node)] = node
            continue
        inputs = tuple(memo[id(i)] for i in node.inputs)
        if strip_stop_gradient and node.op == "stop_gradient":
            memo[id(node)] = inputs[0]
            continue
        current = node if inputs == node.inputs else apply(node.op, *inputs, **dict(node.attrs))
        memo[id(node)] = _fixpoint(current)
    return [memo[id(o)] for o in outputs]


def _fixpoint(node: Node, depth=0):
    for rule in RULES:
        new = rule(node)
        if new is not None and new is not node:
            if depth > 50:
                return new
            # a rule may build nodes whose own inputs are simplifiable again
            return _fixpoint(simplify([new], strip_stop_gradient=False)[0] if new.inputs else new, depth + 1)
    return node
