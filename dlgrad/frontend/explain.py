"""Why a call missed the signature cache: DLGRAD_EXPLAIN=1 and AcceleratedFunction.explain().

On each miss (never on a hit) the cache describes the call — per argument, its structure, each
array's kind, shape, dtype and format, each static value — and compares it with the closest call
traced before, naming what differs: an argument's shape, dtype or format, a new static value, a
changed structure. A miss caused by a changed captured value (a global, closure or attribute the
function reads) names that value. With DLGRAD_EXPLAIN=1 each explanation is also logged (logger
"dlgrad", level WARNING). JAX's jax_explain_cache_misses is the model.
"""
from __future__ import annotations

import inspect
import logging
import os

import numpy as np

from . import tree
from .dlarray import column_major, dlarray
from .sources import MISSING

ENV = "DLGRAD_EXPLAIN"
KEPT = 50   # calls remembered, and explanations kept, per cache
logger = logging.getLogger("dlgrad")


class Misses:
    """What a cache remembers for explaining: descriptions of the calls it traced, newest last,
    and the explanations of its misses."""

    __slots__ = ("seen", "explanations")

    def __init__(self):
        self.seen, self.explanations = [], []

    def add(self, text: str) -> str:
        if len(self.explanations) >= KEPT:
            del self.explanations[0]
        self.explanations.append(text)
        if os.environ.get(ENV, "").strip() not in ("", "0"):
            logger.warning("%s", text)
        return text

    def traced(self, description: dict) -> None:
        if len(self.seen) >= KEPT:
            del self.seen[0]
        self.seen.append(description)


