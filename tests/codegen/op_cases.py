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
from dlgrad.graph.ops.take import TAKE
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
    "view": [("12[5:11]->3x2", (12,), {"offset": 5, "shape": (3, 2)}, None),
             ("6->2x1x3", (6,), {"offset": 0, "shape": (2, 1, 3)}, None)],
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


def named_cases(name):
    return ([Case(name, f"{name}[{cid}]", [_magnitudes(rng_for(name + cid), shape)], attrs, prep=prep)
             for cid, shape, attrs, prep in NAMED.get(name, [])]
            + [Case(name, f"{name}[{cid}]", [a.copy() for a in arrays], attrs, prep=prep,
                    perturb=perturb[0] if perturb else None, grad=OPS[name].differentiable,
                    fd="singular" not in cid)
               for cid, arrays, attrs, prep, *perturb in EXPLICIT.get(name, [])])


from .op_cases_given import EXPLICIT, conv_cases, take_cases  # noqa: E402  (they use Case above)

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
