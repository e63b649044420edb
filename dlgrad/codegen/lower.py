"""The codegen pipeline: simplified graph -> schedule -> memory plan -> one C translation unit."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..graph.node import Node, pretty, toposort
from ..graph.rewrite import simplify
from .cast import CTYPE, Block, Function
from .kernels import KernelEmitter
from .memory import plan_workspace

VERSION = 1  # bump when generated code changes for the same graph
HELPERS = (Path(__file__).parent / "c" / "dl_helpers.h").read_text()


@dataclass(frozen=True)
class Program:
    """A compiled function's C description: what the runtime needs and nothing else."""
    source: str
    entry: str           # int entry(const void *const *in, void *const *out, void *work)
    name: str
    inputs: tuple        # ((shape, dtype), ...)
    outputs: tuple
    work_bytes: int
    graph_text: str


    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @staticmethod
    def from_json(text: str) -> "Program":
        fields = json.loads(text)
        for key in ("inputs", "outputs"):
            fields[key] = tuple((tuple(shape), dtype) for shape, dtype in fields[key])
        return Program(**fields)


def lower(outputs, inputs, name="dlgrad_fn", header="", store=None):
    """Program computing `outputs` (Nodes) from runtime inputs with the (shape, dtype) specs given.

    With a `store` (get(key) -> text or None, put(key, text)), a program generated before
    for the same simplified graph is reused without importing sympy or scheduling.
    """
    roots, graph_text = _prepare(outputs)
    key = None
    if store is not None:
        key = hashlib.sha256(repr((VERSION, graph_text, tuple(inputs), name, header)).encode()).hexdigest()
        text = store.get(key)
        if text is not None:
            return Program.from_json(text)
    import sympy
    from ..graph import scalar as S
    from .schedule import schedule
    program = _emit(schedule(roots, sympy, S), roots, inputs, name, header, graph_text)
    if store is not None:
        store.put(key, program.to_json())
    return program


def _prepare(outputs):
    """Simplified outputs (copies where an output owns no kernel) and the IR text."""
    before = len(toposort(outputs))
    simplified = simplify(list(outputs))
    graph_text = (f"// {before} nodes before simplification, {len(toposort(simplified))} after\n"
                  + pretty(simplified))
    # outputs that own no kernel (inputs, constants, views, repeats) are copied by an identity kernel
    roots, seen = [], set()
    for index, node in enumerate(simplified):
        if node.op in ("input", "const", "reshape", "broadcast_to", "permute", "slice") or id(node) in seen:
            node = _copy(node, index)
        seen.add(id(node))
        roots.append(node)
    return roots, graph_text


def _copy(node, index):
    """A fresh identity node writing output `index` (simplify, which strips these, has run)."""
    return Node.make("stop_gradient", (node,), (("copy", index),), node.shape, node.dtype)


def _emit(sched, outputs, inputs, name, header, graph_text):
    ctx, kernels = sched.ctx, sched.kernels
    names, consts, statics = {}, [], []
    for i, node in enumerate(outputs):
        names[id(node)] = f"out{i}"
    # which owners are read by some kernel (the rest of the roots stay kernel-local)
    first_write, last_read = {}, {}
    for k, kernel in enumerate(kernels):
        for root in kernel.roots:
            first_write.setdefault(id(root), k)
        owners = [load.buffer for load in kernel.body.loads] if kernel.body else []
        owners += [ctx.storage(x)[0] for x, _ in kernel.operands]
        for owner in owners:
            last_read[id(owner)] = k
    output_ids = {id(o) for o in outputs}
    stored = {id(n) for n in sched.materialized.values() if id(n) in last_read or id(n) in output_ids}
    work_nodes = [n for n in sched.materialized.values() if id(n) in stored and id(n) not in output_ids]
    offsets, work_bytes = plan_workspace(work_nodes, first_write, last_read)
    for node in work_nodes:
        names[id(node)] = f"buf{node.serial}"
    input_nodes = {}
    for node in toposort(outputs):
        if node.op == "input":
            names[id(node)] = f"in{node.attr('index')}"
            input_nodes[node.attr("index")] = node
        elif node.op == "const" and node.size > 1:
            cname = f"{name}_const{len(consts)}"
            names[id(node)] = cname
            consts.append(_static_array(cname, node.dtype, node.attr("value").array))
    emitter = KernelEmitter(name, names, ctx)
    functions, calls = [], []
    for k, kernel in enumerate(kernels):
        if kernel.kind == "elementwise":
            fn, call = emitter.elementwise(k, kernel, [r for r in kernel.roots if id(r) in stored])
        elif kernel.kind in ("reduce", "pad", "matmul"):
            fn, call = getattr(emitter, kernel.kind)(k, kernel)
        else:
            table = f"{name}_index{k}"
            indices = kernel.roots[0].attr("indices").array.ravel()
            statics.append(_static_array(table, "intp", indices))
            fn, call = emitter.gather(k, kernel, table)
        functions.append(fn)
        calls.append(call)
    entry = Function(f"int {name}_eval(const void *const *in, void *const *out, void *work)", Block())
    body = entry.body
    body.add("char *const ws = (char *)work;")
    body.add("(void)in; (void)out; (void)ws;")
    for index, (shape, dtype) in enumerate(inputs):
        body.add(f"const {CTYPE[dtype]} *const in{index} = (const {CTYPE[dtype]} *)in[{index}];")
    for index, node in enumerate(outputs):
        body.add(f"{CTYPE[node.dtype]} *const out{index} = ({CTYPE[node.dtype]} *)out[{index}];")
    for node in work_nodes:
        body.add(f"{CTYPE[node.dtype]} *const {names[id(node)]} = ({CTYPE[node.dtype]} *)(ws + {offsets[id(node)]});")
    for call in calls:
        body.add(call)
    body.add("return 0;")
    parts = [f"/* {header} */\n" if header else "",
             "#include <math.h>\n#include <stddef.h>\n", HELPERS, "\n".join(consts + statics),
             *(f.text() for f in functions), entry.text()]
    source = "\n".join(p for p in parts if p)
    return Program(source=source, entry=f"{name}_eval", name=name,
                   inputs=tuple((tuple(s), d) for s, d in inputs),
                   outputs=tuple((o.shape, o.dtype) for o in outputs),
                   work_bytes=int(work_bytes), graph_text=graph_text)


def _static_array(cname, dtype, array):
    if dtype == "intp":
        values = ", ".join(str(int(v)) for v in array.ravel())
        return f"static const ptrdiff_t {cname}[{max(array.size, 1)}] = {{{values or '0'}}};"
    values = ", ".join(repr(float(v)) if np.isfinite(v) else ("NAN" if np.isnan(v) else ("INFINITY" if v > 0 else "-INFINITY"))
                       for v in array.ravel())
    suffix = "f" if dtype == "float32" else ""
    if suffix:
        values = ", ".join(v + "f" if v[-1].isdigit() else v for v in values.split(", "))
    return f"static const {CTYPE[dtype]} {cname}[{array.size}] = {{{values}}};"
