"""`verify`: re-derive every node's shape and dtype from its op's rule."""
from __future__ import annotations

from .node import toposort
from .registry import OPS


def verify(outputs):
    """Raise AssertionError naming the first node whose recorded shape/dtype its rule disagrees with."""
    for node in toposort(outputs):
        if node.op not in OPS:
            raise AssertionError(f"{node!r}: unknown op {node.op!r}")
        if OPS[node.op].kind == "source":
            if node.inputs:
                raise AssertionError(f"{node!r}: a source node has inputs")
            continue
        shape, dtype = OPS[node.op].infer(node.inputs, **dict(node.attrs))
        if tuple(shape) != node.shape or dtype != node.dtype:
            raise AssertionError(f"{node!r}: recorded {node.dtype}{node.shape}, rule gives {dtype}{tuple(shape)}")
    return True
