"""Example arguments for every registered op, chosen by the op's kind and arity.

Elementwise ops need no entry: their arity comes from their scalar form, their inputs
from DOMAINS (default: magnitudes in [0.25, 1.5], away from kinks), so a new
elementwise op is covered with no new test code. Ops with attributes, reductions,
matmul, movement and gather ops take their arguments from the tables below.
"""
from __future__ import annotations

import functools
import inspect
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from dlgrad.graph.interpret import evaluate
from dlgrad.graph.node import Const
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import lstsq as Q
from dlgrad.graph.ops import solve as L
from dlgrad.graph.ops import sort as S
from dlgrad.graph.ops.take import TAKE, to_index
from dlgrad.graph.ops.conv import WINDOW
from dlgrad.graph.registry import ELEMENTWISE, GATHER, MATMUL, MOVEMENT, OPS, REDUCE, SOURCE, apply
from graph.support import Inputs, vjp_graph

from .compiled import Batch

INF, NAN = np.inf, np.nan
EDGES = np.array([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.5, -2.5, 3.0, -10.0, 100.0, INF, -INF, NAN])


@dataclass
class Case:
    """One application of `op`: arrays (float64 masters), attributes, and how to check it."""
    op: str
    id: str
    arrays: list
    attrs: dict = field(default_factory=dict)
    prep: Optional[Callable] = None      # graph transforms of the input nodes before the op
    perturb: Optional[list] = None       # which arrays finite differences move (default: all)
    grad: bool = True                    # check the VJP
    fd: bool = True                      # ... against finite differences too

    def build(self, nodes):
        if self.prep is not None:
            nodes = self.prep(*nodes)
            nodes = nodes if isinstance(nodes, tuple) else (nodes,)
        return apply(self.op, *nodes, **self.attrs)


def rng_for(text):
    return np.random.default_rng(zlib.crc32(text.encode()))


def _magnitudes(rng, shape, low=0.25, high=1.5):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def _uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, size=shape)


_POSITIVE = _uniform(0.2, 3.0)
_UNIT = _uniform(-0.9, 0.9)
_CONDITION = "condition"   # 0/1 values that finite differences leave alone

# op -> one sampler per argument (a single sampler applies to every argument)
DOMAINS = {
    "log": _POSITIVE, "sqrt": _POSITIVE, "log1p": _uniform(-0.8, 3.0),
    "asin": _UNIT, "acos": _UNIT, "atanh": _UNIT, "acosh": _uniform(1.2, 3.0),
    "pow": [_uniform(0.3, 2.5), _uniform(-2.0, 2.0)],
    "where": [_CONDITION, _magnitudes, _magnitudes],
}

# elementwise ops whose attributes the generic rule cannot guess: (arity, attrs, domain-of op)
ELEMENTWISE_ATTRS = {
    "cast": [(1, {"dtype": "float64"}, None), (1, {"dtype": "float32"}, None)],
    "partial": [(1, {"of": "sin", "wrt": (0,)}, "sin"),
                (1, {"of": "log", "wrt": (0, 0)}, "log"),
                (1, {"of": "sigmoid", "wrt": (0,)}, "sigmoid"),
                (1, {"of": "relu", "wrt": (0,)}, "relu"),
                (1, {"of": "abs", "wrt": (0,)}, "abs"),
                (2, {"of": "atan2", "wrt": (1,)}, "atan2"),
                (2, {"of": "maximum", "wrt": (0,)}, "maximum"),
                (2, {"of": "pow", "wrt": (0,)}, "pow"),
                (2, {"of": "pow", "wrt": (0, 1)}, "pow")],
}

# shapes by arity: broadcasting for the binary and ternary ops
SHAPES = {1: [((5, 7),), ((),)],
          2: [((5, 1), (7,)), ((), (2, 3))],
          3: [((5, 1), (7,), (5, 7)), ((2, 1), (), (2, 3))]}


def arity(op):
    """Number of array arguments of an elementwise op without attributes, from its scalar form."""
    params = list(inspect.signature(op.scalar).parameters.values())[1:]
    return sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params)


