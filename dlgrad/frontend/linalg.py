"""MATLAB's linear algebra on dlarrays: norm, vecnorm, dot, pagemtimes, mldivide and mrdivide.

Norms scale by the largest |x| (held constant to differentiation, which is exact: the norm
does not change with the scale) so squares neither overflow nor underflow, and their
gradient at x = 0 is 0. Solves factor A once (LU with partial pivoting, graph/ops/solve.py)
and reuse the factors in the adjoint. Rectangular systems get MATLAB's basic solution through
Householder QR with column pivoting (graph/ops/pivoted.py), as MATLAB's `\\` does.
"""
from __future__ import annotations

from typing import Any

from .types import ArrayLike

import math
import warnings

import numpy as np

from ..errors import ShapeError
from ..graph.registry import normalize_axes
from . import functions as F
from .arrays import first_nonsingleton
from .dispatch import apply, asdlarray
from .dlarray import dlarray, to_data
from .singular import two_norm


def _scaled_norm(x, p, axes, keepdims):
    """(sum |x|^p)^(1/p) over axes, computed as s * (sum (|x|/s)^p)^(1/p), s = max |x|."""
    size = F.abs(x)
    peak = apply("stop_gradient", F.max(size, axes, keepdims=True))
    usable = F.multiply(F.greater(peak, 0), F.less(peak, math.inf))
    scale = F.where(usable, peak, 1.0)
    ratio = F.divide(size, scale)
    total = F.sum(F.multiply(ratio, ratio) if p == 2 else F.power(ratio, float(p)), axes, keepdims=True)
    nonzero = F.not_equal(total, 0)   # NaN stays NaN
    safe = F.where(nonzero, total, 1.0)   # no infinite slope of the root at 0
    root = F.sqrt(safe) if p == 2 else F.power(safe, 1.0 / p)
    out = F.multiply(scale, F.where(nonzero, root, 0.0))
    return out if keepdims else F.reshape(out, tuple(n for d, n in enumerate(x.shape) if d not in axes))


def _vector_norm(x, p, axes, keepdims):
    if isinstance(p, str) and p.lower() == "fro":
        p = 2
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"a vector norm's p must be a positive number, math.inf or 'fro', got {p!r}")
    if not axes:
        return F.abs(x)
    if p == math.inf:
        return F.max(F.abs(x), axes, keepdims)
    if p == 1:
        return F.sum(F.abs(x), axes, keepdims)
    return _scaled_norm(x, p, axes, keepdims)


def vecnorm(x: ArrayLike, p: Any = 2, axis: Any = None, keepdims: Any = False) -> dlarray:
    """The p-norm of x along axis (default: MATLAB's first non-singleton axis); p a positive
    number or math.inf. MATLAB keeps the reduced axis (as keepdims=True); dlgrad drops it."""
    x = asdlarray(x)
    axes = normalize_axes(first_nonsingleton(x) if axis is None else axis, x.ndim, "vecnorm axis") \
        if x.ndim else ()
    return _vector_norm(x, p, axes, keepdims)


def norm(x: ArrayLike, p: Any = 2) -> dlarray:
    """MATLAB's norm: of a vector (1-D, or a matrix with a dimension of 1) its p-norm; of a
    matrix its 2-norm (the default: the largest singular value, see svd), 1-norm (largest
    column sum of |x|), inf-norm (largest row sum) or 'fro'."""
    x = asdlarray(x)
    if x.ndim <= 1 or (x.ndim == 2 and 1 in x.shape):
        return _vector_norm(x, p, tuple(range(x.ndim)), False)
    if isinstance(p, str) and p.lower() == "fro":
        return _scaled_norm(x, 2, tuple(range(x.ndim)), False)
    if x.ndim != 2:
        raise ShapeError(f"norm of an array with {x.ndim} dimensions: only 'fro' is defined "
                         f"(or use vecnorm along an axis), got p={p!r} for shape {x.shape}")
    if p == 1:
        return F.max(F.sum(F.abs(x), 0))
    if p == math.inf:
        return F.max(F.sum(F.abs(x), 1))
    if p == 2 and not isinstance(p, bool):
        return two_norm(x)
    raise ValueError(f"the norm of a matrix takes p = 1, 2, math.inf or 'fro', got {p!r}")


def dot(a: ArrayLike, b: ArrayLike, axis: Any = None) -> dlarray:
    """MATLAB's dot: sum(a * b) along axis (default: all of two 1-D arrays, else the first
    non-singleton axis); a and b of one shape. numpy.dot (a matrix product) stays numpy's."""
    a, b = asdlarray(a), asdlarray(b)
    if a.shape != b.shape:
        raise ShapeError(f"dot needs arrays of the same shape, got {a.shape} and {b.shape}")
    if axis is None:
        axis = 0 if a.ndim <= 1 else first_nonsingleton(a)
    if a.ndim == 0:
        return F.multiply(a, b)
    return F.sum(F.multiply(a, b), axis)


_TRANSPOSES = ("none", "transpose", "ctranspose")


