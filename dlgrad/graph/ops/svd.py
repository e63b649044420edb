"""The singular value decomposition A = U diag(s) V^T of tall matrices, by one-sided Jacobi.

`svd(A)` packs, for each A (..., m, n) with m >= n, the thin factors into one array
(..., m + n + 1, n): U (m x n) in the first m rows, V (n x n) in the next n, and the singular
values s, descending, in the last row. One-sided (Hestenes) Jacobi rotates pairs of A's columns
(and of V, from I) until every pair is orthogonal to sqrt(m) eps; the pairs of a sweep follow a
round-robin order, so that the numpy reference below rotates the disjoint pairs of a round at
once and the C (codegen/kinds/svd.py) one after the other, with the same numbers. Before the
sweeps A is scaled by a power of two (exact) so that no sum of squares overflows. Ties keep
their column order; a zero singular value's U column is completed from the unit vectors
(Gram-Schmidt), so U always has orthonormal columns. A NaN or Inf in A gives NaN everywhere.

The adjoint is the thin SVD's (Townsend, "Differentiating the singular value decomposition"):
    dA = U [ (F o (U^T gU - gU^T U)) S + diag(gs) + S (F o (V^T gV - gV^T V)) ] V^T
         + (I - U U^T) gU S^-1 V^T,          F_ij = 1 / (s_j^2 - s_i^2)  (i != j).
Where two singular values are equal (and for S^-1 where one is zero) the factor is taken as 0,
as JAX does: with gU = gV = 0 (a loss of s only) the gradient is then exactly U diag(gs) V^T.
U and V are not defined at repeated singular values, nor the gradient of a repeated one.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import ShapeError
from .. import batching
from ..registry import Op, apply, register
from . import elementwise as E
from . import linalg as L
from . import movement as M

SVD = "svd"
SWEEPS = 30   # LAPACK's dgesvj also stops after 30 sweeps; Jacobi converges quadratically


def tolerance(dtype, m):
    """A pair is rotated when |a_p . a_q| > tolerance * |a_p| |a_q|."""
    return float(np.finfo(dtype).eps) * math.sqrt(m)


def rounds(n):
    """The round-robin pairs (p < q) of n columns: each round's pairs are disjoint."""
    count = n + n % 2
    for r in range(count - 1):
        pairs = [(r, count - 1)] + [((r + i) % (count - 1), (r - i) % (count - 1)) for i in range(1, count // 2)]
        yield [(min(p, q), max(p, q)) for p, q in pairs if max(p, q) < n]


def _infer(inputs):
    (a,) = inputs
    if a.ndim < 2 or a.shape[-2] < a.shape[-1] or a.shape[-1] < 1:
        raise ShapeError(f"svd needs tall matrices (..., m, n) with m >= n >= 1, got shape {a.shape}")
    m, n = a.shape[-2:]
    return a.shape[:-2] + (m + n + 1, n), a.dtype


def _rotate(w, v, m, tol):
    """Jacobi sweeps over the columns of w (b, m, n), rotating v (b, n, n) alike, in place."""
    n = w.shape[2]
    order = [(np.array([p for p, _ in pairs]), np.array([q for _, q in pairs])) for pairs in rounds(n) if pairs]
    for _ in range(SWEEPS):
        rotated = False
        for p, q in order:
            x, y = w[:, :, p], w[:, :, q]
            alpha, beta, gamma = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
            turn = np.abs(gamma) > tol * np.sqrt(alpha) * np.sqrt(beta)
            if not turn.any():
                continue
            rotated = True
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                zeta = (beta - alpha) / (2 * gamma)
                t = np.copysign(1, zeta) / (np.abs(zeta) + np.hypot(1, zeta))
                c = 1 / np.sqrt(1 + t * t)
            c, s = np.where(turn, c, 1).astype(w.dtype), np.where(turn, c * t, 0).astype(w.dtype)
            for z in (w, v):
                x, y = z[:, :, p], z[:, :, q]
                z[:, :, p], z[:, :, q] = c[:, None] * x - s[:, None] * y, s[:, None] * x + c[:, None] * y
        if not rotated:
            return


def _complete(u, j):
    """u[:, j] := the first unit vector made orthogonal to u[:, :j] (twice) with norm > 1/2."""
    for e in range(u.shape[0]):
        u[:, j] = 0
        u[e, j] = 1
        for _ in range(2):
            for k in range(j):
                u[:, j] -= (u[:, k] @ u[:, j]) * u[:, k]
        size = u[:, j] @ u[:, j]
        if size > 0.25:
            u[:, j] /= np.sqrt(size)
            return


def svd_numpy(a):
    """The packed factors as the C computes them (the same rotations, sums and order)."""
    a = np.asarray(a)
    m, n = a.shape[-2:]
    dtype = a.dtype
    w = np.array(a.reshape((-1, m, n)), dtype=dtype)
    bad = ~np.isfinite(w).all(axis=(1, 2))
    w[bad] = 0
    scale = np.frexp(np.abs(w).max(axis=(1, 2)))[1]
    w = np.ldexp(w, -scale[:, None, None]).astype(dtype)
    v = np.array(np.broadcast_to(np.eye(n, dtype=dtype), (w.shape[0], n, n)))
    _rotate(w, v, m, dtype.type(tolerance(dtype, m)))
    sigma = np.sqrt((w * w).sum(1))
    order = np.argsort(-sigma, axis=1, kind="stable")
    w, v, sigma = (np.take_along_axis(z, order[:, None, :], 2) for z in (w, v, sigma[:, None, :]))
    packed = np.concatenate([w, v, sigma], axis=1)
    for b in range(packed.shape[0]):
        for j in range(n):
            if packed[b, m + n, j] > 0:
                packed[b, :m, j] /= packed[b, m + n, j]
            else:
                _complete(packed[b, :m], j)
    packed[:, m + n] = np.ldexp(packed[:, m + n], scale[:, None])
    packed[bad] = np.nan
    return packed.reshape(a.shape[:-2] + (m + n + 1, n))


def rows(x, start, stop):
    """Rows start:stop of matrices x (..., r, c)."""
    return M.slice_(x, tuple((start, stop, 1) if d == x.ndim - 2 else (0, s, 1) for d, s in enumerate(x.shape)))


def _safe_inverse(x):
    """1 / x, and 0 where x == 0 (with no infinite slope there for higher derivatives)."""
    zero = E.eq(x, 0)
    return E.where(zero, 0.0, E.div(1.0, E.where(zero, 1.0, x)))


def _vjp(g, out, inputs):
    (a,) = inputs
    m, n = a.shape[-2:]
    u, v, s = rows(out, 0, m), rows(out, m, m + n), rows(out, m + n, m + n + 1)   # s: (..., 1, n)
    gu, gv, gs = rows(g, 0, m), rows(g, m, m + n), rows(g, m + n, m + n + 1)
    column = L.swap_last(s)
    squares = E.mul(s, s)
    f = _safe_inverse(E.sub(squares, L.swap_last(squares)))   # f[i, j] = 1 / (s_j^2 - s_i^2)
    ut_gu = L.matmul(L.swap_last(u), gu)
    j = E.mul(f, E.sub(ut_gu, L.swap_last(ut_gu)))
    vt_gv = L.matmul(L.swap_last(v), gv)
    k = E.mul(f, E.sub(vt_gv, L.swap_last(vt_gv)))
    diagonal = E.mul(gs, np.eye(n, dtype=a.dtype))
    inner = E.add(E.add(E.mul(j, s), diagonal), E.mul(column, k))
    outside = E.mul(E.sub(gu, L.matmul(u, ut_gu)), _safe_inverse(s))   # (I - U U^T) gU S^-1
    return [L.matmul(E.add(L.matmul(u, inner), outside), L.swap_last(v))]


def _batch(node, inputs, batched, size):
    """Leading axes are batch axes already."""
    (x,) = inputs
    return apply(node.op, x if batched[0] else batching.batched_input(x, size))


register(Op("svd", SVD, _infer, svd_numpy, _vjp, batch=_batch))


def svd(a):
    """The packed thin SVD of tall a (..., m, n): (..., m + n + 1, n) holding U, V and s."""
    return apply("svd", a)
