"""padsequences: sequences of different lengths padded (or truncated) to one length, with their mask.

MATLAB's [XPad, mask] = padsequences(X, paddingDim, ...): the sequences are padded along
paddingDim (0-based here) and stacked along a new last axis; mask is true on data, false on
padding. Right padding suits OutputMode "sequence" with a loss's Mask=; left padding suits
OutputMode "last", so that the last step a recurrent layer reads is data.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from ..dlarray import dlarray
from ..namevalue import name_value


def _lengths(Length: Any, sizes: list[int]) -> int:
    if isinstance(Length, str) and Length.lower() in ("longest", "shortest"):
        return max(sizes) if Length.lower() == "longest" else min(sizes)
    if isinstance(Length, bool) or not isinstance(Length, (int, np.integer)) or Length < 1:
        raise ValueError(f"padsequences: Length must be 'longest', 'shortest' or a positive integer, got {Length!r}")
    return int(Length)


@name_value(2)
def padsequences(X: Sequence[Any], paddingDim: int, *, Length: int | str = "longest", Direction: str = "right",
                 PaddingValue: float | str = "auto", UniformOutput: bool = True) -> tuple[Any, Any]:
    """(XPad, mask): the sequences of X padded or truncated along axis paddingDim (0-based) to Length.

    Length: "longest" (default), "shortest" or a number of steps; Direction: "right" pads (and
    truncates) at the end, "left" at the beginning; PaddingValue: "auto" (0) or a number. With
    UniformOutput (default) XPad stacks the sequences along a new last axis (for (C, T_i)
    sequences and paddingDim=1: (C, T, N), dlarray(XPad, "CTB")) and mask is a bool array of its
    shape (as MATLAB's: label it as XPad, dlarray(mask, "CTB"), for a loss's Mask=); otherwise both
    are lists. Works on data (numpy arrays, untraced dlarrays), before dlfeval.
    """
    if not isinstance(X, (list, tuple)) or not X:
        raise TypeError(f"padsequences: X must be a non-empty list or tuple of sequences, got {type(X).__name__}")
    arrays: list[npt.NDArray[Any]] = []
    for i, x in enumerate(X):
        if isinstance(x, dlarray):
            if x._node is not None:
                raise TypeError("padsequences works on data before dlfeval, not on traced dlarrays "
                                f"(X[{i}] is traced)")
            x = x._data
        arrays.append(np.asarray(x))
    ndim = arrays[0].ndim
    if isinstance(paddingDim, bool) or not isinstance(paddingDim, (int, np.integer)) or not 0 <= paddingDim < ndim:
        raise ValueError(f"padsequences: paddingDim must be an axis of the sequences (0 to {ndim - 1}, 0-based), "
                         f"got {paddingDim!r}")
    other = [a.shape[:paddingDim] + a.shape[paddingDim + 1:] for a in arrays]
    for i, (a, rest) in enumerate(zip(arrays, other)):
        if a.ndim != ndim or rest != other[0]:
            raise ValueError(f"padsequences: the sequences must agree on every axis but paddingDim {paddingDim}: "
                             f"X[0] has shape {arrays[0].shape}, X[{i}] has shape {a.shape}")
    direction = Direction.lower() if isinstance(Direction, str) else Direction
    if direction not in ("right", "left"):
        raise ValueError(f"padsequences: Direction must be 'right' or 'left', got {Direction!r}")
    if isinstance(PaddingValue, str):
        if PaddingValue.lower() != "auto":
            raise ValueError(f"padsequences: PaddingValue must be 'auto' or a number, got {PaddingValue!r}")
        fill: Any = 0
    else:
        fill = PaddingValue
    steps = _lengths(Length, [a.shape[paddingDim] for a in arrays])
    dtype = np.result_type(*arrays)
    if dtype.kind in "biu" and not float(fill).is_integer():   # NaN or 0.5 into integers: promote, not wrap
        dtype = np.result_type(dtype, np.float64)
    padded, masks = [], []
    for a in arrays:
        n = min(a.shape[paddingDim], steps)
        keep = np.take(a, np.arange(n) if direction == "right" else np.arange(a.shape[paddingDim] - n,
                                                                              a.shape[paddingDim]), axis=paddingDim)
        shape = list(a.shape)
        shape[paddingDim] = steps
        out = np.full(shape, fill, dtype)
        mask = np.zeros(shape, bool)
        where = [slice(None)] * ndim
        where[paddingDim] = slice(0, n) if direction == "right" else slice(steps - n, steps)
        out[tuple(where)] = keep
        mask[tuple(where)] = True
        padded.append(out)
        masks.append(mask)
    if not UniformOutput:
        return padded, masks
    return np.stack(padded, axis=ndim), np.stack(masks, axis=ndim)
