"""Capturing a Python function as a graph: run it once on traced proxies, collect its outputs.

`capture(fn, args)` gives the output nodes and input specs; `make_call(captured, run)`
turns a backend's `run(*arrays) -> [arrays]` into the cached entry `call(arrays) -> result`,
a generated function that rebuilds fn's result structure around the fresh arrays.
"""
from __future__ import annotations

import types
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import TraceError
from ..graph.node import INDEX_DTYPE
from ..graph.registry import apply, const, input_node
from . import random, tree
from .dlarray import argument_dtype, column_major, dlarray, to_data, wrap_traced
from .guards import (GUARD_MAX_ELEMENTS, WALK_MAX_DEPTH, WALK_MAX_NODES, Truncated, _walkable,
                     current_tokens, feed_source, guard_source, make_guard, walk)
from .sources import MISSING, Source, find_sources, user_function
from .trace import Trace

__all__ = ["Captured", "FrozenCaptureWarning", "Stale", "capture", "current_tokens", "make_call"]


@dataclass
class Captured:
    """One traced call: runtime input specs, output nodes, and how to rebuild the result."""
    specs: list         # [(shape, dtype name)] of the runtime inputs, in leaf order
    outputs: list       # output Nodes, in leaf order
    treedef: object     # structure of fn's result
    leaves: list        # per result leaf: ("array", i) for output i, ("static", value)
    formats: list = field(default_factory=list)  # data format (or None) of each output
    logical: list = field(default_factory=list)  # whether each output holds logical data (at trace time)
    guards: list = field(default_factory=list)   # captured values checked on every hit
    feeds: list = field(default_factory=list)    # per captured input (after the specs of the
    # arguments' arrays): (guard, array) of the guard whose walk gives its data on each call
    key_input: Optional[int] = None   # the input the random stream's key feeds (frontend/random.py)
    fortran: tuple = ()       # per runtime input: its array is column-major (its spec the reversed shape)
    out_fortran: tuple = ()   # per output: column-major, written over a donated column-major input


def column_major_input(index, shape, dtype, fortran):
    """The node standing for a runtime input: a column-major array is the C array of the reversed
    shape (the same memory), seen through a permute that the rewriter cancels where it can."""
    if not fortran:
        return input_node(index, shape, dtype), None
    node = input_node(index, tuple(shape)[::-1], dtype)
    return node, apply("permute", node, axes=tuple(range(len(shape)))[::-1])


# --- captured values -------------------------------------------------------------------------
# What the objective reads from closures, globals, attributes and static arguments is frozen into
# the trace unless it is guarded or an input. Before the trace, the dlarrays (and the numpy arrays
# above GUARD_MAX_ELEMENTS) reachable from every Source fn reads are candidates: one that meets an
# operation becomes an input node, and each call feeds the array its Source holds then. After the
# trace, every Source becomes a Guard on its value (numbers by bits, small arrays by bytes,
# containers and objects by contents, helpers by identity, inputs by shape and dtype).


class Stale(Exception):
    """A guarded entry was called after a value it captured changed: retrace."""


class FrozenCaptureWarning(UserWarning):
    """A value read from a closure, a global or an attribute is frozen into the compiled function."""


def _worth_guarding(value) -> bool:
    if value is MISSING or isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType)):
        return False
    if isinstance(value, types.FunctionType):
        return user_function(value)
    if isinstance(value, (types.MethodType, types.MethodWrapperType, types.MethodDescriptorType)):
        return False
    return True


def _memory(x):
    """The array holding x's value: candidates are known by it, not by the dlarray object, since
    an operation that changes nothing returns a new dlarray sharing the data (dlarray.rebox)."""
    return x._data if type(x) is dlarray else x


