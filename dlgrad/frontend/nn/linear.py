"""fullyconnect, embed and dropout."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from .. import functions as F
from ..dispatch import asdlarray
from ..formats import FormatError, stripdims
from ..take import gather
from .common import formatted_input, relabel
from ..dlarray import dlarray
from ..types import ArrayLike
from ..namevalue import name_value


@name_value(2, ('bias',))
def fullyconnect(X: ArrayLike, weights: ArrayLike, bias: ArrayLike | None = None, DataFormat: str | None = None,
                 FeatureOrder: str = "row-major") -> dlarray:
    """weights @ X + bias with the S and C axes of X flattened into one channel axis.

    X is formatted with a C label (S..., C, B, T, U...); weights has shape (outputSize, inputSize)
    and bias outputSize values. Like MATLAB, the S, C and U axes are all features: inputSize is
    the product of their sizes. FeatureOrder says how they are flattened: "row-major" (default,
    numpy's order: the last of S..., C, U... varies fastest, so for "SSCB" data of shape
    (H, W, C, N) feature (h, w, c) is column (h * W + w) * C + c) or "column-major" (MATLAB's: the
    first varies fastest, column h + H * (w + W * c)), for weights brought from MATLAB.
    The result is formatted "C" followed by X's B and T labels.
    """
    if FeatureOrder not in ("row-major", "column-major"):
        raise ValueError(f"fullyconnect: FeatureOrder must be 'row-major' or 'column-major', got {FeatureOrder!r}")
    x, fmt, keep = formatted_input(X, "C", "fullyconnect", DataFormat)
    given, given_shape = fmt, x.shape
    if FeatureOrder == "column-major":   # MATLAB's: reversed feature axes flattened row-major
        features = [i for i, c in enumerate(fmt) if c in "SCU"][::-1]
        others = [i for i, c in enumerate(fmt) if c not in "SCU"]
        x = F.transpose(x, tuple(features + others))
        x = F.reshape(x, (math.prod(x.shape[:len(features)]),) + x.shape[len(features):])
        fmt = "C" + "".join(fmt[i] for i in others)
    elif "U" in fmt:   # bring the U axes (last in canonical order) next to C, then flatten as usual
        u = [i for i, c in enumerate(fmt) if c == "U"]
        k = fmt.index("C") + 1
        order = list(range(k)) + u + [i for i in range(k, len(fmt)) if fmt[i] != "U"]
        x = F.transpose(x, tuple(order))
        fmt = fmt[:k] + "".join(c for c in fmt[k:] if c != "U")
        x = F.reshape(x, (math.prod(x.shape[:k + len(u)]),) + x.shape[k + len(u):])
        fmt = "C" + fmt[k:]
    k = fmt.index("C") + 1
    features, rest = math.prod(x.shape[:k]), x.shape[k:]
    W = stripdims(asdlarray(weights))
    if W.ndim != 2 or W.shape[1] != features:
        raise FormatError(f"fullyconnect: weights of shape {W.shape} do not fit an input with "
                          f"{features} features (data format {given!r}, shape {given_shape}); "
                          f"weights need shape (outputSize, {features})")
    y = F.matmul(W, F.reshape(x, (features, math.prod(rest))))
    if bias is not None:
        b = stripdims(asdlarray(bias))
        if b.size != W.shape[0]:
            raise FormatError(f"fullyconnect: bias needs {W.shape[0]} values, got shape {b.shape}")
        y = y + F.reshape(b, (W.shape[0], 1))
    return relabel(F.reshape(y, (W.shape[0],) + rest), "C" + fmt[k:], keep)


@name_value(2)
def embed(X: ArrayLike, weights: ArrayLike, DataFormat: str | None = None) -> dlarray:
    """Embedding vectors weights[:, X] for integer indices X (0-based; weights is (dim, numWords)).

    The result has a C axis of length dim in place of X's channel axis (X's C, if any, has size 1).
    Indices must lie in [0, numWords): another (a 1-based MATLAB index numWords, say) raises
    dlgrad.IndexOutOfRange naming X and the range. An index argument of dlfeval (a numpy integer
    array, or a dlarray of whole numbers) is read at run time.
    """
    X = asdlarray(X)
    fmt = X._fmt or DataFormat
    if not fmt:
        raise FormatError("embed needs a formatted dlarray of indices (for example dlarray(X, 'BT')) "
                          "or DataFormat=")
    x = stripdims(X)
    W = stripdims(asdlarray(weights))
    if "C" in fmt:
        if x.shape[fmt.index("C")] != 1:
            raise FormatError(f"embed: the C axis of the indices must have size 1, got shape {x.shape}")
        c = fmt.index("C")
        rest_fmt, rest = fmt.replace("C", ""), x.shape[:c] + x.shape[c + 1:]
    else:
        rest_fmt, rest = fmt, x.shape
    if W.ndim != 2:
        raise FormatError(f"embed: weights must be a matrix (dimension, numWords), got shape {W.shape}")
    # a table lookup (cost independent of the vocabulary): column X[...] of weights for each index
    y = gather(W, x, axis=1, what=f"embed: the indices X (a vocabulary of {W.shape[1]} words)",
               index_shape=rest)
    spatial = sum(1 for c in rest_fmt if c == "S")
    y = F.transpose(y, tuple(range(1, spatial + 1)) + (0,) + tuple(range(spatial + 1, y.ndim)))
    out_fmt = rest_fmt[:spatial] + "C" + rest_fmt[spatial:]
    return relabel(y, out_fmt, X._fmt is not None)


def dropout(X: ArrayLike, mask: ArrayLike | None = None, probability: float = 0.5) -> dlarray:
    """X * mask / (1 - probability): mask is an explicit 0/1 array (None: no dropout)."""
    X = asdlarray(X)
    if mask is None or probability == 0:
        return X
    if not 0 <= probability < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {probability}")
    return X * (stripdims(asdlarray(mask)) * (1 / (1 - probability)))


def dropout_mask(shape: int | Sequence[int], probability: float = 0.5,
                 rng: np.random.Generator | int | None = None,
                 dtype: npt.DTypeLike = np.float32) -> npt.NDArray[Any]:
    """A random 0/1 mask of `shape` keeping each entry with probability 1 - probability."""
    rng = np.random.default_rng(rng)
    return (rng.random(shape) >= probability).astype(dtype)
