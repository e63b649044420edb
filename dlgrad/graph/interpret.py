"""The numpy reference interpreter: evaluates any graph with the ops' reference implementations."""
from __future__ import annotations

import numpy as np

from .node import toposort
from .registry import OPS


def evaluate(outputs, inputs=()):
    """Values of `outputs` given the arrays fed to the graph's `input` nodes (by index)."""
    values = {}
    with np.errstate(all="ignore"):
        for node in toposort(outputs):
            if node.op == "input":
                value = np.asarray(inputs[node.attr("index")], dtype=node.dtype)
                if value.shape != node.shape:
                    raise ValueError(f"input {node.attr('index')} has shape {value.shape}, "
                                     f"the graph expects {node.shape}")
            else:
                args = [values[id(i)] for i in node.inputs]
                value = np.asarray(OPS[node.op].numpy(*args, **dict(node.attrs)), dtype=node.dtype)
            values[id(node)] = value.reshape(node.shape)
    return [values[id(o)] for o in outputs]