class Capturing:
    """A trace's candidates for captured inputs (by the identity of their memory) and the ones it
    lifted to inputs."""

    __slots__ = ("sources", "candidates", "lifted")

    def __init__(self, sources):
        self.sources, self.candidates, self.lifted = sources, {}, {}
        for source in sources:
            leaves = []
            walk(source.read(), leaves=leaves)
            for leaf in leaves:
                memory = _memory(leaf)
                if memory is not None and (type(leaf) is dlarray or
                                           leaf.size > GUARD_MAX_ELEMENTS and leaf.dtype.kind in "biuf"):
                    self.candidates[id(memory)] = memory

    def has(self, x) -> bool:
        memory = _memory(x)
        return memory is not None and self.candidates.get(id(memory)) is memory

    def node(self, x, trace):
        """The input node standing for candidate x (made at its first use), or None."""
        if not self.has(x):
            return None
        found = self.lifted.get(id(_memory(x)))
        if found is None:
            data = x._data if type(x) is dlarray else to_data(x)
            if data is None:
                return None
            index = len(trace.inputs)
            node, seen = column_major_input(index, data.shape, data.dtype.name, column_major(data))
            trace.inputs.append(node)
            found = self.lifted[id(_memory(x))] = (x, node if seen is None else seen, index)
        return found[1]

    def finish(self, fn, first_input):
        """(guards, feeds) after the trace: a guard per source (what fn itself assigned during the
        trace is not a change), and for each lifted input in order, (guard, array) feeding it."""
        label = getattr(fn, "__qualname__", None) or type(fn).__name__
        # by rank: a random draw's key (frontend/random.py) may sit among the lifted inputs
        inputs = {id(_memory(x)): rank for rank, (x, _, _) in enumerate(self.lifted.values())}
        guards, feeds = [], [None] * len(inputs)
        for source in self.sources:
            value = source.read()
            if not _worth_guarding(value):
                continue
            leaves = []
            token, _ = walk(value, leaves=leaves)
            lifted = [p for p, leaf in enumerate(leaves) if _memory(leaf) is not None
                      and _memory(self.lifted.get(id(_memory(leaf)), (None,))[0]) is _memory(leaf)]
            for rank, p in enumerate(lifted):
                k = inputs[id(_memory(leaves[p]))]
                if feeds[k] is None:
                    feeds[k] = (len(guards), rank)
            _warn_frozen(label, source, value, token, bool(lifted))
            guards.append(make_guard(source, frozenset(lifted)))
        if None in feeds:   # fn dropped a value it read: no source holds it any more
            raise TraceError(f"{label} removed a captured dlarray from where it read it during its trace; "
                             "pass it as an argument instead")
        return guards, feeds


def _warn_frozen(label, source, value, token, lifted):
    """Warn (at trace time) when a large array source is read by value, or a value is too large
    to guard to its end."""
    where = ("its attributes" if source.steps and source.steps[-1][0] == "attr" else
             "an argument" if source.place == "object" else f"its {source.place}s")
    if Truncated in token:
        warnings.warn(f"dlgrad: {label} reads {source.label!r} from {where}, which holds more than "
                      f"{WALK_MAX_NODES} values or nests deeper than {WALK_MAX_DEPTH}: later changes "
                      f"to its deeper parts are not seen. Pass what it needs as arguments instead.",
                      FrozenCaptureWarning, stacklevel=_user_level())
        return
    data = value._data if type(value) is dlarray else value if type(value) is np.ndarray else None
    if data is not None and data.size > GUARD_MAX_ELEMENTS and not lifted:
        warnings.warn(
            f"dlgrad: {label} reads the {data.dtype} array {source.label!r} of shape {data.shape} from "
            f"{where}; its value is frozen into the compiled function when it is traced, and "
            f"later changes to it are not seen. Pass it to dlfeval as an argument instead.",
            FrozenCaptureWarning, stacklevel=_user_level())


def _user_level() -> int:
    """The stacklevel of the first caller outside dlgrad (warnings point at the user's call)."""
    import os
    import sys
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _static_sources(leaves) -> list:
    """Plain objects of the user's passed as static arguments: guarded by their contents."""
    return [Source("object", leaf, None, (), f"argument of type {type(leaf).__name__}")
            for leaf in leaves if _walkable(leaf)]


