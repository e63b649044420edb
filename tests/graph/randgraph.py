"""A hypothesis strategy for small random graphs: elementwise, reduce, movement, gather and
matmul ops on one or two float64 inputs of small random shapes.

Ops with restricted domains are applied to arguments made safe first (log(1 + x^2),
a / (b^2 + 1/2)), so every generated graph is finite for inputs in [-1, 1] and
differentiable almost everywhere: its gradient can be checked by finite differences.
Values can grow large (a product of 24 factors near 3 is 1e12), and sin or cos of a large
value turns the last-ulp difference of a reassociated sum into 10% and defeats finite
differences: products reduce tanh(x), and sin and cos take 2 atan(x), within (-pi, pi).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from dlgrad.graph.node import pretty
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import linalg as L
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import apply, input_node

UNARY = ["sin", "cos", "tanh", "sigmoid", "softplus", "atan", "erf", "neg", "abs", "relu", "exp"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]
REDUCE = ["sum", "prod", "max", "min"]


@dataclass
class RandomGraph:
    inputs: list      # input nodes, by index
    outputs: list     # output nodes
    seed: int

    def arrays(self, low=-1.0, high=1.0):
        rng = np.random.default_rng(self.seed)
        return [rng.uniform(low, high, size=x.shape).astype(x.dtype) for x in self.inputs]

    @property
    def specs(self):
        return [(x.shape, x.dtype) for x in self.inputs]

    def __repr__(self):
        shapes = ", ".join(str(x.shape) for x in self.inputs)
        return f"RandomGraph(inputs {shapes}, seed {self.seed})\n{pretty(self.outputs)}"

    def _repr_pretty_(self, printer, cycle):   # how hypothesis shows a falsifying example
        printer.text(repr(self))


def _shapes(max_rank=3, max_dim=4):
    return st.lists(st.integers(1, max_dim), min_size=0, max_size=max_rank).map(tuple)


def _safe_unary(name, x):
    if name == "exp":
        return E.unary("exp", E.unary("tanh", x))     # bounded
    if name in ("sin", "cos"):
        return E.unary(name, E.mul(E.unary("atan", x), 2.0))   # a bounded argument
    return E.unary(name, x)


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


class _Builder:
    def __init__(self, draw, pool):
        self.draw, self.pool = draw, pool

    def pick(self, nodes=None):
        nodes = nodes if nodes is not None else self.pool
        if self.pool[-1] in nodes and self.draw(st.integers(0, 2)):   # favour chains
            return self.pool[-1]
        return self.draw(st.sampled_from(nodes))

    def unary(self):
        x = self.pick()
        kind = self.draw(st.sampled_from(UNARY + ["square", "log1sq", "sqrt1sq", "power", "where"]))
        if kind == "square":
            return E.mul(x, x)
        if kind == "log1sq":
            return E.unary("log", E.add(E.mul(x, x), 1.0))
        if kind == "sqrt1sq":
            return E.unary("sqrt", E.add(E.mul(x, x), 1.0))
        if kind == "power":
            exponent = self.draw(st.sampled_from([2.0, 3.0, -1.0, 0.5, -2.0]))
            return E.power(E.add(E.mul(x, x), 0.5), exponent)
        if kind == "where":
            return E.where(E.gt(x, 0.25), _safe_unary("sin", x), E.mul(x, 2.0))
        return _safe_unary(kind, x)

    def binary(self):
        a = self.pick()
        partners = [b for b in self.pool if _broadcastable(a, b)]
        b = self.pick(partners)
        name = self.draw(st.sampled_from(BINARY + ["div"]))
        if name == "div":
            return E.div(a, E.add(E.mul(b, b), 0.5))
        if name in ("maximum", "minimum") and a is b:
            b = _safe_unary("sin", b)
        return apply(name, a, b)

    def reduce(self):
        x = self.pick()
        axes = tuple(sorted(self.draw(st.sets(st.integers(0, max(x.ndim - 1, 0)), max_size=x.ndim))))
        if x.ndim == 0:
            axes = ()
        name = self.draw(st.sampled_from(REDUCE))
        keepdims = self.draw(st.booleans())
        if name == "prod":
            x = E.unary("tanh", x)
        return R.reduce(name, x, axes if axes or x.ndim == 0 else None, keepdims)

    def movement(self):
        x = self.pick()
        kind = self.draw(st.sampled_from(["reshape", "permute", "slice", "pad", "broadcast", "gather"]))
        if kind == "reshape":
            if x.size == 1:
                return M.reshape(x, self.draw(st.sampled_from([(), (1,), (1, 1)])))
            first = self.draw(st.sampled_from(_divisors(x.size)))
            shape = self.draw(st.sampled_from([(x.size,), (first, x.size // first), (1, x.size),
                                               (x.size // first, 1, first)]))
            return M.reshape(x, shape)
        if kind == "permute":
            return M.permute(x, self.draw(st.permutations(range(x.ndim))))
        if kind == "slice":
            if x.ndim == 0:
                return M.reshape(x, (1,))
            index = []
            for n in x.shape:
                step = self.draw(st.sampled_from([1, 2, -1, -2]))
                if step > 0:
                    start = self.draw(st.integers(0, n - 1))
                    stop = self.draw(st.integers(start + 1, n))
                else:
                    start = self.draw(st.integers(0, n - 1))
                    stop = self.draw(st.integers(-1, start - 1))
                index.append((start, stop, step))
            return M.slice_(x, index)
        if kind == "pad":
            index, shape = [], []
            for n in x.shape:
                step = self.draw(st.sampled_from([1, 1, 2, -1]))
                before, after = self.draw(st.integers(0, 2)), self.draw(st.integers(0, 2))
                length = before + (n - 1) * abs(step) + 1 + after
                if step > 0:
                    index.append((before, before + (n - 1) * step + 1, step))
                else:
                    start = length - 1 - after
                    index.append((start, start - n if start - n >= 0 else -1, -1))
                shape.append(length)
            return M.pad(x, shape, index)
        if kind == "broadcast":
            if x.ndim and 1 in x.shape and self.draw(st.booleans()):
                return M.broadcast_to(x, tuple(3 if d == 1 else d for d in x.shape))
            return M.broadcast_to(x, (2,) + x.shape)
        count = self.draw(st.integers(1, 6))
        indices = self.draw(st.lists(st.integers(0, x.size - 1), min_size=count, max_size=count))
        return M.gather(x, np.array(indices, dtype=np.int64))

    def matmul(self):
        a = self.pick()
        if a.ndim < 2:
            k = self.draw(st.sampled_from(_divisors(a.size)))
            a = M.reshape(a, (a.size // k, k))
        partners = [b for b in self.pool if b.ndim >= 2 and b.shape[-2] == a.shape[-1]
                    and _broadcastable_batch(a, b)]
        if partners and self.draw(st.booleans()):
            return L.matmul(a, self.pick(partners))
        return L.matmul(a, L.swap_last(a)) if self.draw(st.booleans()) else L.matmul(L.swap_last(a), a)


def _broadcastable_batch(a, b):
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return True
    except ValueError:
        return False


@st.composite
def random_graphs(draw, min_ops=3, max_ops=8, max_inputs=2, max_outputs=2, dtype="float64"):
    n_inputs = draw(st.integers(1, max_inputs))
    inputs = [input_node(i, draw(_shapes()), dtype) for i in range(n_inputs)]
    pool = list(inputs)
    builder = _Builder(draw, pool)
    kinds = ["unary", "unary", "binary", "binary", "reduce", "movement", "movement", "matmul"]
    for _ in range(draw(st.integers(min_ops, max_ops))):
        node = getattr(builder, draw(st.sampled_from(kinds)))()
        if node.size > 400:       # keep the programs small
            node = R.sum_(node)
        pool.append(node)
    outputs = [pool[-1]]
    for _ in range(draw(st.integers(0, max_outputs - 1))):
        outputs.append(draw(st.sampled_from(pool)))
    return RandomGraph(inputs, outputs, draw(st.integers(0, 2**32 - 1)))
