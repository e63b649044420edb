"""Nested arguments and results: flatten to leaves, rebuild, and the signature key of a call.

Containers are tuples (namedtuples too), lists and dicts (in insertion order); anything
else is a leaf. Both `flatten` and `signature` visit leaves in the same preorder, so the
i-th runtime array of a signature is the i-th array leaf of `flatten`.
"""
from __future__ import annotations

import numpy as np

from .dlarray import argument_dtype, column_major, dlarray
from .trace import check_usable

LEAF = None

# registered container types: type -> (children(obj) -> (children, aux), rebuild(aux, children) -> obj,
# fields or None)
_NODES: dict = {}


def register_node(kind, children, rebuild, fields=None):
    """Make instances of `kind` containers: children(obj) gives (child list, hashable aux data),
    rebuild(aux, children) the object again (dlnetwork and Learnables use this).

    `fields` lets the native call path read and build such objects itself: a tuple of
    (attribute name, role), role "aux" (the aux data), "children" (a list of all children),
    i (child i) or ("set", value) (set by rebuild, not part of the signature). They must say
    what children and rebuild do, attribute by attribute, in rebuild's order."""
    _NODES[kind] = (children, rebuild, fields)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(obj):
    """(leaves, treedef) of a nested structure; treedef is hashable."""
    leaves = []
    return leaves, _flatten(obj, leaves)


def _flatten(obj, leaves):
    kind = type(obj)
    if kind is tuple or kind is list or _is_namedtuple(obj):
        return (kind, tuple(_flatten(c, leaves) for c in obj))
    if kind in _NODES:
        children, aux = _NODES[kind][0](obj)
        return (kind, aux, tuple(_flatten(c, leaves) for c in children))
    if kind is dict:
        return (dict, tuple(obj), tuple(_flatten(v, leaves) for v in obj.values()))
    leaves.append(obj)
    return LEAF


def unflatten(treedef, leaves):
    """The structure `treedef` describes, with `leaves` in place of its leaves."""
    return _unflatten(treedef, iter(leaves))


def _unflatten(treedef, leaves):
    if treedef is LEAF:
        return next(leaves)
    kind = treedef[0]
    if kind in _NODES:
        return _NODES[kind][1](treedef[1], [_unflatten(d, leaves) for d in treedef[2]])
    if kind is dict:
        return {k: _unflatten(d, leaves) for k, d in zip(treedef[1], treedef[2])}
    children = [_unflatten(d, leaves) for d in treedef[1]]
    if kind is list:
        return children
    return kind(*children) if kind is not tuple else tuple(children)


def builder_source(treedef, leaf_code, namespace) -> str:
    """A Python expression rebuilding `treedef` from the expressions in `leaf_code` (in order).

    Dict keys and namedtuple types are referenced through names added to `namespace`.
    """
    return _source(treedef, iter(leaf_code), namespace)


def template(treedef, leaf_templates):
    """The native call path's result template (runtime/c/fastcall.c) for `treedef` with the
    given leaf templates, or None unless every container is a plain tuple or list."""
    try:
        return _template(treedef, iter(leaf_templates))
    except LookupError:
        return None


def _template(treedef, leaves):
    if treedef is LEAF:
        return next(leaves)
    kind = treedef[0]
    if kind is tuple or kind is list:
        return (TUPLE if kind is tuple else LIST, tuple(_template(d, leaves) for d in treedef[1]))
    fields = _NODES[kind][2] if kind in _NODES else None
    if fields is None:
        raise LookupError(kind)
    children = [_template(d, leaves) for d in treedef[2]]
    values = {"aux": (CONST, treedef[1]), "children": (LIST, tuple(children))}
    return (OBJECT, (kind, tuple((name, (CONST, role[1]) if type(role) is tuple else
                                  values[role] if type(role) is str else children[role])
                                 for name, role in fields)))


# --- argument patterns of the native call path -------------------------------------------------
# fastcall.c's kinds: templates (0, output) | (1, constant) | (2, tuple) | (3, list) | (5, object),
# argument patterns (0, input) | (1, equal constant) | (2, tuple) | (3, list) | (4, ndarray input)
# | (5, object)
LEAF, CONST, TUPLE, LIST, ARRAY, OBJECT = 0, 1, 2, 3, 4, 5


def native_arguments(args):
    """(patterns, formats, logical flags) by which the native call path checks that arguments
    have the signature of `args` (fastcall.c's match_argument), the last two per runtime array in
    signature order; None unless every leaf is an untraced dlarray or a numpy array that needs no
    conversion, in tuples, lists and containers registered with fields."""
    formats, logical = [], []
    try:
        patterns = tuple(_pattern(a, formats, logical) for a in args)
    except LookupError:
        return None
    return patterns, tuple(formats), tuple(logical)