def capture(fn, args, kwargs=None, lift: bool = True) -> Captured:
    """Run fn once with every array leaf of args (and kwargs) replaced by a traced dlarray.

    With `lift`, the dlarrays (and large numpy arrays) fn reaches through what it reads become
    runtime inputs after those of args (Captured.feeds); without, they are constants.
    Keyword arguments (kwargs) are traced like positional ones.
    """
    leaves, treedef = tree.flatten((args, kwargs) if kwargs else args)
    trace = Trace()
    specs, proxies, fortran = [], [], []
    for leaf in leaves:
        if isinstance(leaf, dlarray):
            shape, dtype = leaf.shape, leaf.dtype.name
        elif isinstance(leaf, np.ndarray):
            shape, dtype = leaf.shape, argument_dtype(leaf.dtype).name
        else:
            proxies.append(leaf)
            continue
        # as tree.signature passes it: a dlarray's column-major data as it is, numpy arrays as C
        fortran.append(isinstance(leaf, dlarray) and leaf._data is not None and column_major(leaf._data))
        node, seen = column_major_input(len(specs), shape, dtype, fortran[-1])
        trace.inputs.append(node)
        specs.append((tuple(node.shape), dtype))
        proxy = wrap_traced(node if seen is None else seen, trace)
        proxy._fmt = getattr(leaf, "_fmt", None)
        proxy._logical = getattr(leaf, "_logical", False)
        proxies.append(proxy)
    capturing = Capturing(find_sources(fn) + _static_sources(leaves))
    if lift and capturing.candidates:
        trace.captures = capturing
    with trace:
        rebuilt = tree.unflatten(treedef, proxies)
        result = fn(*rebuilt[0], **rebuilt[1]) if kwargs else fn(*rebuilt)
    out_leaves, out_def = tree.flatten(result)
    outputs, kinds, fmts, logical = [], [], [], []
    for leaf in out_leaves:
        if isinstance(leaf, dlarray):
            if leaf._node is None:
                node = capturing.node(leaf, trace) if lift else None
                if node is None:
                    node = const(leaf._data, leaf._data.dtype.name)
            elif leaf._trace is not trace:
                raise TraceError("the function returned a dlarray traced by another dlfeval; "
                                 "return only values computed from its own arguments")
            else:
                node = leaf._node
                if node.dtype == INDEX_DTYPE:   # an index argument returned: a dlarray holds floats
                    node = apply("cast", node, dtype="float64")
            kinds.append(("array", len(outputs)))
            outputs.append(node)
            fmts.append(leaf._fmt)
            logical.append(leaf._logical)
        else:
            kinds.append(("static", leaf))
    # after the trace: what fn itself assigns (a call counter) is not a change
    guards, feeds = capturing.finish(fn, len(specs))
    for x, _, _ in capturing.lifted.values():
        data = x._data if type(x) is dlarray else to_data(x)
        fortran.append(column_major(data))
        specs.append((tuple(data.shape[::-1] if fortran[-1] else data.shape), data.dtype.name))
    key_input = random.trace_key_index(trace)
    if key_input is not None:
        specs.insert(key_input, ((2,), INDEX_DTYPE))
        fortran.insert(key_input, False)
    return Captured(specs, outputs, out_def, kinds, fmts, logical, guards, feeds, key_input,
                    tuple(fortran), (False,) * len(outputs))


