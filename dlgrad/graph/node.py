"""The IR's one node type: frozen, interned (same op, inputs and attributes -> same object)."""
from __future__ import annotations

import hashlib
import itertools
import struct
import weakref

import numpy as np

DTYPES = ("float64", "float32")
INDEX_DTYPE = "int64"   # index arrays (runtime or constant) read by the take ops; never arithmetic


class Const:
    """A constant array as a hashable attribute value (compared by dtype, shape and bytes)."""

    __slots__ = ("array", "_key", "_exact")

    def __init__(self, array):
        array = np.array(array, order="C", copy=True)
        array.setflags(write=False)
        self.array = array
        digest = hashlib.sha1(array.tobytes()).hexdigest() if array.size > 8 else array.tobytes()
        self._key = (array.dtype.str, array.shape, digest)
        self._exact = None

    def __eq__(self, other):
        return isinstance(other, Const) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        if self.array.ndim == 0:
            return repr(self.array.item())
        if self.array.size <= 6:
            return np.array2string(self.array, separator=",").replace("\n", "")
        return f"<{self.array.dtype}{list(self.array.shape)} sha1:{self._key[2]}>"

    def exact(self) -> str:
        """Dtype, shape and every bit (-0.0, NaN payloads): the text cache keys are built from,
        where repr rounds. Arrays over 64 bytes are named by the sha256 of their bytes."""
        if self._exact is None:
            data = self.array.tobytes()
            body = data.hex() if len(data) <= 64 else "sha256:" + hashlib.sha256(data).hexdigest()
            self._exact = f"{self.array.dtype.str}{list(self.array.shape)}:{body}"
        return self._exact


_interned: "weakref.WeakValueDictionary[tuple, Node]" = weakref.WeakValueDictionary()
_serial = itertools.count()


class Node:
    """One tensor-valued operation: `op(inputs; attrs) : dtype[shape]`.

    Only `Node.make` creates nodes; it interns them, so structural equality is
    identity and common subexpressions are shared for free.
    """

    __slots__ = ("op", "inputs", "attrs", "shape", "dtype", "serial", "__weakref__")

    op: str
    inputs: tuple
    attrs: tuple
    shape: tuple
    dtype: str
    serial: int

    def __setattr__(self, name, value):
        raise AttributeError("Node is immutable")

    @staticmethod
    def make(op: str, inputs: tuple, attrs: tuple, shape: tuple, dtype: str) -> "Node":
        key = (op, tuple(id(i) for i in inputs), attrs, shape, dtype)
        node = _interned.get(key)
        if node is not None:
            return node
        node = object.__new__(Node)
        for name, value in (("op", op), ("inputs", tuple(inputs)), ("attrs", attrs),
                            ("shape", tuple(shape)), ("dtype", dtype), ("serial", next(_serial))):
            object.__setattr__(node, name, value)
        _interned[key] = node
        return node

    def attr(self, name, default=None):
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"<Node {self.op} {self.dtype}{list(self.shape)} #{self.serial}>"


def freeze_attrs(attrs: dict) -> tuple:
    """Attributes as a sorted tuple of (name, value) pairs: hashable and order-independent."""
    return tuple(sorted(attrs.items()))


def postorder(roots, children) -> list:
    """Every distinct (by identity) item reachable from `roots` through `children(item)`, each
    after its children, in a deterministic order; an explicit stack, so depth is unbounded."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            item, expanded = stack.pop()
            if expanded:
                order.append(item)
                continue
            if id(item) in seen:
                continue
            seen.add(id(item))
            stack.append((item, True))
            for child in reversed(children(item)):
                if id(child) not in seen:
                    stack.append((child, False))
    return order


def _inputs(node):
    return node.inputs


def toposort(outputs) -> list:
    """Every node the outputs depend on, inputs before users, in a deterministic order."""
    return postorder(outputs, _inputs)


def users(order) -> dict:
    """Map id(node) -> list of nodes that use it, for nodes in a topological order."""
    result = {id(n): [] for n in order}
    for node in order:
        for child in node.inputs:
            result[id(child)].append(node)
    return result


def _format_attr(value):
    if isinstance(value, float):
        return repr(value)
    return str(value).replace(" ", "")


def _exact_attr(value) -> str:
    """An attribute as text that differs whenever the value's bits do (see Const.exact)."""
    if isinstance(value, Const):
        return value.exact()
    if isinstance(value, np.ndarray):
        return Const(value).exact()
    if isinstance(value, float):   # struct keeps -0.0 and NaN payloads that repr and float.hex lose
        return "f8:" + struct.pack("<d", value).hex()
    if isinstance(value, (np.generic, complex)):
        return Const(np.asarray(value)).exact()
    if isinstance(value, (tuple, list)):
        inner = ",".join(map(_exact_attr, value))
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value).replace(" ", "")


def pretty(outputs, names=None, exact=False) -> str:
    """One line per node: `%7 = mul %3 %5 : float64[3,4]`, then the outputs.

    With `exact`, constants and numbers are printed bit for bit (for cache keys), not rounded."""
    order = toposort(outputs)
    index = {id(n): i for i, n in enumerate(order)}
    form = _exact_attr if exact else _format_attr
    lines = []
    for i, node in enumerate(order):
        args = " ".join(f"%{index[id(c)]}" for c in node.inputs)
        attrs = " ".join(f"{k}={form(v)}" for k, v in node.attrs)
        text = " ".join(part for part in (node.op, args, attrs) if part)
        lines.append(f"%{i} = {text} : {node.dtype}{list(node.shape)}".replace(", ", ","))
    outs = ", ".join(f"%{index[id(n)]}" for n in outputs)
    lines.append(f"return {outs}")
    return "\n".join(lines)