def label(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


# --- describing a call ---------------------------------------------------------------------------

def describe(fn, args, kwargs) -> dict:
    """{where: what} for the call and each container and leaf of its arguments, in order."""
    names = _parameter_names(fn)
    found = {"the call": ("call", len(args), tuple(sorted(kwargs or ())))}
    for i, value in enumerate(args):
        where = f"argument {i + 1}" + (f" ({names[i]})" if i < len(names) else "")
        _describe(value, where, found)
    for name in sorted(kwargs or ()):
        _describe(kwargs[name], f"keyword argument {name!r}", found)
    return found


def _describe(x, where, found):
    kind = type(x)
    if kind is dlarray or isinstance(x, np.ndarray):
        data = x._data if kind is dlarray else x
        if kind is dlarray and x._node is not None:
            found[where] = ("traced", x.shape, str(x.dtype))
        else:
            found[where] = ("array", "dlarray" if kind is dlarray else "numpy array", data.shape, str(data.dtype),
                            x._fmt if kind is dlarray else None,
                            "column-major" if kind is dlarray and column_major(data) else "row-major")
    elif kind is tuple or kind is list or tree._is_namedtuple(x):
        found[where] = ("container", kind.__name__, len(x))
        for i, child in enumerate(x):
            _describe(child, f"{where}[{i}]", found)
    elif kind is dict:
        found[where] = ("container", "dict", tuple(x))
        for key, child in x.items():
            _describe(child, f"{where}[{key!r}]", found)
    elif kind in tree._NODES:
        children, aux = tree._NODES[kind][0](x)
        found[where] = ("container", kind.__name__, _safe(aux))
        for i, child in enumerate(children):
            _describe(child, f"{where}<{i}>", found)
    elif kind in tree._STATIC or isinstance(x, np.generic):
        found[where] = ("static", tree.static_token(x), _short(x))
    else:   # another object: by identity (its == may not give a bool)
        found[where] = ("static", ("object", kind.__name__, id(x)), _short(x))


def _safe(aux):
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parameter_names(fn) -> list:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


# --- comparing -------------------------------------------------------------------------------------

def differences(before: dict, now: dict) -> list:
    """What changed from `before` to `now`, one line each (nothing inside a changed container)."""
    lines, changed = [], []
    for where, new in now.items():
        if any(where.startswith(c) and where[len(c):len(c) + 1] in "[<" for c in changed):
            continue
        old = before.get(where)
        if old == new:
            continue
        if old is None:
            lines.append(f"{where}: new ({_what(new)})")
            continue
        if new[0] in ("container", "call") or old[0] != new[0]:
            changed.append(where)
        lines.append(_difference(where, old, new))
    for where in before:
        if where not in now and not any(where.startswith(c) for c in changed):
            lines.append(f"{where}: gone (it was {_what(before[where])})")
    return lines


def _what(item) -> str:
    kind = item[0]
    if kind == "array":
        fmt = f" with format {item[4]!r}" if item[4] else ""
        return f"a {item[3]} {item[1]} of shape {item[2]}{fmt}"
    if kind == "static":
        return f"the static value {item[2]}"
    if kind == "container":
        return f"a {item[1]} of {item[2]!r}" if isinstance(item[2], tuple) else f"a {item[1]} of {item[2]} items"
    if kind == "call":
        return f"{item[1]} positional arguments" + (f", keywords {list(item[2])}" if item[2] else "")
    return f"a traced dlarray of shape {item[1]}"


def _difference(where, old, new) -> str:
    if old[0] == "array" and new[0] == "array":
        parts = []
        if old[1] != new[1]:
            parts.append(f"was a {old[1]}, now a {new[1]}")
        if old[2] != new[2]:
            parts.append(f"shape {old[2]} before, now {new[2]}")
        if old[3] != new[3]:
            parts.append(f"dtype {old[3]} before, now {new[3]}")
        if old[4] != new[4]:
            parts.append(f"format {old[4]!r} before, now {new[4]!r}")
        if old[5] != new[5]:   # a dlarray's memory order is part of the signature (compiled for it)
            parts.append(f"memory order {old[5]} before, now {new[5]}")
        return f"{where}: " + "; ".join(parts)
    if old[0] == "static" and new[0] == "static":
        return (f"{where}: the static value {new[2]} is new (traced before with {old[2]}); numbers, strings "
                f"and None are part of the signature: pass a value that changes from call to call as a dlarray")
    return f"{where}: was {_what(old)}, now {_what(new)}"


# --- the explanations --------------------------------------------------------------------------------

def miss(cache, fn, args, kwargs) -> dict:
    """Explain a miss of fn(*args, **kwargs) against the calls cache traced before; returns the
    call's description (cache.explained.traced(it) once the trace succeeded)."""
    now = describe(fn, args, kwargs or {})
    seen = cache.explained.seen
    head = f"dlgrad: {label(fn)} traced and compiled again because "
    if not seen:
        what = ("its first call (nothing traced yet)" if not cache.entries else
                "no record of the calls traced before (a copied or unpickled cache)")
        cache.explained.add(f"dlgrad: {label(fn)} traced and compiled: {what}")
        return now
    best = min(reversed(seen), key=lambda before: len(differences(before, now)))
    lines = differences(best, now)
    if not lines:
        text = (head + f"this signature was traced before but is no longer in the cache (it keeps "
                f"{cache.max_entries} signatures; clear_cache forgets them all)")
    else:
        text = head + "the call differs from the closest one traced before:\n" + "\n".join(f"  - {x}" for x in lines)
    cache.explained.add(text)
    return now


def stale(cache, fn, guards) -> None:
    """Explain a retrace caused by captured values: name each guarded value that changed."""
    lines = []
    for g in guards:
        if g.current() == g.token:
            continue
        now = g.source.read()
        place = {"closure": "a closure variable", "global": "a global", "object": "an attribute of an argument"
                 }.get(g.source.place, "a captured value")
        if g.source.steps:
            place = f"read through {place}"
        old = g.keep[0] if g.keep else MISSING
        if now is MISSING:
            lines.append(f"{g.name} ({place}) no longer exists")
        elif old is now or old is MISSING:
            lines.append(f"{g.name} ({place}) changed in place since the trace; now {_short(now)}")
        else:
            lines.append(f"{g.name} ({place}) was {_short(old)} when traced, now {_short(now)}")
    text = (f"dlgrad: {label(fn)} traced and compiled again because a value it reads from outside its "
            f"arguments changed:\n" + "\n".join(f"  - {x}" for x in lines or ["(a guarded value)"]))
    cache.explained.add(text)