def _sample(domain_of, index, rng, shape):
    domain = DOMAINS.get(domain_of, _magnitudes)
    sampler = domain[index] if isinstance(domain, list) else domain
    if sampler == _CONDITION:
        return rng.choice([0.0, 1.0], size=shape)
    return sampler(rng, shape)


def _smooth(domain_of, n):
    domain = DOMAINS.get(domain_of)
    return [not (isinstance(domain, list) and domain[i] == _CONDITION) for i in range(n)]


def _shape_id(shapes):
    return ",".join("x".join(map(str, s)) or "0d" for s in shapes)


def elementwise_cases(name):
    op = OPS[name]
    variants = ELEMENTWISE_ATTRS.get(name) or [(arity(op), {}, name)]
    cases = []
    for n, attrs, domain_of in variants:
        tag = ",".join(f"{k}={v}".replace(" ", "") for k, v in attrs.items())
        for shapes in SHAPES[n]:
            cid = f"{name}{'[' + tag + ']' if tag else ''}[{_shape_id(shapes)}]"
            rng = rng_for(cid)
            arrays = [_sample(domain_of or name, i, rng, s) for i, s in enumerate(shapes)]
            lossy = attrs.get("dtype") == "float32"
            cases.append(Case(name, cid, arrays, dict(attrs), perturb=_smooth(domain_of or name, n),
                              grad=op.differentiable, fd=not lossy))
    return cases


def edge_arrays(n):
    """Every combination of edge values for an n-ary elementwise op, as 1-D arrays."""
    if n == 1:
        return [EDGES]
    if n == 2:
        a, b = np.meshgrid(EDGES, EDGES, indexing="ij")
        return [a.ravel(), b.ravel()]
    a, b = np.meshgrid(EDGES, EDGES, indexing="ij")
    c = np.resize(np.array([0.0, 1.0, -0.0, NAN]), a.size)
    return [c] + [a.ravel(), b.ravel()][: n - 1]


def edge_cases(name):
    """Elementwise ops on 0, -0, +-inf, NaN and friends (values only: IEEE propagation)."""
    op = OPS[name]
    variants = ELEMENTWISE_ATTRS.get(name) or [(arity(op), {}, name)]
    return [Case(name, f"{name}[edges{i}]", edge_arrays(n), dict(attrs), grad=False)
            for i, (n, attrs, _) in enumerate(variants)]


# --- reductions: any op of kind REDUCE -------------------------------------------------
REDUCE_AXES = [(None, False), ((0,), True), ((1,), False), ((2,), True), ((0, 2), False),
               ((1, 2), True), ((0, 1), False)]


def reduce_cases(name):
    cases = []
    for axes, keepdims in REDUCE_AXES:
        cid = f"{name}[2x3x4,axes={axes},keepdims={keepdims}]".replace(" ", "")
        cases.append(Case(name, cid, [_magnitudes(rng_for(cid), (2, 3, 4), 0.5, 1.5)],
                          {"axes": axes if axes is not None else (0, 1, 2), "keepdims": keepdims}))
    for shape, axes in (((33,), (0,)), ((1, 5), (0,)), ((), ()), ((3, 1), (1,))):
        cid = f"{name}[{_shape_id([shape])},axes={axes}]".replace(" ", "")
        cases.append(Case(name, cid, [_magnitudes(rng_for(cid), shape, 0.5, 1.5)],
                          {"axes": axes, "keepdims": False}))
    # zeros present (one or two in a row), never the extreme value, so max/min stay differentiable
    x = np.array([[1.3, 0.0, -2.0, 0.7], [0.0, 0.9, -2.1, 0.0], [0.6, -0.8, 2.2, 1.1]])
    for axes in ((1,), (0,), (0, 1)):
        cases.append(Case(name, f"{name}[zeros,axes={axes}]".replace(" ", ""), [x.copy()],
                          {"axes": axes, "keepdims": False}))
    cases.append(Case(name, f"{name}[zeros,transposed]", [x.copy()], {"axes": (1,), "keepdims": True},
                      prep=lambda a: M.permute(a, (1, 0))))
    return cases


