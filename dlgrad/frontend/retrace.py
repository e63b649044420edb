"""Retraces caused by a changing static argument: noticed, and warned about once per function.

Numbers, strings and None among the arguments are static: their values are part of the
signature, so a learning rate passed as a Python float that decays every step compiles a new
program every step. StaticHistory sees each miss; when one function has been traced again
STATIC_RETRACE_WARNING times for calls that differ only in static values, it warns, naming
the argument and the fix (pass a dlarray).
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from .capture import _user_level
from .dlarray import dlarray
from .tree import flatten

STATIC_RETRACE_WARNING = 4   # retraces for new static values of one call shape before the warning
_KEPT = 32                   # call shapes remembered per function


class RetraceWarning(RuntimeWarning):
    """A function was traced and compiled again and again for new values of a static argument."""


def label(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


class StaticHistory:
    """Per call shape (structure and array shapes, static values left out): the static values
    of the last miss and how many misses changed only those."""

    __slots__ = ("shapes", "warned")

    def __init__(self):
        self.shapes = {}
        self.warned = False

    def record(self, fn, args, kwargs):
        if self.warned:
            return
        parts = [(i, a) for i, a in enumerate(args)] + [(k, v) for k, v in sorted((kwargs or {}).items())]
        shape, statics = [], []
        for where, value in parts:
            skeleton, values = _split(value)
            shape.append((where, skeleton))
            statics.append(values)
        shape = tuple(shape)
        previous = self.shapes.pop(shape, None)
        if previous is None:
            count = 0
            if len(self.shapes) >= _KEPT:
                del self.shapes[next(iter(self.shapes))]
        else:
            count = previous[0] + 1
        self.shapes[shape] = (count, statics)
        if count >= STATIC_RETRACE_WARNING:
            changed = [where for (where, _), new, old in zip(parts, statics, previous[1]) if new != old]
            self.warned = True
            warnings.warn(_message(fn, args, kwargs, changed, count), RetraceWarning, stacklevel=_user_level())


def _split(value):
    """(hashable skeleton of value with its static leaves left out, tuple of those leaves)."""
    leaves, treedef = flatten(value)
    skeleton, statics = [], []
    for leaf in leaves:
        if isinstance(leaf, dlarray):
            skeleton.append((leaf.shape, leaf.dtype.str, leaf._fmt))
        elif isinstance(leaf, np.ndarray):
            skeleton.append((leaf.shape, leaf.dtype.str))
        else:
            skeleton.append(None)
            statics.append((type(leaf), repr(leaf)))
    return (repr(treedef), tuple(skeleton)), tuple(statics)


def _message(fn, args, kwargs, changed, count) -> str:
    names = _parameter_names(fn)
    described = []
    for where in changed:
        if isinstance(where, str):
            value, name = kwargs[where], f"keyword argument {where!r}"
        else:
            value = args[where]
            name = f"argument {where + 1}" + (f" ({names[where]})" if where < len(names) else "")
        kind = type(value).__name__
        described.append(f"{name}, now {value!r} (a Python {kind})" if not isinstance(value, (tuple, list, dict))
                         else f"{name} (a {kind} holding numbers or strings)")
    what = "; ".join(described) or "a static argument"
    return (f"dlgrad: {label(fn)} was traced and compiled again {count} times because the value of {what} "
            f"changed. Python numbers, strings and None are static: their values are part of the "
            f"signature, and each new value compiles a new program. Pass a value that changes from call "
            f"to call as a dlarray (for example dlarray(lr)): it is then a runtime input of one compiled "
            f"program.")


def _parameter_names(fn) -> list:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