def _pattern(x, formats, logical):
    kind = type(x)
    if kind is dlarray and x._node is None:
        formats.append(x._fmt)
        logical.append(x._logical)
        return (LEAF, len(formats) - 1)
    if kind is np.ndarray and argument_dtype(x.dtype) == x.dtype and x.dtype.isnative:
        formats.append(None)
        logical.append(False)
        return (ARRAY, len(formats) - 1)
    if kind is tuple or kind is list:
        return (TUPLE if kind is tuple else LIST, tuple(_pattern(c, formats, logical) for c in x))
    fields = _NODES[kind][2] if kind in _NODES else None
    if fields is None:
        raise LookupError(kind)
    children, aux = _NODES[kind][0](x)
    out = []
    for name, role in fields:
        if type(role) is tuple:   # set by rebuild only
            continue
        value = getattr(x, name, None)
        if role == "aux" and value is aux:
            out.append((name, (CONST, aux)))
        elif role == "children" and type(value) is list and len(value) == len(children) and all(
                a is b for a, b in zip(value, children)):
            out.append((name, (LIST, tuple(_pattern(c, formats, logical) for c in value))))
        elif type(role) is int and value is children[role]:
            out.append((name, _pattern(value, formats, logical)))
        else:   # the fields do not say what children() does: no native path for it
            raise LookupError(kind)
    return (OBJECT, (kind, tuple(out)))


def _name(namespace, value) -> str:
    name = f"_k{len(namespace)}"
    namespace[name] = value
    return name


def _source(treedef, codes, namespace):
    if treedef is LEAF:
        return next(codes)
    kind = treedef[0]
    if kind in _NODES:
        items = [_source(d, codes, namespace) for d in treedef[2]]
        rebuild, aux = _name(namespace, _NODES[kind][1]), _name(namespace, treedef[1])
        return f"{rebuild}({aux}, [{', '.join(items)}])"
    if kind is dict:
        items = [f"{_name(namespace, k)}: {_source(d, codes, namespace)}" for k, d in zip(treedef[1], treedef[2])]
        return "{" + ", ".join(items) + "}"
    items = [_source(d, codes, namespace) for d in treedef[1]]
    if kind is list:
        return "[" + ", ".join(items) + "]"
    if kind is tuple:
        return "(" + "".join(i + ", " for i in items) + ")"
    return f"{_name(namespace, kind)}({', '.join(items)})"


# --- the signature of a call: structure, array shapes/dtypes, static values --------------------

class TracedArgument(Exception):
    """Raised by `signature` when an argument is already traced (dlfeval nested in a trace)."""


_STATIC = (int, float, bool, complex, str, bytes, type(None))


def static_token(x):
    """(type, value) of a number, string or None, exact to the bit: -0.0 and 0.0 differ, a NaN
    equals itself (`==` says neither)."""
    kind = type(x)
    if kind is float:
        return (kind, x) if x == x and x != 0.0 else (kind, x.hex())
    if isinstance(x, np.generic):
        return (kind, x.tobytes())
    if kind is complex:
        return (kind, x.real.hex(), x.imag.hex())
    if isinstance(x, float):   # a subclass of float
        return (kind, float(x).hex())
    return (kind, x)


def visit(x, tokens, arrays):
    """Append x's signature tokens to `tokens` and its runtime arrays to `arrays`."""
    kind = type(x)
    if kind is dlarray:
        if x._node is not None:
            check_usable(x._trace)
            raise TracedArgument
        data = x._data
        if column_major(data):   # another signature: compiled for MATLAB's memory layout
            tokens.append((data.shape, data.dtype, x._fmt, x._logical, "F"))
        else:   # any layout but C and F is passed as a C copy
            tokens.append((data.shape, data.dtype, x._fmt, x._logical))
            data = data if data.flags.c_contiguous else np.ascontiguousarray(data)
        arrays.append(data)
    elif kind is tuple or kind is list:
        tokens.append((kind, len(x)))
        for child in x:
            visit(child, tokens, arrays)
    elif kind is dict:
        tokens.append((dict, tuple(x)))
        for child in x.values():
            visit(child, tokens, arrays)
    elif kind in _NODES:
        children, aux = _NODES[kind][0](x)
        tokens.append((kind, aux))
        for child in children:
            visit(child, tokens, arrays)
    elif isinstance(x, np.ndarray):
        tokens.append((kind, x.shape, x.dtype))
        arrays.append(np.asarray(x, argument_dtype(x.dtype), order="C"))
    elif kind in _STATIC or isinstance(x, (np.generic, *_STATIC)):
        tokens.append(static_token(x))
    elif isinstance(x, dlarray):
        raise TypeError("subclasses of dlarray cannot be passed to dlfeval")
    elif _is_namedtuple(x):
        tokens.append((kind, len(x)))
        for child in x:
            visit(child, tokens, arrays)
    else:
        try:
            hash(x)
        except TypeError:
            raise TypeError(f"a dlfeval argument of type {kind.__name__} is neither an array nor "
                            "hashable: pass arrays as dlarrays or numpy arrays, other values as "
                            "numbers, strings, None, or tuples/lists/dicts of these") from None
        tokens.append((kind, x))


def signature(args):
    """(key, runtime arrays) of a call's arguments; raises TracedArgument for traced leaves."""
    tokens, arrays = [], []
    for a in args:
        if type(a) is dlarray and a._node is None and a._data.flags.c_contiguous:
            data = a._data
            tokens.append((data.shape, data.dtype, a._fmt, a._logical))
            arrays.append(data)
        else:
            visit(a, tokens, arrays)
    return tuple(tokens), arrays