def reduce_edge_cases(name):
    x = np.array([[1.0, 2.0, -3.0, 0.5, 4.0],
                  [1.0, NAN, -3.0, 0.5, 4.0],
                  [1.0, 2.0, INF, 0.5, 4.0],
                  [-INF, 2.0, INF, 0.0, 4.0],
                  [0.0, 0.0, INF, -1.0, 1.0]])
    return [Case(name, f"{name}[edges,axes={axes}]".replace(" ", ""), [x], {"axes": axes, "keepdims": False},
                 grad=False) for axes in ((1,), (0,))]


# --- matmul: any op of kind MATMUL ------------------------------------------------------
def _swap(x):
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return M.permute(x, axes)


MATMUL_SHAPES = [
    ("1x7@7x33", (1, 7), (7, 33), None),
    ("33x7@7x1", (33, 7), (7, 1), None),
    ("7x7@7x7", (7, 7), (7, 7), None),
    ("2x1x3x4@5x4x2", (2, 1, 3, 4), (5, 4, 2), None),
    ("3x4@2x4x5", (3, 4), (2, 4, 5), None),
    ("T(7x3)@T(33x7)", (7, 3), (33, 7), lambda a, b: (_swap(a), _swap(b))),
    ("3x7@T(33x7)", (3, 7), (33, 7), lambda a, b: (a, _swap(b))),
    ("T(2x4x3)@T(2x6x4)", (2, 4, 3), (2, 6, 4), lambda a, b: (_swap(a), _swap(b))),
    ("rows(6x7)[::2]@7x2", (6, 7), (7, 2), lambda a, b: (M.slice_(a, ((0, 6, 2), (0, 7, 1))), b)),
    ("perm(4x2x3)@2x3x5", (4, 2, 3), (2, 3, 5), lambda a, b: (M.permute(a, (1, 0, 2)), b)),
    ("bcast(1x4->3x4)@4x2", (1, 4), (4, 2), lambda a, b: (M.broadcast_to(a, (3, 4)), b)),
    ("rev(5x4)@4x3[::-1,::-2]", (5, 4), (4, 6), lambda a, b: (M.slice_(a, ((4, -1, -1), (0, 4, 1))),
                                                               M.slice_(b, ((0, 4, 1), (5, -1, -2))))),
    ("outer:3x1@1x4", (3, 1), (1, 4), None),
    ("tiles:9x5@5x17", (9, 5), (5, 17), None),
    ("tiles:17x33@33x35", (17, 33), (33, 35), None),
    ("tiles:2x9x5@5x17", (2, 9, 5), (5, 17), None),
    ("tiles:9x5@T(17x5)", (9, 5), (17, 5), lambda a, b: (a, _swap(b))),
    ("dot:1x5@5x1", (1, 5), (5, 1), None),
    ("same:6x6@6x6", (6, 6), (6, 6), lambda a, b: (a, a)),
    ("computed:exp(3x5)@sin(5x2)", (3, 5), (5, 2), lambda a, b: (E.unary("exp", a), E.unary("sin", b))),
]


def matmul_cases(name):
    return [Case(name, f"{name}[{cid}]", [_magnitudes(rng_for(cid), sa), _magnitudes(rng_for(cid + "b"), sb)],
                 prep=prep) for cid, sa, sb, prep in MATMUL_SHAPES]


# --- movement and gather ops, by name -----------------------------------------------------
def _arange(shape):
    return np.arange(1.0, 1.0 + int(np.prod(shape))).reshape(shape) / 7.0


