"""MATLAB's svd and cond on dlarrays, and the matrix 2-norm (its largest singular value).

All come from one primitive, the thin SVD of a tall matrix by one-sided Jacobi
(graph/ops/svd.py: deterministic, the same numbers in numpy and C, no LAPACK); a wide matrix
is decomposed through its transpose. Singular values are descending; the columns of U and V
are unique only up to sign (MATLAB's LAPACK may choose the other sign) and not at all where
singular values repeat. The gradient of a singular value is u_i v_i^T, defined where that
value is simple. At a repeated one (norm(eye(3)), say) there is no derivative: dlgrad returns
u_i v_i^T for the singular vectors the Jacobi sweeps happen to give (for the largest value,
one subgradient of the 2-norm), and gradients through U and V take the terms of equal values as 0.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Union

import numpy as np

from ..errors import ShapeError
from . import functions as F
from .dispatch import apply, asdlarray
from .dlarray import dlarray
from .nargout import requested_outputs
from .types import ArrayLike

_OPTIONS = ("econ", "vector", "matrix")


def _factors(a: dlarray) -> tuple[dlarray, dlarray, dlarray]:
    """(U, s, V) of the thin SVD of a 2-D a: U (m, k), s (k,) descending, V (n, k), k = min(m, n)."""
    if a.ndim != 2 or 0 in a.shape:
        raise ShapeError(f"svd needs a non-empty matrix (2 dimensions), got shape {a.shape}")
    wide = a.shape[0] < a.shape[1]
    tall = F.transpose(a) if wide else a
    m, n = tall.shape
    packed = apply("svd", tall)
    u, v, s = packed[:m], packed[m:m + n], packed[m + n]
    return (v, s, u) if wide else (u, s, v)


def singular_values(a: ArrayLike) -> dlarray:
    """The singular values of matrix a, descending, as a 1-D dlarray of min(m, n) values."""
    return _factors(asdlarray(a))[1]


def svd(a: ArrayLike, *options: str, nargout: Union[int, None] = None) -> Union[dlarray, tuple[dlarray, ...]]:
    """MATLAB's svd: s = svd(A) gives the singular values (1-D, descending); U, S, V = svd(A)
    (square A) or svd(A, "econ") the factors with A = U @ S @ V.T, S diagonal (k x k, k =
    min(m, n)); "vector" gives S as 1-D, "matrix" s as a diagonal matrix. The number of outputs is
    read from the caller's unpacking, as MATLAB's nargout (or given as nargout=)."""
    a = asdlarray(a)
    for option in options:
        if option not in _OPTIONS:
            raise ValueError(f"svd options are 'econ', 'vector' and 'matrix', got {option!r}")
    if "vector" in options and "matrix" in options:
        raise ValueError("svd takes either 'vector' or 'matrix', not both")
    outputs = requested_outputs() if nargout is None else nargout
    if outputs not in (1, 3):
        raise ValueError(f"svd returns s or U, S, V: 1 or 3 outputs, got nargout={outputs}")
    u, s, v = _factors(a)
    if outputs == 1:
        return _diagonal(s) if "matrix" in options else s
    if "econ" not in options and a.shape[0] != a.shape[1]:
        raise NotImplementedError(f"U, S, V = svd(A) of a non-square A {a.shape} is the full SVD (U square, "
                                  "its extra columns any basis of the rest), which dlgrad does not compute: "
                                  "use svd(A, 'econ')")
    return u, (s if "vector" in options else _diagonal(s)), v


def _diagonal(s: dlarray) -> dlarray:
    k = s.shape[0]
    return F.multiply(F.reshape(s, (k, 1)), np.eye(k, dtype=s.dtype))


def two_norm(a: dlarray) -> dlarray:
    """The largest singular value of matrix a (MATLAB's norm(A) and norm(A, 2))."""
    return singular_values(a)[0]


def cond(a: ArrayLike, p: Any = 2) -> dlarray:
    """MATLAB's cond: the 2-norm condition number max(s) / min(s) of a matrix (Inf when a singular
    value is 0); p = 1, math.inf or 'fro' (square A): norm(A, p) * norm(inv(A), p)."""
    from .linalg import mldivide, norm
    a = asdlarray(a)
    if p == 2 and not isinstance(p, bool):
        s = singular_values(a)
        smallest = s[s.shape[0] - 1]
        singular = F.equal(smallest, 0)
        return F.where(singular, math.inf, F.divide(s[0], F.where(singular, 1.0, smallest)))
    if not (p in (1, math.inf) or (isinstance(p, str) and p.lower() == "fro")) or isinstance(p, bool):
        raise ValueError(f"cond's p must be 1, 2, math.inf or 'fro', got {p!r}")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"cond(A, {p!r}) needs a square matrix A, got shape {a.shape} (cond(A) takes any matrix)")
    with warnings.catch_warnings():   # MATLAB's cond does not warn for a singular A: it is Inf
        warnings.simplefilter("ignore", RuntimeWarning)
        inverse = mldivide(a, np.eye(a.shape[0], dtype=a.dtype))
    return F.multiply(norm(a, p), norm(inverse, p))
