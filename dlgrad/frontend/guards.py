"""Guards on captured values: what a compiled entry checks on each hit, and what it feeds.

`walk(value, lifted)` describes a value read from a Source as a hashable token, exact to the bit
(numbers by their bits, small arrays by their bytes, containers, dlnetworks and plain objects by
their contents, functions and other objects by identity), and collects the data of the array
leaves at positions `lifted`: the arrays that are runtime inputs of the entry. An entry raises
Stale when a token differs (the caller retraces); a guard's arrays are fed to the C as inputs.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field

import numpy as np

from . import tree
from .dlarray import column_major, dlarray, to_data
from .sources import MISSING, STEPS, Source

GUARD_MAX_ELEMENTS = 64   # arrays up to this size are compared by value
WALK_MAX_NODES = 4096     # larger values are not guarded to their end (a warning says so)
WALK_MAX_DEPTH = 8
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_OPAQUE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)


class Truncated(Exception):
    """A value too large or too deep to guard to its end."""


def walk(value, lifted=frozenset(), leaves=None):
    """(token, arrays): value's token, and the data of its array leaves (dlarrays and numpy
    arrays, counted in preorder) at the positions in `lifted`; `leaves` collects every array leaf."""
    tokens, arrays = [], []
    state = [0, 0]   # array leaves seen, nodes seen
    try:
        _walk(value, tokens, arrays, lifted, leaves, state, 0)
    except Truncated:
        tokens.append(Truncated)
    return tuple(tokens), arrays


def _walk(x, tokens, arrays, lifted, leaves, state, depth):
    state[1] += 1
    if state[1] > WALK_MAX_NODES or depth > WALK_MAX_DEPTH:
        raise Truncated
    kind = type(x)
    if kind in _SCALARS or isinstance(x, np.generic):
        tokens.append(tree.static_token(x))
    elif kind is dlarray or kind is np.ndarray:
        position = state[0]
        state[0] += 1
        if leaves is not None:
            leaves.append(x)
        if kind is dlarray:
            if x._node is not None:   # a traced value stored by a trace: compared by identity
                tokens.append(("traced", id(x)))
                return
            data, fmt = x._data, x._fmt
        else:
            data, fmt = x, None
        if position in lifted:   # a runtime input: its shape, dtype and memory order are the entry's
            tokens.append((kind, data.shape, data.dtype.str, fmt, column_major(data)))
            arrays.append(data if kind is dlarray else to_data(data))
        elif data.size <= GUARD_MAX_ELEMENTS and data.dtype.kind in "biufc":
            tokens.append((kind, data.shape, data.dtype.str, fmt, data.tobytes()))
        else:   # large and not an input: only read by value (a FrozenCaptureWarning says so)
            tokens.append((kind, data.shape, data.dtype.str, fmt, "frozen"))
    elif kind is tuple or kind is list or kind is dict or tree._is_namedtuple(x):
        items = x.values() if kind is dict else x
        tokens.append((kind, tuple(x) if kind is dict else len(x)))
        for child in items:
            _walk(child, tokens, arrays, lifted, leaves, state, depth + 1)
    elif kind in tree._NODES:
        children, aux = tree._NODES[kind][0](x)
        tokens.append((kind, aux))
        for child in children:
            _walk(child, tokens, arrays, lifted, leaves, state, depth + 1)
    elif _walkable(x):   # a plain object of the user's: its attributes
        namespace = vars(x)
        tokens.append((kind, tuple(namespace)))
        for child in list(namespace.values()):
            _walk(child, tokens, arrays, lifted, leaves, state, depth + 1)
    elif type(x).__eq__ is object.__eq__ and type(x).__hash__ is object.__hash__ or isinstance(x, _OPAQUE):
        tokens.append(("is", x))   # functions (a redefined helper retraces), classes, opaque objects
    else:
        tokens.append(("id", id(x)))


def _walkable(x) -> bool:
    """A plain instance of a class of the user's code, holding its attributes in a __dict__."""
    if isinstance(x, _OPAQUE) or not isinstance(getattr(x, "__dict__", None), dict):
        return False
    module = getattr(type(x), "__module__", "") or ""
    return not module.startswith(("dlgrad", "numpy", "scipy", "builtins"))