_INDICES = np.array([[0, 5, 5], [11, 0, 3]])
_POOL2 = {"axis": 0, "window": (2, 3), "stride": (2, 1), "padding": ((1, 0), (0, 2))}
_POOL1 = {"axis": 1, "window": (3,), "stride": (2,), "padding": ((0, 1),)}
_POOL3 = {"axis": 0, "window": (2, 2, 2), "stride": (1, 2, 1), "padding": ((1, 1), (0, 1), (1, 0))}
NAMED = {
    "reshape": [("2x3x4->6x4", (2, 3, 4), {"shape": (6, 4)}, None),
                ("2x3x4->24", (2, 3, 4), {"shape": (24,)}, None),
                ("24->2x3x4", (24,), {"shape": (2, 3, 4)}, None),
                ("1x6x1->2x3", (1, 6, 1), {"shape": (2, 3)}, None),
                ("4x6->6x4", (4, 6), {"shape": (6, 4)}, None),
                ("T(4x6)->24", (4, 6), {"shape": (24,)}, lambda a: M.permute(a, (1, 0))),
                ("2x3->1x2x1x3", (2, 3), {"shape": (1, 2, 1, 3)}, None)],
    "permute": [("2x3x4,(2,0,1)", (2, 3, 4), {"axes": (2, 0, 1)}, None),
                ("2x3x4,(1,0,2)", (2, 3, 4), {"axes": (1, 0, 2)}, None),
                ("5x7,(1,0)", (5, 7), {"axes": (1, 0)}, None)],
    "broadcast_to": [("3x1->2x3x4", (3, 1), {"shape": (2, 3, 4)}, None),
                     ("0d->5", (), {"shape": (5,)}, None),
                     ("4->3x4", (4,), {"shape": (3, 4)}, None),
                     ("1x1->2x3", (1, 1), {"shape": (2, 3)}, None)],
    "slice": [("10[::2]", (10,), {"index": ((0, 10, 2),)}, None),
              ("10[::-1]", (10,), {"index": ((9, -1, -1),)}, None),
              ("10[8:1:-3]", (10,), {"index": ((8, 1, -3),)}, None),
              ("5x6[1:4,::-2]", (5, 6), {"index": ((1, 4, 1), (5, -1, -2))}, None),
              ("4x5[::3,1:2]", (4, 5), {"index": ((0, 4, 3), (1, 2, 1))}, None)],
    "pad": [("5->10[::2]", (5,), {"shape": (10,), "index": ((0, 10, 2),)}, None),
            ("3->10[1::3]", (3,), {"shape": (10,), "index": ((1, 10, 3),)}, None),
            ("10->10[::-1]", (10,), {"shape": (10,), "index": ((9, -1, -1),)}, None),
            ("3x4->5x6[1:4,2:6]", (3, 4), {"shape": (5, 6), "index": ((1, 4, 1), (2, 6, 1))}, None),
            ("3x3->5x6[1:4,::-2]", (3, 3), {"shape": (5, 6), "index": ((1, 4, 1), (5, -1, -2))}, None)],
    "cumsum": [("2x3x4,axis=0", (2, 3, 4), {"axis": 0}, None), ("2x3x4,axis=1", (2, 3, 4), {"axis": 1}, None),
               ("2x3x4,axis=2", (2, 3, 4), {"axis": 2}, None), ("33", (33,), {"axis": 0}, None),
               ("T(4x5),axis=0", (4, 5), {"axis": 0}, lambda a: M.permute(a, (1, 0))),
               ("exp(3x1x4)[::-1],axis=2", (3, 1, 4), {"axis": 2},
                lambda a: E.unary("exp", M.slice_(a, ((2, -1, -1), (0, 1, 1), (0, 4, 1)))))],
    "cumprod": [("2x3x4,axis=0", (2, 3, 4), {"axis": 0}, None), ("2x3x4,axis=2", (2, 3, 4), {"axis": 2}, None),
                ("T(4x5),axis=0", (4, 5), {"axis": 0}, lambda a: M.permute(a, (1, 0)))],
    "gather": [("3x4,repeats", (3, 4), {"indices": Const(_INDICES)}, None),
               ("T(4x3),repeats", (4, 3), {"indices": Const(_INDICES)}, lambda a: M.permute(a, (1, 0))),
               ("0d", (5,), {"indices": Const(np.array(3))}, None),
               ("exp(3x4)", (3, 4), {"indices": Const(_INDICES)}, lambda a: E.unary("exp", a))],
    "scatter": [("2x3->3x4,repeats", (2, 3), {"indices": Const(_INDICES), "shape": (3, 4)}, None),
                ("7->4", (7,), {"indices": Const(np.array([0, 1, 1, 3, 3, 3, 0])), "shape": (4,)}, None),
                ("T(3x2)->3x4", (3, 2), {"indices": Const(_INDICES), "shape": (3, 4)},
                 lambda a: M.permute(a, (1, 0)))],
    **{name: [("5x6x3,(2,3)/(2,1)/pad(1,0|0,2)", (5, 6, 3), _POOL2, None),
              ("2x7x3,axis=1,(3)/(2)/pad(0,1)", (2, 7, 3), _POOL1, None),
              ("3x4x3x2,(2,2,2)/(1,2,1)/pad", (3, 4, 3, 2), _POOL3, None)]
       for name in ("maxpool", "avgpool", "maxpool_index")},
    "avgpool_spread": [("3x6x3->5x6x3", (3, 6, 3), dict(_POOL2, shape=(5, 6, 3)), None),
                       ("2x3x3->2x7x3", (2, 3, 3), dict(_POOL1, shape=(2, 7, 3)), None)],
    "maxpool_scatter": [("5x6x3,g=avgpool(exp)", (5, 6, 3), _POOL2,
                         lambda a: (a, apply("avgpool", E.unary("exp", a), **_POOL2))),
                        ("3x4x3x2,g=maxpool(sin)", (3, 4, 3, 2), _POOL3,
                         lambda a: (a, apply("maxpool", E.unary("sin", a), **_POOL3)))],
    "maxpool_gather": [("5x6x3,v=sin", (5, 6, 3), _POOL2, lambda a: (a, E.unary("sin", a))),
                       ("2x7x3,v=exp", (2, 7, 3), _POOL1, lambda a: (a, E.unary("exp", a)))],
}


