"""Data formats: the labels S (spatial), C (channel), B (batch), T (time), U (unspecified).

`dlarray(X, fmt)` names X's axes in order; like MATLAB, the axes are then permuted into
the canonical label order S..., C, B, T, U... (a stable sort, so repeated S or U keep
their relative order). Elementwise ops keep the format, reductions keep it (dropping
the labels of removed axes), and deep-learning ops find their axes by label.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DlgradError
from ..graph.registry import ELEMENTWISE, OPS, REDUCE

if TYPE_CHECKING:
    from .dlarray import dlarray
    from .types import ArrayLike

LABELS = "SCBTU"
_RANK = {label: rank for rank, label in enumerate(LABELS)}
_ONCE = "CBT"


class FormatError(DlgradError, ValueError):
    """A data format that breaks a rule, or an operation that needs labels an array lacks."""


def check(fmt: object, ndim: int | None = None) -> str:
    """fmt validated (letters S, C, B, T, U; C, B and T at most once; at least ndim labels)."""
    if not isinstance(fmt, str):
        raise TypeError(f"a data format must be a string of the labels {', '.join(LABELS)}, "
                        f"got {type(fmt).__name__}")
    fmt = fmt.upper()
    bad = sorted(set(fmt) - set(LABELS))
    if bad:
        raise FormatError(f"data format {fmt!r} has the invalid label(s) {', '.join(bad)}: "
                          f"labels must be S, C, B, T or U")
    for label in _ONCE:
        if fmt.count(label) > 1:
            raise FormatError(f"data format {fmt!r} has the label {label} {fmt.count(label)} times: "
                              f"C, B and T may each appear at most once")
    if ndim is not None and len(fmt) < ndim:
        raise FormatError(f"data format {fmt!r} has {len(fmt)} labels but the data has {ndim} "
                          "dimensions: the format needs one label per dimension")
    return fmt


def canonical(fmt: str) -> tuple[str, tuple[int, ...]]:
    """(canonical format, permutation) taking axes labelled by fmt to the canonical order."""
    order = tuple(sorted(range(len(fmt)), key=lambda i: _RANK[fmt[i]]))
    return "".join(fmt[i] for i in order), order


def dims(x: ArrayLike) -> str:
    """The data format of x, in canonical order ("" for an unformatted dlarray)."""
    return str(getattr(x, "_fmt", None) or "")


def finddim(x: ArrayLike, label: str) -> tuple[int, ...]:
    """The 0-based axes of x whose label is `label` (an empty tuple if it has none)."""
    label = check(label)
    if len(label) != 1:
        raise FormatError(f"finddim needs a single label, got {label!r}")
    return tuple(i for i, c in enumerate(dims(x)) if c == label)


def stripdims(x: ArrayLike, fmt: str | None = None) -> dlarray:
    """x without its data format (same data, same axes); with fmt (MATLAB's stripdims(X, fmt)),
    its axes permuted into the order of fmt's labels (a reordering of x's format)."""
    from .dispatch import asdlarray
    from .dlarray import dlarray
    x = asdlarray(x)
    if fmt is not None:
        x = _reorder(x, fmt)
    y = dlarray.__new__(dlarray)   # a new object even when x has no format (see dlarray.rebox)
    y._data, y._node, y._trace, y._fmt = x._data, x._node, x._trace, None
    y._origin, y._logical = getattr(x, "_origin", None), x._logical
    return y


def _reorder(x: dlarray, fmt: str) -> dlarray:
    """x's axes in the order of the labels of fmt, which must be x's labels rearranged."""
    from . import functions
    have = dims(x)
    fmt = check(fmt)
    if not have:
        raise FormatError(f"stripdims(X, {fmt!r}) needs a formatted X to reorder, got an unformatted dlarray")
    if sorted(fmt) != sorted(have):
        raise FormatError(f"stripdims: format {fmt!r} must hold the labels of X's format {have!r}, "
                          "in any order")
    free = list(range(len(have)))
    order = []
    for label in fmt:   # repeated labels (S, U) keep their relative order
        axis = next(a for a in free if have[a] == label)
        free.remove(axis)
        order.append(axis)
    return functions.transpose(x, order)


def labelled(x: ArrayLike, fmt: str) -> dlarray:
    """x (array-like or dlarray) with data format fmt: trailing singleton axes added, axes permuted."""
    from . import functions
    from .dlarray import dlarray
    x = stripdims(x)
    fmt = check(fmt, x.ndim)
    if len(fmt) > x.ndim:
        x = functions.reshape(x, x.shape + (1,) * (len(fmt) - x.ndim))
    fmt, order = canonical(fmt)
    x = functions.transpose(x, order)
    y = dlarray.__new__(dlarray)
    y._data, y._node, y._trace, y._fmt = x._data, x._node, x._trace, fmt or None
    y._origin, y._logical = getattr(x, "_origin", None), x._logical
    return y


def propagate(name: str, args: tuple[Any, ...], attrs: dict[str, Any], out: Any) -> str | None:
    """The format of `out = name(*args)` given that some argument is formatted, or None."""
    kind = OPS[name].kind
    if kind == ELEMENTWISE:
        fmt: str | None = None
        for a in args:
            f = getattr(a, "_fmt", None)
            if f is None or len(f) != out.ndim:
                continue
            if fmt is not None and f != fmt:
                raise FormatError(f"operands with data formats {fmt!r} and {f!r} cannot be combined "
                                  "elementwise: formatted operands need the same format "
                                  "(use stripdims or relabel with dlarray(x, fmt))")
            fmt = f
        return fmt
    fmt = args[0]._fmt if hasattr(args[0], "_fmt") else None
    if fmt is None:
        return None
    if kind == REDUCE:
        if attrs.get("keepdims"):
            return fmt
        axes = attrs["axes"]
        return "".join(c for i, c in enumerate(fmt) if i not in axes) or None
    if name in ("slice", "cumsum", "cumprod", "argsort", "permute_along"):
        return fmt
    return None


def require(x: Any, labels: str, op: str, data_format: str | None = None) -> str:
    """x's format (or data_format for unformatted x), checked to contain every label in `labels`."""
    fmt = dims(x)
    if data_format is not None:
        if fmt:
            raise FormatError(f"{op}: DataFormat is only for unformatted input, but the input has "
                              f"data format {fmt!r}")
        fmt = check(data_format, getattr(x, "ndim", None))
        if canonical(fmt)[0] != fmt:
            raise FormatError(f"{op}: DataFormat {fmt!r} must be in the canonical label order "
                              f"{canonical(fmt)[0]!r} (permute the data first)")
    if not fmt:
        raise FormatError(f"{op} needs a formatted dlarray with the label(s) {', '.join(labels)}: "
                          "create the input with dlarray(X, fmt), for example dlarray(X, 'CB'), "
                          "or pass DataFormat=")
    if len(fmt) != getattr(x, "ndim", len(fmt)):
        raise FormatError(f"{op}: data format {fmt!r} does not match the {x.ndim} dimensions of the input")
    missing = [label for label in labels if label not in fmt]
    if missing:
        raise FormatError(f"{op} needs the label(s) {', '.join(missing)} in the data format, "
                          f"got {fmt!r}")
    return fmt
