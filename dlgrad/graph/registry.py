"""The op registry: the one list of primitives, and `apply`, the one way to build a node."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import ShapeError
from .node import DTYPES, INDEX_DTYPE, Const, Node, freeze_attrs

ELEMENTWISE, REDUCE, MOVEMENT, MATMUL, GATHER, SOURCE = (
    "elementwise", "reduce", "movement", "matmul", "gather", "source")


@dataclass(frozen=True)
class Op:
    """A primitive: its shape/dtype rule, numpy reference, adjoint, and (elementwise) scalar form.

    infer(inputs, **attrs) -> (shape, dtype)  validates attributes and input shapes.
    numpy(*arrays, **attrs) -> ndarray        the reference implementation.
    vjp(g, out, inputs, **attrs) -> [Node|None] one cotangent per input (None: no gradient).
    scalar(S, *symbols) -> sympy expression   elementwise ops only; S is graph.scalar.

    The rules other layers read, all optional:
    cost                                      rough flops to compute one element inline (codegen
                                              recomputes a cheap elementwise subtree instead of storing it).
    index_map(node) -> affine.Affine          movement ops: the input coordinates an output coordinate
                                              reads (raises affine.NotAffine where it is not affine).
    batch(node, inputs, batched, size) -> Node  node replayed with a leading batch axis (graph/batching.py).
    layout(node, layouts) -> layout           which observations of x node's axes index (graph/layout.py).
    derivative(out, x) -> Node                unary elementwise ops: the derivative as graph ops that may
                                              read the op's own output (exp' = out), so the backward pass
                                              reuses the forward value instead of recomputing it.
    """
    name: str
    kind: str
    infer: Callable
    numpy: Callable
    vjp: Optional[Callable] = None
    scalar: Optional[Callable] = None
    differentiable: bool = True
    cost: int = 20
    index_map: Optional[Callable] = None
    batch: Optional[Callable] = None
    layout: Optional[Callable] = None
    derivative: Optional[Callable] = None

    def __repr__(self):
        return f"<Op {self.name}>"


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    OPS[op.name] = op
    return op


def apply(name: str, *inputs: Node, **attrs) -> Node:
    """Build (or find) the node `name(inputs; attrs)`, running the op's shape/dtype rule."""
    op = OPS[name]
    shape, dtype = op.infer(inputs, **attrs)
    return Node.make(name, tuple(inputs), freeze_attrs(attrs), tuple(int(d) for d in shape), dtype)


def const(value, dtype: str) -> Node:
    """A constant node; scalars stay 0-d and are folded into C kernels as literals."""
    if dtype not in DTYPES and dtype != INDEX_DTYPE:
        raise TypeError(f"constant dtype must be one of {DTYPES + (INDEX_DTYPE,)}, got {dtype!r}")
    array = np.asarray(value, dtype=dtype)
    return Node.make("const", (), (("value", Const(array)),), array.shape, dtype)


def const_value(node: Node):
    """The numpy value of a const node, or None for any other node."""
    return node.attr("value").array if node.op == "const" else None


def scalar_const_value(node: Node):
    """A Python float for a 0-d or all-equal constant, else None."""
    value = const_value(node)
    if value is None or value.size == 0:
        return None
    if value.size == 1 or uniform(value):
        return float(value.flat[0])
    return None


def uniform(value) -> bool:
    """Every element of the float array `value` has the same bits (signed zeros and NaN
    payloads included: [-0.0, 0.0] is not one number, x + it is not x)."""
    bits = np.ascontiguousarray(value).view(f"u{value.dtype.itemsize}")
    return bool((bits == bits.flat[0]).all())


def result_dtype(inputs) -> str:
    """float64 if any input is float64, else float32 (numpy promotion for our two dtypes)."""
    if any(getattr(i, "dtype", None) == INDEX_DTYPE for i in inputs):
        raise TypeError("an int64 index array cannot be an operand of arithmetic: cast it to float "
                        "first (the frontend does so for index arguments used as numbers)")
    return "float64" if any(i.dtype == "float64" for i in inputs) or not inputs else "float32"


def broadcast_shapes(*shapes, what="operands") -> tuple:
    """numpy broadcasting with an error that shows every shape."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"shapes {listed} of the {what} do not broadcast together") from None


def normalize_axes(axes, ndim: int, what="axis") -> tuple:
    """Sorted, non-negative, unique axes; None means all."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    result = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{what} must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{what} {a} is out of range for an array with {ndim} dimensions")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ShapeError(f"{what} {tuple(axes)} repeats an axis")
    return tuple(sorted(result))


def source_infer(inputs, **attrs):
    raise TypeError("source nodes are built directly, not through apply")


def _input_numpy(*args, **attrs):
    raise RuntimeError("input nodes are fed by the caller")


register(Op("const", SOURCE, source_infer, lambda value: value.array))
register(Op("input", SOURCE, source_infer, _input_numpy))


def input_node(index: int, shape, dtype: str) -> Node:
    """The index-th runtime input of a traced function."""
    if dtype not in DTYPES and dtype != INDEX_DTYPE:
        raise TypeError(f"input dtype must be one of {DTYPES + (INDEX_DTYPE,)}, got {dtype!r}")
    return Node.make("input", (), (("index", int(index)),), tuple(int(d) for d in shape), dtype)