# cases whose arrays are given outright (exact zeros, ties, several inputs): op -> [(id, arrays, attrs, prep)]
_KEY = [True, False]   # finite differences move the values, not the sort key
_SQUARE = np.array([[0.0, 2.0, 1.0, -0.5], [1.5, 0.3, -1.0, 0.8], [-0.7, 1.1, 2.2, 0.4], [0.9, -1.3, 0.2, 1.7]])
_SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
_FACTORED = lambda a, b: (a, L.lu(a), b)   # noqa: E731
_QR = lambda a, b: (a, Q.qr(a), b)   # noqa: E731
_TALL = np.array([[0.5, -1.2, 0.3], [1.1, 0.4, -0.7], [-0.6, 0.9, 1.3], [0.2, -0.3, 0.8], [1.4, 0.6, -0.2],
                  [-0.9, 1.0, 0.5]])
_TIES = np.array([[3.0, 1.0, 2.0, NAN, 1.0], [0.0, -0.0, 5.0, 5.0, -1.0], [NAN, NAN, 1.0, INF, -INF],
                  [9.0, 8.0, 8.0, 6.0, 5.0]])
_ZEROS = np.array([[0.9, 0.0, 1.3, -0.7, 0.0, 1.1], [1.2, -0.8, 0.0, 1.4, 0.6, 0.0], [0.0, 0.0, 1.5, -1.1, 0.7, 0.9]])
_KEY_INDEX = lambda k: to_index(k, "key", 2 ** 31)  # noqa: E731
_KEYS = np.array([7.0, 3.0])   # (seed, counter): the key of a random draw, an int64 input
EXPLICIT = {
    # random draws (graph/ops/random.py): the key read at run time, two sizes and offsets, both dtypes
    "random_uniform": [("5x7,f64,offset=3", [_KEYS], {"shape": (5, 7), "dtype": "float64", "offset": 3}, _KEY_INDEX),
                       ("1000,f32", [_KEYS], {"shape": (1000,), "dtype": "float32", "offset": 0}, _KEY_INDEX)],
    "random_normal": [("5x7,f64,offset=3", [_KEYS], {"shape": (5, 7), "dtype": "float64", "offset": 3}, _KEY_INDEX),
                      ("1000,f32", [_KEYS], {"shape": (1000,), "dtype": "float32", "offset": 0}, _KEY_INDEX)],
    # zeros along the axis (first, later, twice): the gradient's exact form at zeros
    "cumprod": [("zeros(3x6),axis=1", [_ZEROS], {"axis": 1}, None),
                ("zeros(6x3),axis=0", [_ZEROS.T.copy()], {"axis": 0}, None)],
    # ties (0 and -0 among them) keep their order, NaN sorts last ascending and first descending
    "argsort": [("ties(4x5),axis=1", [_TIES], {"axis": 1, "descend": False}, None),
                ("ties(4x5),axis=0,descend", [_TIES], {"axis": 0, "descend": True}, None),
                ("ties(4x5),axis=1,descend", [_TIES], {"axis": 1, "descend": True}, None),
                ("exp(3x4x2),axis=1", [_magnitudes(rng_for("argsort3"), (3, 4, 2))],
                 {"axis": 1, "descend": False}, lambda a: E.unary("exp", a)),
                ("33", [_magnitudes(rng_for("argsort33"), (33,))], {"axis": 0, "descend": True}, None)],
    "permute_along": [("4x5,axis=1", [_magnitudes(rng_for("pa"), (4, 5)), _TIES], {"axis": 1},
                       lambda v, k: (v, S.argsort(k, 1, True)), _KEY),
                      ("T(5x4),axis=0", [_magnitudes(rng_for("pa0"), (5, 4)), _TIES], {"axis": 0},
                       lambda v, k: (M.permute(v, (1, 0)), S.argsort(k, 0)), _KEY)],
    "unpermute_along": [("4x5,axis=1", [_magnitudes(rng_for("ua"), (4, 5)), _TIES], {"axis": 1},
                         lambda v, k: (v, S.argsort(k, 1)), _KEY),
                        ("4x5,axis=0", [_magnitudes(rng_for("ua0"), (4, 5)), _TIES], {"axis": 0},
                         lambda v, k: (v, S.argsort(k, 0, True)), _KEY)],
    # pivoting (a zero leading entry), a batch, and a singular matrix (Inf/NaN, as MATLAB's \)
    "lu": [("4x4", [_SQUARE], {}, None), ("2x3x3", [_magnitudes(rng_for("lu2"), (2, 3, 3))], {}, None),
           ("singular", [_SINGULAR], {}, None)],
    # a zero column and a rank-deficient matrix (a zero on R's diagonal: Inf/NaN, as the LU's)
    "qr": [("6x3", [_TALL], {}, None), ("2x4x2", [_magnitudes(rng_for("qr2"), (2, 4, 2))], {}, None),
           ("4x4", [_SQUARE], {}, None), ("zero column", [_TALL * np.array([1.0, 0.0, 1.0])], {}, None)],
    "qr_solve": [("6x3\\6x2", [_TALL, _magnitudes(rng_for("qs"), (6, 2))], {}, _QR),
                 ("2x4x2\\2x4x1", [_magnitudes(rng_for("qs2"), (2, 4, 2)), _magnitudes(rng_for("qs2b"), (2, 4, 1))],
                  {}, _QR)],
    "gram_solve": [("6x3,3x2", [_TALL, _magnitudes(rng_for("gs"), (3, 2))], {}, _QR),
                   ("T(4x4),4x1", [_SQUARE, _magnitudes(rng_for("gs1"), (4, 1))], {},
                    lambda a, g: (M.permute(a, (1, 0)), Q.qr(M.permute(a, (1, 0))), g))],
    "lu_solve": [("4x4\\4x2", [_SQUARE, _magnitudes(rng_for("ls"), (4, 2))], {"transpose": False}, _FACTORED),
                 ("T(4x4)\\4x1", [_SQUARE, _magnitudes(rng_for("lst"), (4, 1))], {"transpose": True}, _FACTORED),
                 ("2x3x3\\2x3x2", [_magnitudes(rng_for("ls2"), (2, 3, 3)) + 3 * np.eye(3),
                                    _magnitudes(rng_for("ls2b"), (2, 3, 2))], {"transpose": False}, _FACTORED),
                 ("singular\\3x1", [_SINGULAR, np.array([[1.0], [2.0], [3.0]])], {"transpose": False},
                  _FACTORED)],
}


