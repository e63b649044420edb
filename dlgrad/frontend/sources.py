"""Where a traced function's captured values come from: access paths it reads, found in its bytecode.

A Source is a root (a closure cell, a name in a globals dict or an object's __dict__, or a fixed
object) followed by steps (`.attr`, `[constant]`, a registered container's i-th child); `read`
resolves it again on every call. `find_sources(fn)` lists the paths fn's code reads: each
variable it names, extended through `.attr` and `[constant]` as far as its code goes, in fn and
in the plain functions and methods it calls (any module but the libraries), a few levels deep.
"""
from __future__ import annotations

import dis
import os
import sys
import sysconfig
import types
from dataclasses import dataclass

from . import tree

MISSING = object()
_LIBRARIES = ("dlgrad", "numpy", "scipy", "sympy", "cffi", "_pytest", "pytest", "hypothesis")
_LIBRARY_DIRS = tuple({os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")})
FOLLOW_DEPTH = 4
# set on a function dlgrad makes around the user's (dlgrad.optimize): the values it captures are
# those of the function it wraps; its own closure is fixed when it is made
WRAPS = "__dlgrad_wraps__"
# methods that only write to a builtin container: `log.append(x)` in fn does not read log
_WRITES = frozenset({"append", "extend", "insert", "add", "clear", "update", "discard", "appendleft"})


@dataclass(frozen=True, eq=False)
class Source:
    """root[steps]: root is a cell ("closure"), a mapping and a key ("global", "attribute"), or a
    fixed object ("object": the self of a method, a static argument)."""
    place: str
    root: object
    name: object
    steps: tuple = ()   # ("attr", name) | ("item", key) | ("child", i)
    label: str = ""     # how the user's code spells it, for messages

    def key(self):
        """What identifies the path (hashable): two reads of one path share a guard."""
        return (id(self.root), self.name, self.steps)

    def read(self):
        """The value at this path now, or MISSING."""
        if self.place == "closure":
            try:
                value = self.root.cell_contents
            except ValueError:
                return MISSING
        elif self.place == "object":
            value = self.root
        else:
            value = self.root.get(self.name, MISSING)
        for step in self.steps:
            if value is MISSING:
                break
            value = STEPS[step[0]](value, step[1])
        return value


def _attr(value, name):
    namespace = getattr(value, "__dict__", None)   # never runs properties or __getattr__
    if namespace is None or isinstance(value, types.ModuleType) and _is_library(value.__name__):
        return MISSING
    try:
        return namespace.get(name, MISSING)
    except (AttributeError, TypeError):
        return MISSING


def _item(value, key):
    if type(value) in (dict, list, tuple) or tree._is_namedtuple(value):
        try:
            return value[key]
        except (LookupError, TypeError):
            return MISSING
    return MISSING


def _child(value, i):
    node = tree._NODES.get(type(value))
    if node is None:
        return MISSING
    children = node[0](value)[0]
    return children[i] if i < len(children) else MISSING


STEPS = {"attr": _attr, "item": _item, "child": _child}


def _is_library(module_name) -> bool:
    return (module_name or "").startswith(_LIBRARIES) or (module_name or "").split(".")[0] in sys.stdlib_module_names


def user_function(f) -> bool:
    """A plain Python function of the user's code (not of a library or the standard library)."""
    if not isinstance(f, types.FunctionType) or _is_library(f.__module__):
        return False
    filename = os.path.realpath(f.__code__.co_filename)
    return not filename.startswith(_LIBRARY_DIRS) and "site-packages" not in filename


def root_function(fn):
    """(plain function, self or None) behind a function, a bound method or a callable object."""
    if isinstance(fn, types.MethodType):
        return (fn.__func__, fn.__self__) if isinstance(fn.__func__, types.FunctionType) else (None, None)
    if isinstance(fn, types.FunctionType):
        return fn, None
    call = getattr(type(fn), "__call__", None)
    return (call, fn) if isinstance(call, types.FunctionType) else (None, None)


def _method(owner, name):
    """The plain function `owner.name` calls as a method of owner's class, or None."""
    for klass in type(owner).__mro__:
        f = klass.__dict__.get(name, MISSING)
        if f is not MISSING:
            return f if isinstance(f, types.FunctionType) else None
    return None


def _label(base, steps):
    for kind, value in steps:
        base += f".{value}" if kind == "attr" else f"[{value!r}]" if kind == "item" else f"<{value}>"
    return base


def _instructions(code):
    yield from dis.get_instructions(code)
    for const in code.co_consts:   # nested functions, lambdas and comprehensions read the same way
        if isinstance(const, types.CodeType):
            yield from _instructions(const)


def _scope(f, this):
    """(f's closure cells by name, the name of its self argument or None)."""
    code = f.__code__
    cells = dict(zip(code.co_freevars, f.__closure__ or ()))
    first = code.co_varnames[0] if this is not None and code.co_argcount else None
    return cells, first


def _root_of(ins, f, cells, first, this):
    name = ins.argval
    if ins.opname == "LOAD_GLOBAL" and name in f.__globals__:
        return Source("global", f.__globals__, name, (), name)
    if ins.opname in ("LOAD_DEREF", "LOAD_CLASSDEREF") and name in cells:
        return Source("closure", cells[name], name, (), name)
    if ins.opname == "LOAD_FAST" and name == first:
        return Source("object", this, None, (), name)
    return None


def _chains(f, this):
    """(Source, calls_method) of each access path f's code reads; calls_method names a method
    called on the value at the end of the path."""
    cells, first = _scope(f, this)
    found, chain = [], None
    instructions = list(_instructions(f.__code__))
    i = 0
    while i < len(instructions):
        ins = instructions[i]
        following = instructions[i + 1] if i + 1 < len(instructions) else None
        method = ins.opname == "LOAD_METHOD" or (ins.opname == "LOAD_ATTR" and sys.version_info >= (3, 12)
                                                  and ins.arg & 1)
        if chain is not None and ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and not method:
            chain = (chain[0], chain[1] + (("attr", ins.argval),))
        elif (chain is not None and ins.opname == "LOAD_CONST" and following is not None
              and following.opname == "BINARY_SUBSCR" and _hashable(ins.argval)):
            chain = (chain[0], chain[1] + (("item", ins.argval),))
            i += 1
        else:
            if chain is not None:
                root, steps = chain
                found.append((Source(root.place, root.root, root.name, steps, _label(root.label, steps)),
                              ins.argval if method else None))
            root = _root_of(ins, f, cells, first, this)
            chain = (root, ()) if root is not None else None
        i += 1
    if chain is not None:
        root, steps = chain
        found.append((Source(root.place, root.root, root.name, steps, _label(root.label, steps)), None))
    return found


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def find_sources(fn) -> list:
    """The Sources fn reads (one per path, first found first), following the user's functions
    and methods it calls, FOLLOW_DEPTH levels deep."""
    if isinstance(fn, types.FunctionType):
        fn = fn.__dict__.get(WRAPS, fn)
    root, this = root_function(fn)
    if root is None:
        return []
    found, seen, todo = {}, set(), [(root, this, 0)]
    while todo:
        f, owner, depth = todo.pop(0)
        if (id(f), id(owner)) in seen:
            continue
        seen.add((id(f), id(owner)))
        for source, method in _chains(f, owner):
            value = source.read()
            if value is MISSING or isinstance(value, types.ModuleType):
                continue
            if method in _WRITES and isinstance(value, (list, dict, set)):
                continue
            found.setdefault(source.key(), source)
            if depth >= FOLLOW_DEPTH:
                continue
            if user_function(value):   # a helper: read what it reads
                todo.append((value, None, depth + 1))
            elif method is not None and not isinstance(value, type):
                helper = _method(value, method)
                if helper is not None and user_function(helper):
                    todo.append((helper, value, depth + 1))
    return list(found.values())
