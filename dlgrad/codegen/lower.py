"""The codegen pipeline's front: outputs -> simplified graph -> a stored Program, or a new one.

A program generated before for the same simplified graph comes from the store without
importing sympy, the scheduler or the emitter (emit.py), so a disk-cache hit stays cheap.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..graph.node import Node, pretty, toposort
from ..graph.rewrite import simplify


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
    aliases: tuple = ()  # ((output, input), ...): output written into the donated input's memory
    checks: tuple = ()   # ((input, n, what), ...): status k + 1 means input checks[k][0] holds an
    #                      index outside [0, n) (or a fraction); nothing ran (codegen/kinds/take.py)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @staticmethod
    def from_json(text: str) -> "Program":
        fields = json.loads(text)
        for key in ("inputs", "outputs"):
            fields[key] = tuple((tuple(shape), dtype) for shape, dtype in fields[key])
        fields["aliases"] = tuple(tuple(pair) for pair in fields.get("aliases", ()))
        fields["checks"] = tuple(tuple(check) for check in fields.get("checks", ()))
        return Program(**fields)


def lower(outputs, inputs, name="dlgrad_fn", header="", store=None, provenance=None,
          input_names=None, output_names=None, donate=()):
    """Program computing `outputs` (Nodes) from runtime inputs with the (shape, dtype) specs given.

    With a `store` (get(key) -> text or None, put(key, text)), a program generated before
    for the same simplified graph is reused without importing sympy or scheduling.
    `provenance` maps id(node) -> "file.py:LINE" for kernel comments (the caller keeps those
    nodes alive); `input_names`/`output_names` are what NAME_in_name/NAME_out_name return.
    `donate` lists (output, input) pairs whose output may be written into the input's memory;
    Program.aliases holds those that are safe (see _grant_aliases), and the caller must then
    pass one array as both.
    """
    _check_inputs(outputs, inputs)
    roots, graph_text, exact_text = _prepare(outputs)
    provenance = dict(provenance or {})
    for before, after in zip(outputs, roots):   # an output rewritten by simplify keeps its origin
        if id(before) in provenance:
            provenance.setdefault(id(after), provenance[id(before)])
    labels = (tuple(input_names or (f"in{i}" for i in range(len(inputs)))),
              tuple(output_names or (f"out{i}" for i in range(len(outputs)))))
    if len(labels[0]) != len(inputs) or len(labels[1]) != len(outputs):
        raise ValueError(f"{len(labels[0])} input and {len(labels[1])} output names for "
                         f"{len(inputs)} inputs and {len(outputs)} outputs")
    key = None
    if store is not None:
        places = tuple((i, provenance[id(n)]) for i, n in enumerate(toposort(roots)) if id(n) in provenance)
        key = hashlib.sha256(repr((code_fingerprint(), exact_text, tuple(inputs), name, header, labels, places,
                                   donate)).encode()).hexdigest()
        text = store.get(key)
        if text is not None:
            program = _stored(text, inputs, roots, name, donate)
            if program is not None:
                return program
    import sympy
    from ..graph import scalar as S
    from .emit import emit
    from .schedule import schedule
    program = emit(schedule(roots, sympy, S), roots, inputs, name, header, graph_text, provenance, labels,
                   donate)
    if store is not None:
        store.put(key, program.to_json())
    return program


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """A hash of the graph and codegen sources: a stored program is reused only by the code
    that generated it, so no hand-bumped version can go stale."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("graph/**/*.py"), *package.glob("codegen/**/*.py"),
                        *package.glob("codegen/c/*")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stored(text: str, inputs, roots, name: str, donate):
    """The Program in `text`, or None (with a warning) when it cannot be what was asked for:
    unreadable, or describing other inputs, outputs or entry point. It is then generated again."""
    try:
        program = Program.from_json(text)
        problem = _mismatch(program, inputs, roots, name, donate)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:   # JSONDecodeError is a ValueError
        problem = f"unreadable ({type(exc).__name__}: {exc})"
    if problem is None:
        return program
    warnings.warn(f"dlgrad: a stored program for {name} is {problem}; it is generated again",
                  RuntimeWarning, stacklevel=4)
    return None


def _mismatch(program: Program, inputs, roots, name: str, donate) -> str | None:
    want_in = tuple((tuple(int(d) for d in shape), str(dtype)) for shape, dtype in inputs)
    want_out = tuple((node.shape, node.dtype) for node in roots)
    if program.inputs != want_in:
        return f"for inputs {program.inputs}, not {want_in}"
    if program.outputs != want_out:
        return f"for outputs {program.outputs}, not {want_out}"
    if program.name != name or not isinstance(program.entry, str) or not isinstance(program.source, str):
        return f"for the entry point {program.entry!r}, not one of {name!r}"
    if not isinstance(program.work_bytes, int) or program.work_bytes < 0:
        return f"using a workspace of {program.work_bytes!r} bytes"
    if not set(program.aliases) <= {tuple(pair) for pair in donate}:
        return f"writing outputs over inputs {program.aliases} not donated ({donate})"
    return None


def _check_inputs(outputs, inputs):
    """Every input node must match its spec, or the C would read the wrong bytes."""
    for node in toposort(outputs):
        if node.op != "input":
            continue
        index = node.attr("index")
        if index >= len(inputs):
            raise ValueError(f"the graph reads input {index} but only {len(inputs)} input specs were given")
        shape, dtype = inputs[index]
        if tuple(shape) != node.shape:
            raise ValueError(f"input {index}: the graph expects shape {node.shape}, the spec says {tuple(shape)}")
        if dtype != node.dtype:
            raise TypeError(f"input {index}: the graph expects {node.dtype}, the spec says {dtype}")


def _prepare(outputs):
    """Simplified outputs (copies where an output owns no kernel), the IR text and the exact IR
    text (every constant bit for bit) that the stored-program key hashes."""
    before = len(toposort(outputs))
    simplified = simplify(list(outputs), final=True)
    head = f"// {before} nodes before simplification, {len(toposort(simplified))} after\n"
    graph_text, exact_text = head + pretty(simplified), head + pretty(simplified, exact=True)
    return _own_kernels(simplified), graph_text, exact_text


def prepare_roots(outputs):
    """`outputs` simplified, each owning a kernel (a loop's step, emitted as a nested program)."""
    return _own_kernels(simplify(list(outputs), final=True))


def _own_kernels(simplified):
    """Outputs that own no kernel (inputs, constants, views, repeats) copied by an identity kernel."""
    roots, seen = [], set()
    for index, node in enumerate(simplified):
        if node.op in ("input", "const", "reshape", "broadcast_to", "permute", "slice", "view") or id(node) in seen:
            node = _copy(node, index)
        seen.add(id(node))
        roots.append(node)
    return roots


def _copy(node, index):
    """A fresh identity node writing output `index` (simplify, which strips these, has run)."""
    return Node.make("stop_gradient", (node,), (("copy", index),), node.shape, node.dtype)


