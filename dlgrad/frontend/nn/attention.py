"""attention: MATLAB's multi-head scaled dot-product attention, from batched matrix products.

Data: a channel axis (split into numHeads contiguous blocks, head h owning channels
h*d .. (h+1)*d - 1), an optional batch axis and one sequence axis (T, or S), e.g. "CBT".
The weights come back in MATLAB's layout (numKeys, numQueries, numHeads, numObservations).
"""
from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from .. import functions as F
from ..dispatch import asdlarray
from ..dlarray import dlarray
from ..formats import FormatError, labelled, stripdims
from .common import stop
from ..types import ArrayLike
from ..namevalue import name_value


def _layout(fmt: str | None, what: str) -> tuple[int, int | None, int]:
    """(channel, batch or None, sequence) axes of a format for attention."""
    if not fmt or "C" not in fmt:
        raise FormatError(f"attention: {what} needs a formatted dlarray with a 'C' axis (for example "
                          f"'CBT') or DataFormat=, got format {fmt!r}")
    seq = [i for i, c in enumerate(fmt) if c in "ST"]
    other = [c for c in fmt if c not in "CBST"]
    if len(seq) != 1 or other or fmt.count("B") > 1:
        raise FormatError(f"attention: {what} must have one 'C', at most one 'B' and exactly one sequence "
                          f"axis ('T' or 'S'), got format {fmt!r}")
    return fmt.index("C"), fmt.index("B") if "B" in fmt else None, seq[0]