# take ops read their indices from a float input of whole numbers (to_index): an index input
_TAKE = [  # (id, x shape, index values, attrs)
    ("5x7[:,2x3],axis=1", (5, 7), [[0, 6, 6], [2, 0, 3]], {"axis": 1, "along": False}),
    ("4x3x2[5],axis=0", (4, 3, 2), [3, 0, 3, 1, 1], {"axis": 0, "along": False}),
    ("6[0d]", (6,), 4, {"axis": 0, "along": False}),
    ("12x8[10],axis=0", (12, 8), [11, 0, 3, 3, 7, 1, 2, 11, 5, 6], {"axis": 0, "along": False}),  # prefetches rows
    ("3x4,along=1", (3, 4), [[0, 3, 3], [1, 1, 0], [2, 3, 1]], {"axis": 1, "along": True}),
    ("3x4,along=0", (3, 4), [[0, 2, 2, 1], [2, 2, 0, 1]], {"axis": 0, "along": True}),
]


def _take_prep(what):
    from dlgrad.graph.ops.take import to_index
    return lambda x, i: (x, to_index(i, what, 100))


def take_cases(name):
    cases = []
    for cid, shape, values, attrs in _TAKE:
        rng, values = rng_for(name + cid), np.asarray(values, dtype=float)
        probe = np.zeros(shape)
        taken = (np.take_along_axis(probe, values.astype(int), attrs["axis"]) if attrs["along"] else
                 np.take(probe, values.astype(int), attrs["axis"])).shape
        if name == "index_add":   # base, the values added (take's shape), the indices
            cases.append(Case(name, f"{name}[{cid}]", [_magnitudes(rng, shape), _magnitudes(rng, taken), values],
                              dict(attrs, what="indices"), prep=lambda b, g, i: (b, g, _take_prep("i")(b, i)[1]),
                              perturb=[True, True, False]))
            continue
        x_shape = shape
        if name == "take_add":   # the cotangent has the shape take gives
            attrs = dict(attrs, size=shape[attrs["axis"]])
            x_shape = taken
        cases.append(Case(name, f"{name}[{cid}]", [_magnitudes(rng, x_shape), values],
                          dict(attrs, what="indices"), prep=_take_prep("indices"), perturb=[True, False]))
    if name == "take":
        cases.append(Case("to_index", "to_index[2x3]", [np.array([[0.0, 5.0, 2.0], [7.0, 0.0, 1.0]])],
                          {"what": "indices", "high": 8}, grad=False))
    return cases