def make_call(captured: Captured, run):
    """call(arrays) -> fn's result structure holding new untraced dlarrays from run(*arrays).

    With guards, call raises Stale when a captured value changed; call.unguarded skips the check
    and call.guards lists them.
    """
    if captured.key_input is not None:   # draws random numbers: the stream's key joins each call
        run = random.keyed(run, captured.key_input)
    namespace = {"run": run, "new": object.__new__, "D": dlarray, "copy": np.array, "Stale": Stale}
    # a compiled run names its outputs o0, o1, ... and takes the wrapping into its own frame
    returning = getattr(run, "returning", None)
    output = "o{}" if returning is not None else "o[{}]"
    wrap, codes, leaves = [], [], []   # leaves: the native call path's leaf templates
    for kind, value in captured.leaves:
        if kind == "array":
            i = value
            fmt = captured.formats[i] if i < len(captured.formats) else None
            logical = i < len(captured.logical) and captured.logical[i]
            wrap.append(f"x{i} = new(D); x{i}._data = {output.format(i)}; x{i}._node = x{i}._trace = None; "
                        f"x{i}._fmt = {fmt!r}; x{i}._logical = {logical!r}")
            codes.append(f"x{i}")
            leaves.append((0, i))
        else:
            name = f"_s{len(namespace)}"
            namespace[name] = value
            # arrays among static results are copied so that callers never share them
            codes.append(f"copy({name})" if isinstance(value, np.ndarray) else name)
            leaves.append(None if isinstance(value, np.ndarray) else (1, value))
    wrap.append(f"return {tree.builder_source(captured.treedef, codes, namespace)}")
    if returning is not None:
        namespace["unguarded"] = returning(wrap, {k: v for k, v in namespace.items() if k != "run"})
    else:
        body = ["def unguarded(arrays):", "    o = run(*arrays)", *(f"    {line}" for line in wrap)]
        exec(compile("\n".join(body), "<dlgrad dlfeval result>", "exec"), namespace)
    guards, feeds = captured.guards, captured.feeds
    if feeds:   # the captured inputs' arrays follow the arguments'
        namespace["inner"] = namespace["unguarded"]
        lines, fed = feed_source(guards, feeds, namespace)
        source = ["def unguarded(arrays):", *(f"    {line}" for line in lines),
                  f"    return inner([*arrays, {', '.join(fed)}])"]
        exec(compile("\n".join(source), "<dlgrad dlfeval captured inputs>", "exec"), namespace)
    if not guards:
        call = namespace["unguarded"]
    else:
        lines, fed = guard_source(guards, feeds, namespace)
        tail = f"inner([*arrays, {', '.join(fed)}])" if feeds else "unguarded(arrays)"
        source = ["def call(arrays):", *(f"    {line}" for line in lines), f"    return {tail}"]
        exec(compile("\n".join(source), "<dlgrad dlfeval guards>", "exec"), namespace)
        call = namespace["call"]
    call.unguarded, call.guards = namespace["unguarded"], captured.guards
    call.entry = call.native = None
    call.fast = None   # the generated or native call, built on demand (False: none possible)
    if returning is not None and not feeds:
        def entry(head, names, miss=None):
            """The call as one frame taking the caller's own arguments (see CompiledFunction.returning);
            with guards, a changed captured value runs `miss` (the caller's path for other arguments)."""
            scope = {k: v for k, v in namespace.items() if k not in ("run", "call", "__builtins__")}
            if guards:
                if miss is None:
                    return None
                checks, _ = guard_source(guards, (), scope, miss)
                head = (head[0], [*checks, *head[1]])
            return returning(wrap, {**scope, **names}, head)
        call.entry = entry
        call.native = _native(run, captured, leaves, wrap, namespace)
    return call


_SLOTS = (dlarray._data, dlarray._node, dlarray._trace, dlarray._fmt, dlarray._logical)


def _native(run, captured, leaves, wrap, namespace):
    """native(formats, counter, miss, logical, arguments) -> the call as a native Dispatcher taking
    dlarrays with those formats and logical flags, or structures matching `arguments` (patterns,
    see tree.native_arguments) with such leaves (None where there is no native call path); see
    CompiledFunction.native. The outputs' logical flags were decided at trace time; the captured
    values' guards (no captured inputs here) are checked by a generated guard() per call."""
    n = len(captured.outputs)
    formats = tuple(captured.formats[i] if i < len(captured.formats) else None for i in range(n))
    out_logical = tuple(i < len(captured.logical) and captured.logical[i] for i in range(n))
    template = None if None in leaves else tree.template(captured.treedef, leaves)

    def native(in_formats, counter, miss, in_logical, arguments=None):
        build = None
        if template is None:   # the result is built by the wrapping lines, in Python
            outs = "".join(f"o{i}, " for i in range(n))
            source = "\n".join([f"def build({outs}):", *(f"    {line}" for line in wrap)])
            scope = {k: v for k, v in namespace.items() if k not in ("run", "call", "__builtins__")}
            exec(compile(source, "<dlgrad native result>", "exec"), scope)
            build = scope["build"]
        extra = {k: v for k, v in (("arguments", arguments), ("guard", _guard(captured.guards, namespace)))
                 if v is not None}
        return run.native(dlarray, _SLOTS, in_formats, formats, template, build, miss, counter,
                          in_logical, out_logical, **extra)
    return native


def _guard(guards, namespace):
    """guard() -> whether every captured value is as traced (the native path's check), or None."""
    if not guards:
        return None
    scope = {k: v for k, v in namespace.items() if k not in ("run", "call", "__builtins__")}
    lines, _ = guard_source(guards, (), scope, "return False")
    source = "\n".join(["def guard():", *(f"    {line}" for line in lines), "    return True"])
    exec(compile(source, "<dlgrad native guard>", "exec"), scope)
    return scope["guard"]