def pagemtimes(x: ArrayLike, *args: Any) -> dlarray:
    """Page-wise matrix products: pagemtimes(X, Y) or pagemtimes(X, transpX, Y, transpY) with
    'none', 'transpose' or 'ctranspose' (the same for real data). The pages are numpy's leading
    axes (MATLAB's trailing ones); they broadcast."""
    if len(args) == 1:
        (y,), tx, ty = args, "none", "none"
    elif len(args) == 3:
        tx, y, ty = args
    else:
        raise TypeError("pagemtimes takes (X, Y) or (X, transpX, Y, transpY)")
    x, y = asdlarray(x), asdlarray(y)
    for name, t, a in (("transpX", tx, x), ("transpY", ty, y)):
        if t not in _TRANSPOSES:
            raise ValueError(f"pagemtimes {name} must be one of {_TRANSPOSES}, got {t!r}")
        if a.ndim < 2:
            raise ShapeError(f"pagemtimes needs pages of matrices (at least 2 dimensions), got shape {a.shape}")
    x = _swap_last(x) if tx != "none" else x
    y = _swap_last(y) if ty != "none" else y
    return F.matmul(x, y)


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return F.transpose(x, axes)


def _warn_if_singular(a, x):
    """MATLAB's warnings, for untraced values (compiled code cannot warn)."""
    if any(isinstance(v, dlarray) and v._node is not None for v in (a, x)):
        return
    data = to_data(a)   # numbers, also for logical A (np.asarray gives its bools)
    with np.errstate(all="ignore"):   # the 1-norm condition number of square A, the 2-norm one of tall A
        norm = 1 if data.shape[0] == data.shape[1] else None
        condition = np.linalg.cond(data, norm) if np.isfinite(data).all() else math.inf
    if not np.isfinite(to_data(x)).all() or condition > 1 / np.finfo(data.dtype).eps:
        warnings.warn(f"Matrix is singular, close to singular, rank deficient or badly scaled (condition "
                      f"number {condition:.3g}): results may be inaccurate", RuntimeWarning, stacklevel=3)


def solve(a, b) -> dlarray:
    """numpy.linalg.solve: a (..., n, n), b (..., n, k) or (n,); leading axes broadcast."""
    a, b = asdlarray(a), asdlarray(b)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"solve needs square matrices a (..., n, n), got shape {a.shape}")
    vector = b.ndim == 1
    if vector:
        b = F.reshape(b, b.shape + (1,))
    if b.shape[-2] != a.shape[-1]:
        raise ShapeError(f"solve: a {a.shape} and b {b.shape} do not fit: b needs {a.shape[-1]} rows")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = apply("broadcast_to", a, shape=batch + a.shape[-2:]) if a.shape[:-2] != batch else a
    b = apply("broadcast_to", b, shape=batch + b.shape[-2:]) if b.shape[:-2] != batch else b
    x = apply("lu_solve", a, apply("lu", a), b, transpose=False)
    return F.reshape(x, x.shape[:-1]) if vector else x


def mldivide(a: ArrayLike, b: ArrayLike) -> dlarray:
    """MATLAB's A \\ B: the solution of A X = B for square A (LU; Inf/NaN if A is singular); for a
    rectangular A MATLAB's basic solution (QR with column pivoting): the least-squares solution
    with at most rank(A) nonzero rows; for a scalar A, B / A. Outside compiled code it warns as
    MATLAB does for a singular, badly conditioned or rank-deficient A."""
    a, b = asdlarray(a), asdlarray(b)
    if a.size == 1 and a.ndim <= 2:
        return F.divide(b, F.reshape(a, ()))
    if a.ndim != 2:
        raise ShapeError(f"mldivide needs a matrix A, got shape {a.shape} (numpy.linalg.solve batches)")
    m, n = a.shape
    if b.ndim not in (1, 2) or b.shape[0] != m:
        raise ShapeError(f"mldivide: A {a.shape} and B {b.shape} do not fit: B needs {m} rows")
    if m != n:
        return _basic(a, b)
    x = solve(a, b)
    _warn_if_singular(a, x)
    return x


def _basic(a, b):
    """MATLAB's basic solution of a rectangular system: QR with column pivoting, R11^-1 (Q^T b)[:r]
    in the rank-r pivot columns, zeros elsewhere (graph/ops/pivoted.py)."""
    vector = b.ndim == 1
    rhs = F.reshape(b, b.shape + (1,)) if vector else b
    factors = apply("qrp", a)
    x = apply("qrp_solve", a, factors, rhs)[:a.shape[1]]
    x = F.reshape(x, x.shape[:-1]) if vector else x
    if factors._node is None:   # untraced: MATLAB's warning
        m, n = a.shape
        rank = to_data(factors)[m, n]
        if rank < min(m, n):
            tolerance = max(m, n) * np.finfo(factors.dtype).eps * abs(to_data(factors)[0, 0])
            warnings.warn(f"Rank deficient, rank = {rank:.0f}, tol = {tolerance:.6e}.", RuntimeWarning, stacklevel=3)
    return x


def mrdivide(b: ArrayLike, a: ArrayLike) -> dlarray:
    """MATLAB's B / A: the solution of X A = B, that is (A.T \\ B.T).T; a 1-D B is a row."""
    a, b = asdlarray(a), asdlarray(b)
    if a.size == 1 and a.ndim <= 2:
        return F.divide(b, F.reshape(a, ()))
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise ShapeError(f"mrdivide needs a matrix A and a matrix or 1-D B, got A {a.shape} and B {b.shape}")
    x = mldivide(F.transpose(a), F.transpose(b) if b.ndim == 2 else b)
    return F.transpose(x) if x.ndim == 2 else x
