"""Stable forms: named rewrites of log/exp compositions that overflow, underflow or cancel.

These change the numbers where the naive form fails (log(exp(1000)) is Inf, the stable 1000)
and nowhere else beyond rounding. The frontend applies them to every op as it is built,
traced or eager (frontend/eager.py), so gradients are taken of the stable form and eager and
compiled evaluation agree; simplify applies them too, for graphs built directly.

log(maximum(p, c)) with c a clamp no larger than the smallest normal number is the guard a
loss puts on a probability that may have underflowed to 0; where p is a softmax or sigmoid,
its log is computed stably and never meets 0, so the guard is dropped (the clamp would cap
-log p at 708 where it is 1000).
"""
from __future__ import annotations

import numpy as np

from .ops import elementwise as E
from .ops import movement as M
from .ops import reduce as R
from .patterns import P, Rule, Rules, rewrite_graph
from .registry import scalar_const_value

_X, _Z, _S = P(name="x"), P(name="z"), P(name="s")


def _same(node, new):
    return new if new.shape == node.shape and new.dtype == node.dtype else None


def _one(n):
    return n.op == "const" and scalar_const_value(n) == 1.0


_ONE = P("const", where=_one)


def _tiny(n):
    value = scalar_const_value(n) if n.op == "const" else None
    return value is not None and 0 < value <= np.finfo(n.dtype).tiny


def _shifted(x):
    """x is already x' - max(x') (a softmax or logsumexp written stably): no shift is needed."""
    if x.op != "sub":
        return False
    m = x.inputs[1]
    while m.op in ("stop_gradient", "broadcast_to", "reshape"):
        m = m.inputs[0]
    return m.op == "max"


def _logsumexp(node, x):
    """log(sum(exp(x))) = m + log(sum(exp(x - m))), m = max(x) (held constant: the shift cancels)."""
    if _shifted(x) or x.size == 0:
        return None
    axes, keepdims = node.inputs[0].attr("axes"), node.inputs[0].attr("keepdims")
    m = E.stop_gradient(R.reduce("max", x, axes, keepdims=True))
    total = R.sum_(E.unary("exp", E.sub(x, m)), axes, keepdims)
    shift = m if keepdims else M.reshape(m, total.shape)
    return _same(node, E.add(E.unary("log", total), shift))


def _probability(n):
    """A softmax ratio exp(z) / s, a sigmoid, or 1 - sigmoid: a probability with a stable log."""
    return (n.op == "sigmoid" or (n.op == "div" and n.inputs[0].op == "exp")
            or (n.op == "sub" and _one(n.inputs[0]) and n.inputs[1].op == "sigmoid"))


_SIGMOID = P("sigmoid", _X)

STABLE = Rules((
    Rule("log_of_exp", P("log", P("exp", _X)), lambda node, x: _same(node, x)),
    Rule("log_softmax", P("log", P("div", P("exp", _Z), _S)),
         lambda node, z, s: _same(node, E.sub(z, E.unary("log", s)))),
    Rule("log_sigmoid", P("log", _SIGMOID), lambda node, x: _same(node, E.neg(E.unary("softplus", E.neg(x))))),
    Rule("log_one_minus_sigmoid", P("log", P("sub", _ONE, _SIGMOID)),
         lambda node, x: _same(node, E.neg(E.unary("softplus", x)))),
    Rule("log_of_clamped_probability", P("log", P("maximum", P(("div", "sigmoid", "sub"), name="p", where=_probability),
                                                  P("const", where=_tiny))),
         lambda node, p: _same(node, E.unary("log", p))),
    Rule("logsumexp", P("log", P("sum", P("exp", _X))), _logsumexp),
    Rule("log_one_plus", P("log", P("add", _ONE, _X)), lambda node, x: _same(node, E.unary("log1p", x))),
    Rule("log_plus_one", P("log", P("add", _X, _ONE)), lambda node, x: _same(node, E.unary("log1p", x))),
    Rule("softplus", P("log1p", P("exp", _X)), lambda node, x: _same(node, E.unary("softplus", x))),
    Rule("expm1", P("sub", P("exp", _X), _ONE), lambda node, x: _same(node, E.unary("expm1", x))),
))


def stabilize(node, fired=None):
    """node, just built from inputs that are stable already, with the STABLE rules applied to it
    and to the nodes the rules build (never to the older nodes below: building a graph op by op
    stays linear)."""
    if node.op not in _ROOTS:
        return node
    return rewrite_graph([node], STABLE, fired, leaf=lambda n: n.serial < node.serial)[0]


_ROOTS = STABLE.roots()
