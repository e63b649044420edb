"""What MATLAB's losses share: weights, Mask, NormalizationFactor and Reduction applied to an
array of elementwise loss values.

loss = sum_i m_i w_i l_i / N with m the mask, w the weights (both broadcast to the loss values'
shape) and N the normalisation factor. Reduction="none" returns the terms m_i w_i l_i / N
unsummed (so their sum is the "sum" result).
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from .. import functions as F
from ..dlarray import dlarray
from ..formats import FormatError, stripdims
from .common import as_data_of, batch_size, stop

NORMALIZATIONS = ("batch-size", "all-elements", "mask-included", "none")


def broadcast_to_loss(W: Any, fmt: str, shape: Sequence[int], dtype: Any, what: str, op: str,
                      W_format: str | None = None, formatted: bool = True) -> dlarray:
    """W (weights or a mask) shaped to broadcast against loss values of `shape` labelled `fmt`.

    Same number of dimensions: numpy broadcasting. Fewer: W must be labelled (a formatted
    dlarray, or W_format naming its dimensions, e.g. "C" for class weights, "B" for observation
    weights), and is aligned with the loss values by its labels. Data that is not a dlarray
    takes the loss values' dtype (single stays single, as in MATLAB). Unlabelled W of formatted
    sequence data (`formatted`: its axes were put in the canonical order) must fit one layout only.
    """
    W = W if isinstance(W, dlarray) else as_data_of(W, dtype)
    if W_format and not W._fmt:
        W = dlarray(W, W_format)       # permuted into the canonical label order
    labels = W._fmt
    w = stripdims(W)
    if not labels:
        if w.size == 1:
            return F.reshape(w, ())
        if w.ndim != len(shape) or any(a not in (1, b) for a, b in zip(w.shape, shape)):
            raise FormatError(f"{op}: {what} of shape {w.shape} do not broadcast to the loss values "
                              f"of shape {shape}; give {what} the shape of the predictions, or label "
                              f"their dimensions (a formatted dlarray"
                              f"{', or WeightsFormat=' if what == 'weights' else ''})")
        if formatted:
            _refuse_ambiguous(w.shape, fmt, shape, what, op)
        return w
    target, start = [1] * len(shape), 0
    for label, size in zip(labels, w.shape):
        position = fmt.find(label, start)
        if position < 0 or size not in (1, shape[position]):
            raise FormatError(f"{op}: {what} labelled {labels!r} with shape {w.shape} do not fit "
                              f"predictions labelled {fmt!r} with shape {shape}")
        target[position], start = size, position + 1
    return F.reshape(w, tuple(target))


def _refuse_ambiguous(given: tuple[int, ...], fmt: str, shape: Sequence[int], what: str, op: str) -> None:
    """Refuse unlabelled weights or a mask of sequence data ("T" in fmt) whose shape also fits
    another order of the data's dimensions: a mask made for the (C, T, B) layout padsequences
    gives would be read in the canonical (C, B, T) order, silently wrong when T equals B."""
    if "T" not in fmt or len(fmt) != len(shape) or math.prod(given) <= 1:
        return
    for order in itertools.permutations(range(len(shape))):
        if any(order.index(a) > order.index(b) for a, b in itertools.combinations(range(len(fmt)), 2)
               if fmt[a] == fmt[b]):
            continue   # labels that repeat (S, U) keep their order in every layout
        moved = any(size > 1 and axis != k for k, (size, axis) in enumerate(zip(given, order)))
        if moved and all(size in (1, shape[axis]) for size, axis in zip(given, order)):
            layout = "".join(fmt[axis] for axis in order)
            raise FormatError(f"{op}: {what} of shape {given} is unlabelled and fits the predictions "
                              f"labelled {fmt!r} with shape {tuple(shape)} in more than one layout "
                              f"(as {fmt!r}, or as {layout!r}); label it as the data it belongs to, "
                              f"e.g. dl.dlarray({what}, {layout!r})")


def reduce_loss(values: dlarray, fmt: str, op: str, weights: Any = None, Mask: Any = None,
                NormalizationFactor: str = "batch-size", Reduction: str = "sum", WeightsFormat: str | None = None,
                negate: bool = False, formatted: bool = True) -> dlarray:
    """MATLAB's weighting, masking, normalisation and reduction of elementwise loss values
    (negated, when `negate`, before the division: the graph of the loss without options);
    `formatted`: the predictions were a formatted dlarray (not data laid out by DataFormat)."""
    shape = values.shape
    mode = str(NormalizationFactor).lower()
    if mode not in NORMALIZATIONS:
        raise ValueError(f"{op}: NormalizationFactor must be one of {', '.join(map(repr, NORMALIZATIONS))}, "
                         f"got {NormalizationFactor!r}")
    reduction = str(Reduction).lower()
    if reduction not in ("sum", "none"):
        raise ValueError(f"{op}: Reduction must be 'sum' or 'none', got {Reduction!r}")
    if weights is not None:
        values = values * broadcast_to_loss(weights, fmt, shape, values.dtype, "weights", op, WeightsFormat,
                                                   formatted)
    mask = None
    if Mask is not None:
        mask = stop(broadcast_to_loss(Mask, fmt, shape, values.dtype, "mask", op, formatted=formatted))
        values = values * mask
    if mode == "mask-included":
        if mask is None:
            raise ValueError(f"{op}: NormalizationFactor 'mask-included' needs a Mask")
        # each observation divided by its number of included elements (one with none contributes 0)
        axes = tuple(i for i in range(len(shape)) if fmt[i:i + 1] != "B")
        included = F.not_equal(mask, 0) if mask.ndim else F.reshape(F.not_equal(mask, 0), (1,) * len(shape))
        spread = math.prod(shape[i] for i in axes if included.shape[i] == 1)   # broadcast mask axes
        count = F.sum(included, axes, keepdims=True) * spread
        values = values / F.maximum(count, 1)
    divisor = {"batch-size": batch_size(fmt, shape), "all-elements": math.prod(shape)}.get(mode, 1)
    total = values if reduction == "none" else F.sum(values)
    total = -total if negate else total
    return total / divisor if divisor != 1 else total