def named_cases(name):
    return ([Case(name, f"{name}[{cid}]", [_magnitudes(rng_for(name + cid), shape)], attrs, prep=prep)
             for cid, shape, attrs, prep in NAMED.get(name, [])]
            + [Case(name, f"{name}[{cid}]", [a.copy() for a in arrays], attrs, prep=prep,
                    perturb=perturb[0] if perturb else None, grad=OPS[name].differentiable,
                    fd="singular" not in cid)
               for cid, arrays, attrs, prep, *perturb in EXPLICIT.get(name, [])])


# --- convolutions (graph/ops/conv.py): (id, data shape, weights shape, attrs), the second operand
# of conv_transpose / conv_filter taking the shape conv's output has
CONV_SHAPES = [
    ("2d,pad,groups2", (5, 4, 4, 3), (3, 3, 2, 6), dict(stride=(1, 1), dilation=(1, 1), padding=((1, 1), (1, 1)),
                                                        groups=2)),
    ("2d,stride,dilation", (7, 6, 3, 17), (3, 2, 3, 9), dict(stride=(2, 3), dilation=(2, 1),
                                                             padding=((2, 0), (1, 3)), groups=1)),
    ("1d", (9, 2, 2), (4, 2, 3), dict(stride=(3,), dilation=(2,), padding=((3, 1),), groups=1)),
    ("3d,depthwise", (4, 3, 3, 2, 2), (2, 2, 2, 1, 4), dict(stride=(1, 2, 1), dilation=(1, 1, 2),
                                                            padding=((1, 0), (0, 1), (1, 1)), groups=2)),
]


