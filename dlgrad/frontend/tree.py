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

# registered container types: type -> (children(obj) -> (children, aux), rebuild(aux, children) -> obj)
_NODES: dict = {}


def register_node(kind, children, rebuild):
    """Make instances of `kind` containers: children(obj) gives (child list, hashable aux data),
    rebuild(aux, children) the object again (dlnetwork and Learnables use this)."""
    _NODES[kind] = (children, rebuild)


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
        return (2 if kind is tuple else 3, tuple(_template(d, leaves) for d in treedef[1]))
    raise LookupError(kind)


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
