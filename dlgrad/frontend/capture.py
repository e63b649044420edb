"""Capturing a Python function as a graph: run it once on traced proxies, collect its outputs.

`capture(fn, args)` gives the output nodes and input specs; `make_call(captured, run)`
turns a backend's `run(*arrays) -> [arrays]` into the cached entry `call(arrays) -> result`,
a generated function that rebuilds fn's result structure around the fresh arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TraceError
from ..graph.registry import const, input_node
from . import tree
from .dlarray import dlarray, float_dtype, wrap_traced
from .trace import Trace


@dataclass
class Captured:
    """One traced call: runtime input specs, output nodes, and how to rebuild the result."""
    specs: list         # [(shape, dtype name)] of the runtime inputs, in leaf order
    outputs: list       # output Nodes, in leaf order
    treedef: object     # structure of fn's result
    leaves: list        # per result leaf: ("array", i) for output i, ("static", value)
    formats: list = field(default_factory=list)  # data format (or None) of each output


def capture(fn, args) -> Captured:
    """Run fn once with every array leaf of args replaced by a traced dlarray."""
    leaves, treedef = tree.flatten(args)
    trace = Trace()
    specs, proxies = [], []
    for leaf in leaves:
        if isinstance(leaf, dlarray):
            shape, dtype = leaf.shape, leaf.dtype.name
        elif isinstance(leaf, np.ndarray):
            shape, dtype = leaf.shape, float_dtype(leaf.dtype).name
        else:
            proxies.append(leaf)
            continue
        node = input_node(len(specs), shape, dtype)
        trace.inputs.append(node)
        specs.append((tuple(shape), dtype))
        proxy = wrap_traced(node, trace)
        proxy._fmt = getattr(leaf, "_fmt", None)
        proxies.append(proxy)
    with trace:
        result = fn(*tree.unflatten(treedef, proxies))
    out_leaves, out_def = tree.flatten(result)
    outputs, kinds, fmts = [], [], []
    for leaf in out_leaves:
        if isinstance(leaf, dlarray):
            if leaf._node is None:
                node = const(leaf._data, leaf._data.dtype.name)
            elif leaf._trace is not trace:
                raise TraceError("the function returned a dlarray traced by another dlfeval; "
                                 "return only values computed from its own arguments")
            else:
                node = leaf._node
            kinds.append(("array", len(outputs)))
            outputs.append(node)
            fmts.append(leaf._fmt)
        else:
            kinds.append(("static", leaf))
    return Captured(specs, outputs, out_def, kinds, fmts)


def make_call(captured: Captured, run):
    """call(arrays) -> fn's result structure holding new untraced dlarrays from run(*arrays)."""
    namespace = {"run": run, "new": object.__new__, "D": dlarray, "copy": np.array}
    lines = ["def call(arrays):", "    o = run(*arrays)"]
    codes = []
    for kind, value in captured.leaves:
        if kind == "array":
            i = value
            fmt = captured.formats[i] if i < len(captured.formats) else None
            lines.append(f"    x{i} = new(D); x{i}._data = o[{i}]; x{i}._node = x{i}._trace = None; "
                         f"x{i}._fmt = {fmt!r}")
            codes.append(f"x{i}")
        else:
            name = f"_s{len(namespace)}"
            namespace[name] = value
            # arrays among static results are copied so that callers never share them
            codes.append(f"copy({name})" if isinstance(value, np.ndarray) else name)
    lines.append(f"    return {tree.builder_source(captured.treedef, codes, namespace)}")
    exec(compile("\n".join(lines), "<dlgrad dlfeval result>", "exec"), namespace)
    return namespace["call"]
