"""Capturing a Python function as a graph: run it once on traced proxies, collect its outputs.

`capture(fn, args)` gives the output nodes and input specs; `make_call(captured, run)`
turns a backend's `run(*arrays) -> [arrays]` into the cached entry `call(arrays) -> result`,
a generated function that rebuilds fn's result structure around the fresh arrays.
"""
from __future__ import annotations

import types
import warnings
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
    guards: list = field(default_factory=list)   # captured values checked on every hit


# --- guards on values read from closures and globals --------------------------------------------
# What the objective reads from its closure cells and from the globals its code names is frozen
# into the trace. Scalars, short tuples of them and small arrays are guarded: the entry records
# them (as they are after the trace) and a hit on which one changed raises Stale, and the caller
# retraces. Larger arrays get a warning at trace time. Attributes read as `obj.attr` of such a
# variable (or of a method's self) are guarded the same way, through obj's __dict__.

GUARD_MAX_ELEMENTS = 64
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_SKIP_MODULES = ("dlgrad", "numpy", "scipy")
_MISSING = object()


class Stale(Exception):
    """A guarded entry was called after a value it captured changed: retrace."""


class FrozenCaptureWarning(UserWarning):
    """A large array read from a closure or a global is frozen into the compiled function."""


@dataclass(frozen=True)
class Guard:
    where: object   # a closure cell or a globals dict
    name: str       # the variable
    kind: str       # "scalar", "sequence", "array" or "dlarray"
    token: object   # hashable description of the value at trace time
    value: object   # the value (or a copy, for lists) compared against


def _root_function(fn):
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType):
        fn = getattr(type(fn), "__call__", None)
    return fn if isinstance(fn, types.FunctionType) else None


def _code_names(code, names: set) -> None:
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, names)


def _attribute_reads(f, this):
    """(object's __dict__, attribute, value) of each `obj.attr` f's own code reads where obj is a
    global, a closure variable or (`this`, for a method) its first argument and attr is in
    obj's own __dict__ (no properties run, no methods)."""
    import dis
    code, env = f.__code__, f.__globals__
    cells = dict(zip(code.co_freevars, f.__closure__ or ()))
    first = code.co_varnames[0] if this is not None and code.co_argcount else None
    found, previous = [], None
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_ATTR" and previous is not None:
            owner = _MISSING
            if previous.opname == "LOAD_GLOBAL":
                owner = env.get(previous.argval, _MISSING)
            elif previous.opname == "LOAD_DEREF" and previous.argval in cells:
                try:
                    owner = cells[previous.argval].cell_contents
                except ValueError:
                    pass
            elif previous.opname == "LOAD_FAST" and previous.argval == first:
                owner = this
            namespace = getattr(owner, "__dict__", None)
            library = isinstance(owner, types.ModuleType) and owner.__name__.startswith(_SKIP_MODULES)
            if owner is not _MISSING and isinstance(namespace, dict) and ins.argval in namespace and not library:
                found.append((namespace, ins.argval, namespace[ins.argval]))
        previous = ins
    return found


def _reads(fn):
    """(where, name, value, place) of each closure cell, named global and attribute of those (or
    of a method's self) fn reads; follows the plain functions of fn's own module it names, a
    few levels deep."""
    root = _root_function(fn)
    if root is None:
        return []
    this = fn.__self__ if isinstance(fn, types.MethodType) else None if isinstance(fn, types.FunctionType) else fn
    module = root.__module__
    found, seen, todo = {}, set(), [(root, 0)]
    while todo:
        f, depth = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        code, env = f.__code__, f.__globals__
        items = []
        for var, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                items.append((cell, var, cell.cell_contents, "closure"))
            except ValueError:   # an empty cell
                pass
        names = set()
        _code_names(code, names)
        items += [(env, n, env[n], "global") for n in sorted(names) if n in env]
        items += [(where, n, value, "attribute") for where, n, value in
                  _attribute_reads(f, this if f is root else None)]
        for where, name, value, place in items:
            if isinstance(value, types.FunctionType):
                if depth < 4 and value.__module__ == module and not (value.__module__ or "").startswith(
                        _SKIP_MODULES):
                    todo.append((value, depth + 1))
                continue
            found.setdefault((id(where), name), (where, name, value, place))
    return list(found.values())