@dataclass(eq=False)
class Guard:
    """A Source, its token at trace time, and the positions of its array leaves that are inputs."""
    source: Source
    token: object                  # (source key, walk token): hashable, compared on each hit
    lifted: frozenset = frozenset()
    keep: list = field(default_factory=list)   # objects whose identity the token holds

    @property
    def name(self) -> str:
        return self.source.label

    def current(self):
        """(source key, token) of the value the source holds now."""
        return (self.source.key(), walk(self.source.read(), self.lifted)[0])


def make_guard(source, lifted=frozenset()):
    """The Guard of what source holds now, with the array leaves at `lifted` as inputs."""
    value = source.read()
    keep = []
    if value is not MISSING:
        keep.append(value)
    token, _ = walk(value, lifted)
    return Guard(source, (source.key(), token), frozenset(lifted), keep)


def current_tokens(guards) -> tuple:
    """The tokens the guarded sources have now (the key of the entry traced with them)."""
    return tuple(g.current() for g in guards)


def _plain(value) -> bool:
    """A value `==` compares exactly (not -0.0, NaN, or a numpy scalar)."""
    kind = type(value)
    if kind is float:
        return value == value and value != 0.0
    return kind in (bool, int, str, bytes, type(None))


def _read_source(s, i, namespace) -> str:
    """A Python expression reading source s now (MISSING where its path breaks)."""
    namespace[f"_gw{i}"], namespace[f"_gn{i}"] = s.root, s.name
    read = {"closure": f"_gw{i}.cell_contents", "object": f"_gw{i}"}.get(s.place, f"_gw{i}.get(_gn{i}, MISSING)")
    for k, (kind, key) in enumerate(s.steps):
        namespace[f"_gp{i}_{k}"] = key
        read = f"_step_{kind}({read}, _gp{i}_{k})"
    return read


def guard_source(guards, feeds, namespace, fail="raise Stale"):
    """Lines of the generated call raising Stale when a guarded source changed, and the
    expressions of the fed arrays; `feeds` lists (guard index, array index) in input order.
    Numbers, helpers and single dlarrays are checked inline; other values by their walk.
    A failed check runs `fail`."""
    lines, fed = [], {}
    namespace.update(walk=walk, MISSING=MISSING, D=dlarray, **{f"_step_{k}": f for k, f in STEPS.items()})
    feeding = {g for g, _ in feeds}
    for i, g in enumerate(guards):
        value = g.keep[0] if g.keep else MISSING
        read = _read_source(g.source, i, namespace)
        namespace[f"_gv{i}"], namespace[f"_gk{i}"] = value, type(value)
        if i not in feeding and _plain(value):
            lines.append(f"if not ((x := {read}) is _gv{i} or (x.__class__ is _gk{i} and x == _gv{i})): {fail}")
        elif i not in feeding and g.token[1] == (("is", value),):
            lines.append(f"if {read} is not _gv{i}: {fail}")
        elif type(value) is dlarray and g.lifted == {0}:
            data = value._data
            namespace[f"_gs{i}"], namespace[f"_gd{i}"], namespace[f"_gf{i}"] = data.shape, data.dtype, value._fmt
            namespace[f"_gc{i}"] = not column_major(data)
            lines.append(f"if (x := {read}).__class__ is not D or x._node is not None or x._fmt != _gf{i} or "
                         f"(a{i} := x._data).shape != _gs{i} or a{i}.dtype is not _gd{i} or "
                         f"a{i}.flags.c_contiguous is not _gc{i}: {fail}")
            fed[i] = f"a{i}"
        else:
            namespace[f"_gl{i}"], namespace[f"_gt{i}"] = g.lifted, g.token[1]
            lines.append(f"t{i}, a{i} = walk({read}, _gl{i})")
            lines.append(f"if t{i} != _gt{i}: {fail}")
    return lines, [fed[g] if g in fed else f"a{g}[{k}]" for g, k in feeds]


def feed_source(guards, feeds, namespace):
    """Lines computing the fed arrays without checks (right after a trace, or for a variant whose
    tokens matched), and their expressions."""
    lines = []
    namespace["walk"] = walk
    for i in sorted({g for g, _ in feeds}):
        namespace[f"_fs{i}"], namespace[f"_fl{i}"] = guards[i].source, guards[i].lifted
        lines.append(f"a{i} = walk(_fs{i}.read(), _fl{i})[1]")
    return lines, [f"a{g}[{k}]" for g, k in feeds]