def _to_heads(x: dlarray, fmt: str | None, heads: int, what: str) -> dlarray:
    """x as (heads, batch, sequence, channels per head)."""
    c, b, s = _layout(fmt, what)
    x = F.transpose(x, (c, s) if b is None else (c, b, s))
    if b is None:
        x = F.reshape(x, (x.shape[0], 1, x.shape[1]))
    channels, batch, steps = x.shape
    if channels % heads:
        raise FormatError(f"attention: numHeads ({heads}) must divide the {channels} channels of {what}")
    return F.transpose(F.reshape(x, (heads, channels // heads, batch, steps)), (0, 2, 3, 1))


def _from_heads(y: dlarray, fmt: str | None) -> dlarray:
    """(heads, batch, sequence, channels) back to the layout of fmt."""
    c, b, s = _layout(fmt, "queries")
    heads, batch, steps, per = y.shape
    y = F.reshape(F.transpose(y, (0, 3, 1, 2)), (heads * per, batch, steps))
    axes = (c, s) if b is None else (c, b, s)
    if b is None:
        y = F.reshape(y, (heads * per, steps))
    return F.transpose(y, tuple(int(i) for i in np.argsort(axes)))


def _allowed(fmt: str | None, keys_fmt: str | None, PaddingMask: ArrayLike | None, AttentionMask: ArrayLike,
             batch: int, nq: int, nk: int) -> list[Any]:
    """Masks of what may be attended, each broadcasting against (heads, batch, queries, keys)."""
    allowed = None
    if isinstance(AttentionMask, str):
        mode = AttentionMask.lower()
        if mode == "causal":   # query m never attends to key n > m
            allowed = np.arange(nk)[None, :] <= np.arange(nq)[:, None]
        elif mode != "none":
            raise ValueError(f"attention: AttentionMask must be 'none', 'causal' or an array, got {AttentionMask!r}")
    else:
        mask = np.asarray(AttentionMask._data if isinstance(AttentionMask, dlarray) else AttentionMask)
        if mask.shape not in ((nk, nq), (nk, nq, batch)):
            raise FormatError(f"attention: AttentionMask must have shape (numKeys, numQueries) = {(nk, nq)} "
                              f"or (numKeys, numQueries, numObservations) = {(nk, nq, batch)}, got {mask.shape}")
        allowed = mask.T != 0    # (queries, keys) or (batch, queries, keys)
    if allowed is not None:
        allowed = allowed.reshape((1,) * (4 - allowed.ndim) + allowed.shape)
    masks: list[Any] = [] if allowed is None else [allowed]
    if PaddingMask is None:
        return masks
    pad = asdlarray(PaddingMask)
    pad_fmt = pad._fmt or keys_fmt
    c, b, s = _layout(pad_fmt, "PaddingMask")
    assert pad_fmt is not None   # _layout refuses a missing format
    if pad.ndim != len(pad_fmt):
        raise FormatError(f"attention: PaddingMask must have the keys' layout {pad_fmt!r} ({len(pad_fmt)} "
                          f"dimensions), got shape {pad.shape}")
    p = stripdims(pad)
    if p.shape[s] != nk or (b is not None and p.shape[b] != batch):
        raise FormatError(f"attention: PaddingMask of shape {p.shape} ({pad_fmt!r}) does not match keys with "
                          f"{nk} steps and {batch} observations")
    first = tuple(slice(0, 1) if i == c else slice(None) for i in range(p.ndim))   # the first channel
    p = F.transpose(p[first], (c, s) if b is None else (c, b, s))
    return masks + [F.reshape(p, (1, 1 if b is None else batch, 1, nk)) != 0]


@name_value(4)
def attention(queries: ArrayLike, keys: ArrayLike, values: ArrayLike, numHeads: int, *, DataFormat: str | None = None,
              Scale: float | str = "auto", PaddingMask: ArrayLike | None = None, AttentionMask: ArrayLike = "none",
              DropoutProbability: float = 0.0, DropoutMask: ArrayLike | None = None) -> tuple[dlarray, dlarray]:
    """[Y, weights] = attention(queries, keys, values, numHeads) as MATLAB computes it.

    Scale: "auto" (1/sqrt(d), d the key channels per head) or a number. PaddingMask: keys'
    layout, 0 marks padding (its first channel is read). AttentionMask: "none", "causal" or an
    array (numKeys, numQueries[, numObservations]) of 1 (attend) and 0 (do not). With
    DropoutProbability > 0 the weights are multiplied by DropoutMask / (1 - p): a 0/1 array of the
    weights' shape, drawn from the global random stream (dl.rng) when not given.
    """
    if isinstance(numHeads, bool) or not isinstance(numHeads, (int, np.integer)) or numHeads < 1:
        raise ValueError(f"attention: numHeads must be a positive integer, got {numHeads!r}")
    q, k, v = asdlarray(queries), asdlarray(keys), asdlarray(values)
    fmt = q._fmt or DataFormat
    keep = q._fmt is not None
    kf, vf = k._fmt or fmt, v._fmt or fmt
    Q = _to_heads(stripdims(q), fmt, numHeads, "queries")
    K = _to_heads(stripdims(k), kf, numHeads, "keys")
    V = _to_heads(stripdims(v), vf, numHeads, "values")
    heads, batch, nq, d = Q.shape
    if K.shape[3] != d or K.shape[1] != batch or V.shape[1:3] != K.shape[1:3]:
        raise FormatError(f"attention: queries {q.shape}, keys {k.shape} and values {v.shape} do not fit: keys "
                          "need the channels and observations of the queries, values the steps of the keys")
    nk = K.shape[2]
    if nk == 0:   # the softmax over keys would be over nothing
        raise FormatError(f"attention: the keys have 0 steps (shape {k.shape}): every query needs a key to attend to")
    scale = 1 / math.sqrt(d) if check_scale(Scale, "attention") == "auto" else Scale
    scores = F.matmul(Q, F.transpose(K, (0, 1, 3, 2))) * scale          # (heads, batch, queries, keys)
    lowest = float(np.finfo(scores.dtype).min)   # a fully masked row then gets uniform weights, not NaN
    for allowed in _allowed(fmt, kf, PaddingMask, AttentionMask, batch, nq, nk):
        scores = F.where(np.broadcast_to(allowed, scores.shape) if isinstance(allowed, np.ndarray)
                         else allowed, scores, lowest)
    e = F.exp(scores - stop(F.max(scores, 3, keepdims=True)))
    weights = e / F.sum(e, 3, keepdims=True)
    attended = weights
    if DropoutProbability:
        if not 0 <= DropoutProbability < 1:
            raise ValueError(f"attention: DropoutProbability must be in [0, 1), got {DropoutProbability}")
        if DropoutMask is None:   # MATLAB draws the mask: from the global stream (dl.rng), compiled too
            from ..random import rand
            DropoutMask = rand((nk, nq, heads, batch), dtype=scores.dtype) >= DropoutProbability
        mask = stripdims(asdlarray(DropoutMask))
        if mask.shape != (nk, nq, heads, batch):
            raise FormatError(f"attention: DropoutMask must have shape {(nk, nq, heads, batch)}, got {mask.shape}")
        attended = weights * F.transpose(mask, (2, 3, 1, 0)) / (1 - DropoutProbability)
    y = _from_heads(F.matmul(attended, V), fmt)
    return (labelled(y, cast(str, fmt)) if keep else y), F.transpose(weights, (3, 2, 0, 1))


def check_scale(Scale: Any, what: str) -> Any:
    """Scale as given if it is "auto" (any case; returned as "auto") or a finite real number."""
    if isinstance(Scale, str) and Scale.lower() == "auto":
        return "auto"
    if isinstance(Scale, bool) or not isinstance(Scale, (int, float, np.integer, np.floating)) \
            or not math.isfinite(Scale):
        raise ValueError(f"{what}: Scale must be 'auto' or a finite number, got {Scale!r}")
    return Scale
