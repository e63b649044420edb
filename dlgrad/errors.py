"""The exception family of dlgrad: every error dlgrad raises on purpose derives from DlgradError."""
from __future__ import annotations

from typing import Any


class DlgradError(Exception):
    """Base class of dlgrad's own errors."""


class TraceError(DlgradError):
    """A traced value was used in a way tracing cannot record (Python control flow, float(), ...)."""


class GradientError(DlgradError):
    """dlgradient was called wrongly: outside dlfeval, on a non-scalar, or w.r.t. an untraced array."""


class UnsupportedOperationError(DlgradError, TypeError):
    """A numpy function or operation with no dlgrad op was applied to a dlarray."""


class ShapeError(DlgradError, ValueError):
    """Shapes that do not fit together (broadcasting, matmul, reshape, call-time arguments)."""


class CompilerNotFoundError(DlgradError):
    """No C compiler could be found to build a compiled function."""


class CompileError(DlgradError):
    """The C compiler rejected generated code (a bug in dlgrad: please report it)."""


class IndexOutOfRange(DlgradError, IndexError):
    """An index array holds a value outside [0, n) (or a fraction): raised before any kernel runs."""


def _bad(flat: Any, high: int) -> Any:
    import numpy as np
    if flat.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            return ~np.isfinite(flat) | (flat != np.floor(flat)) | (flat < 0) | (flat >= high)
    return (flat < 0) | (flat >= high)


def out_of_range(what: str, indices: Any, high: int) -> IndexOutOfRange:
    """The error for the first bad entry of `indices` (0-based, valid 0 .. high-1); `what` names
    the argument ("embed: the indices X"). Shared by the numpy reference and the compiled call."""
    import numpy as np
    flat = np.asarray(indices).ravel()
    bad = np.flatnonzero(_bad(flat, high))
    position = int(bad[0]) if bad.size else 0
    value = flat[position].item() if flat.size else None
    where = f" (at flat position {position})" if flat.size > 1 else ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        return IndexOutOfRange(f"{what}: index {value!r}{where} is not a whole number; indices are "
                               f"0-based integers from 0 to {high - 1}")
    hint = (" (indices are 0-based: a 1-based MATLAB index is one too high)" if value == high else
            " (negative indices are not accepted)" if value < 0 else "")
    return IndexOutOfRange(f"{what}: index {value}{where} is out of range; valid indices are 0 to "
                           f"{high - 1}{hint}")


def check_indices(what: str, indices: Any, high: int) -> None:
    """Raise out_of_range(...) unless every entry of `indices` is a whole number in [0, high)."""
    import numpy as np
    flat = np.asarray(indices).ravel()
    if flat.size and _bad(flat, high).any():
        raise out_of_range(what, flat, high)