def _token(value):
    """(kind, hashable token, value to compare) for a guardable value; (None, size) if too large."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, np.generic):
        return "scalar", (kind, value), value
    if kind is tuple and len(value) <= GUARD_MAX_ELEMENTS and all(type(v) in _SCALARS for v in value):
        return "sequence", (kind, value), value   # lists are not guarded: they are often logs fn appends to
    if isinstance(value, dlarray):
        if value._node is not None:
            return None, None, None
        data, kind = value._data, "dlarray"
    elif isinstance(value, np.ndarray):
        data, kind = value, "array"
    else:
        return None, None, None
    if data.dtype.kind not in "biufc":
        return None, None, None
    if data.size > GUARD_MAX_ELEMENTS:
        return "large", data, None
    return kind, (type(value), data.shape, data.dtype.str, data.tobytes()), data.copy()


def _user_level() -> int:
    """The stacklevel of the first caller outside dlgrad (warnings point at the user's call)."""
    import os
    import sys
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def guards_for(fn) -> list:
    """The guards of fn's captured values; warns about the large arrays it reads."""
    guards = []
    for where, name, value, place in _reads(fn):
        kind, token, compared = _token(value)
        if kind is None:
            continue
        if kind == "large":
            label = getattr(fn, "__qualname__", None) or type(fn).__name__
            warnings.warn(
                f"dlgrad: {label} reads the {token.dtype} array {name!r} of shape {token.shape} from "
                f"its {place}s; its value is frozen into the compiled function when it is traced, and "
                f"later changes to it are not seen. Pass it to dlfeval as an argument instead.",
                FrozenCaptureWarning, stacklevel=_user_level())
            continue
        guards.append(Guard(where, name, kind, (id(where), name, token), compared))
    return guards


def current_tokens(guards) -> tuple:
    """The tokens the guarded variables have now (the key of the entry traced with them)."""
    tokens = []
    for g in guards:
        try:
            value = g.where.cell_contents if isinstance(g.where, types.CellType) else g.where.get(
                g.name, _MISSING)
        except ValueError:
            value = _MISSING
        kind, token, _ = _token(value)
        tokens.append((id(g.where), g.name, token if kind not in (None, "large") else id(value)))
    return tuple(tokens)


def _guard_source(guards, namespace) -> list:
    """Lines raising Stale when a guarded variable no longer holds its value."""
    lines = []
    for i, g in enumerate(guards):
        where = f"_gw{i}"
        namespace[where], namespace[f"_gn{i}"], namespace[f"_gv{i}"] = g.where, g.name, g.value
        read = (f"{where}.cell_contents" if isinstance(g.where, types.CellType)
                else f"{where}.get(_gn{i}, MISSING)")
        if g.kind == "scalar" or g.kind == "sequence":
            namespace[f"_gt{i}"] = type(g.value)
            test = f"(x := {read}) is _gv{i} or (x.__class__ is _gt{i} and x == _gv{i})"
        else:
            namespace[f"_gt{i}"] = g.token[2][0]
            namespace[f"_gs{i}"], namespace[f"_gd{i}"], namespace[f"_gb{i}"] = g.token[2][1:]
            data = "x" if g.kind == "array" else "x._data"
            pre = "" if g.kind == "array" else "x._node is None and "
            test = (f"(x := {read}).__class__ is _gt{i} and {pre}{data}.shape == _gs{i} and "
                    f"{data}.dtype.str == _gd{i} and {data}.tobytes() == _gb{i}")
        lines.append(f"    if not ({test}): raise Stale")
    return lines


def capture(fn, args, kwargs=None) -> Captured:
    """Run fn once with every array leaf of args (and kwargs) replaced by a traced dlarray."""
    leaves, treedef = tree.flatten((args, kwargs) if kwargs else args)
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
        rebuilt = tree.unflatten(treedef, proxies)
        result = fn(*rebuilt[0], **rebuilt[1]) if kwargs else fn(*rebuilt)
    guards = guards_for(fn)   # after the trace: what fn itself assigns (a call counter) is not a change
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
    return Captured(specs, outputs, out_def, kinds, fmts, guards)


def make_call(captured: Captured, run):
    """call(arrays) -> fn's result structure holding new untraced dlarrays from run(*arrays).

    With guards, call raises Stale when a captured value changed; call.unguarded skips the check
    and call.guards lists them.
    """
    namespace = {"run": run, "new": object.__new__, "D": dlarray, "copy": np.array,
                 "Stale": Stale, "MISSING": _MISSING}
    # a compiled run names its outputs o0, o1, ... and takes the wrapping into its own frame
    returning = getattr(run, "returning", None)
    output = "o{}" if returning is not None else "o[{}]"
    wrap, codes, leaves = [], [], []   # leaves: the native call path's leaf templates
    for kind, value in captured.leaves:
        if kind == "array":
            i = value
            fmt = captured.formats[i] if i < len(captured.formats) else None
            wrap.append(f"x{i} = new(D); x{i}._data = {output.format(i)}; x{i}._node = x{i}._trace = None; "
                        f"x{i}._fmt = {fmt!r}")
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
    if not captured.guards:
        call = namespace["unguarded"]
    else:
        checked = ["def call(arrays):", *_guard_source(captured.guards, namespace), "    return unguarded(arrays)"]
        exec(compile("\n".join(checked), "<dlgrad dlfeval result>", "exec"), namespace)
        call = namespace["call"]
    call.unguarded, call.guards = namespace["unguarded"], captured.guards
    call.entry = call.native = None
    call.fast = call.fast_args = None   # generated calls, built on demand (False: none possible)
    if returning is not None and not captured.guards:
        def entry(head, names):
            """The call as one frame taking the caller's own arguments (see CompiledFunction.returning)."""
            return returning(wrap, {**{k: v for k, v in namespace.items() if k != "run"}, **names}, head)
        call.entry = entry
        call.native = _native(run, captured, leaves, wrap, namespace)
    return call


_SLOTS = (dlarray._data, dlarray._node, dlarray._trace, dlarray._fmt)


def _native(run, captured, leaves, wrap, namespace):
    """native(formats, counter, miss) -> the call as a native Dispatcher taking dlarrays with
    those formats (None where there is no native call path); see CompiledFunction.native."""
    n = len(captured.outputs)
    formats = tuple(captured.formats[i] if i < len(captured.formats) else None for i in range(n))
    template = None if None in leaves else tree.template(captured.treedef, leaves)

    def native(in_formats, counter, miss):
        build = None
        if template is None:   # the result is built by the wrapping lines, in Python
            outs = "".join(f"o{i}, " for i in range(n))
            source = "\n".join([f"def build({outs}):", *(f"    {line}" for line in wrap)])
            scope = {k: v for k, v in namespace.items() if k != "run"}
            exec(compile(source, "<dlgrad native result>", "exec"), scope)
            build = scope["build"]
        return run.native(dlarray, _SLOTS, in_formats, formats, template, build, miss, counter)
    return native