def conv_cases(name):
    from dlgrad.graph.ops.conv import out_size
    cases = []
    for cid, xs, ws, attrs in CONV_SHAPES:
        d = len(xs) - 2
        out = tuple(out_size(n, k, s, dl, lo, hi) for n, k, s, dl, (lo, hi)
                    in zip(xs, ws, attrs["stride"], attrs["dilation"], attrs["padding"])) + (ws[-1], xs[-1])
        shapes, extra = {"conv": ((xs, ws), {}), "conv_transpose": ((out, ws), {"size": xs[:d]}),
                         "conv_filter": ((xs, out), {"kernel": ws[:d]})}[name]
        arrays = [_magnitudes(rng_for(name + cid + str(i)), s) for i, s in enumerate(shapes)]
        cases.append(Case(name, f"{name}[{cid}]", arrays, {**attrs, **extra}))
    return cases


BY_KIND = {ELEMENTWISE: elementwise_cases, REDUCE: reduce_cases, MATMUL: matmul_cases,
           MOVEMENT: named_cases, GATHER: named_cases, TAKE: take_cases,
           WINDOW: conv_cases}


def ops_under_test():
    return [name for name, op in OPS.items() if op.kind != SOURCE]


def all_cases():
    cases = []
    for name in ops_under_test():
        if name != "to_index":   # covered with take's cases
            cases += BY_KIND.get(OPS[name].kind, named_cases)(name)
    return cases


def all_edge_cases():
    cases = []
    for name in ops_under_test():
        if OPS[name].kind == ELEMENTWISE:
            cases += edge_cases(name)
        elif OPS[name].kind == REDUCE:
            cases += reduce_edge_cases(name)
    return cases


CASES = all_cases()
EDGE_CASES = all_edge_cases()
GRAD_CASES = [c for c in CASES if c.grad]

# Known bugs of graph/codegen: (check, dtype or None, case id) -> reason. Their tests are
# strict xfails, and their programs are compiled on their own so the rest stay batched.
KNOWN_BUGS: dict = {}


def known_bug(check, dtype, case):
    return KNOWN_BUGS.get((check, dtype, case.id)) or KNOWN_BUGS.get((check, None, case.id))


class CheckSet:
    """Cases built on one set of inputs and compiled together; the interpreter on demand."""

    def __init__(self, cases, dtype, check):
        gradient = check == "vjp"
        self.inputs = Inputs()
        self.batch = Batch(self.inputs)
        self.records = {}
        for case in cases:
            nodes = [self.inputs.add(a, dtype) for a in case.arrays]
            out = case.build(nodes)
            if gradient:
                u = self.inputs.add(rng_for("u" + case.id).standard_normal(out.shape), out.dtype)
                checked = vjp_graph(out, nodes, u)
            else:
                u, checked = None, [out]
            self.records[case.id] = (case, nodes, out, u, checked)
            self.batch.add(case.id, checked, alone=known_bug(check, dtype, case) is not None)

    def compiled(self, case_id):
        return self.batch.results(case_id)

    def reference(self, case_id):
        return evaluate(self.records[case_id][4], self.inputs.arrays)

    def forward(self, case_id):
        """f(arrays of the case) -> output, through the interpreter."""
        _, nodes, out, _, _ = self.records[case_id]

        def f(arrays):
            feed = list(self.inputs.arrays)
            for node, array in zip(nodes, arrays):
                feed[node.attr("index")] = np.asarray(array, dtype=node.dtype)
            return evaluate([out], feed)[0]
        return f


@functools.lru_cache(maxsize=None)
def check_set(check, dtype):
    """The cases of one check ("values", "edges" or "vjp") in one dtype."""
    cases = {"values": CASES, "edges": EDGE_CASES, "vjp": GRAD_CASES}[check]
    if check == "vjp" and dtype == "float32":   # float32 specifics live in scalar bodies
        cases = [c for c in cases if OPS[c.op].kind in (ELEMENTWISE, REDUCE)]
    return CheckSet(cases, dtype, check)
