"""Least squares: a Householder QR factorisation and the solves that use it.

`qr(A)` packs, for tall matrices A (..., m, n), m >= n, the factors of A = Q R into one array
(..., m, n + 1): R on and above the diagonal of the first n rows, the Householder vectors
below it (their leading 1 implied), and each reflector's tau in the last column (LAPACK's
dgeqrf layout). A zero column gives a zero on R's diagonal, so a rank-deficient A gives Inf or
NaN (MATLAB returns a basic solution with a warning).

`qr_solve(A, QR, B)` is the least-squares solution x of min |A x - B| (R^-1 Q^T B), padded with
zeros to B's m rows (Q^T B is formed in the output); `gram_solve(A, QR, G)` is (A^T A)^-1 G =
R^-1 R^-T G. A takes no part in the numbers, only in the adjoints (full column rank):
    x = A^+ b:         z = (A^T A)^-1 g_x,  db = A z,  dA = (b - A x) z^T - A z x^T;
    y = (A^T A)^-1 g:  dg = (A^T A)^-1 h,  dA = -A (dg y^T + y dg^T).
codegen/kinds/lstsq.py writes the C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import batching
from ..registry import Op, apply, register
from . import elementwise as E
from . import linalg as L
from . import movement as M

LSTSQ = "lstsq"


def _qr_infer(inputs):
    (a,) = inputs
    if a.ndim < 2 or a.shape[-2] < a.shape[-1]:
        raise ShapeError(f"qr needs tall matrices (..., m, n) with m >= n, got shape {a.shape}")
    return a.shape[:-1] + (a.shape[-1] + 1,), a.dtype


def qr_numpy(a):
    """The factors as the C computes them, one column at a time."""
    a = np.asarray(a)
    m, n = a.shape[-2:]
    f = np.zeros(a.shape[:-1] + (n + 1,), a.dtype).reshape((-1, m, n + 1))
    f[:, :, :n] = a.reshape((-1, m, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(n):
            x = f[:, j:, j]
            scale = np.abs(x).max(axis=1)
            safe = np.where(scale > 0, scale, 1).astype(a.dtype)
            norm = safe * np.sqrt(np.sum((x / safe[:, None]) ** 2, axis=1))
            alpha = x[:, 0].copy()
            beta = -np.copysign(norm, alpha)
            zero = norm == 0
            tau = np.where(zero, 0, (beta - alpha) / np.where(zero, 1, beta)).astype(a.dtype)
            v = x[:, 1:] / np.where(zero, 1, alpha - beta)[:, None]
            v = np.where(zero[:, None], 0, v).astype(a.dtype)
            rest = f[:, j:, j + 1:n]
            w = rest[:, 0] + np.einsum("bi,bic->bc", v, rest[:, 1:])
            rest[:, 0] -= tau[:, None] * w
            rest[:, 1:] -= tau[:, None, None] * v[:, :, None] * w[:, None, :]
            f[:, j, j] = np.where(zero, alpha, beta)
            f[:, j + 1:, j] = v
            f[:, j, n] = tau
    return f.reshape(a.shape[:-1] + (n + 1,))


def _solve_infer(inputs):
    a, qr_factors, b = inputs
    if (a.ndim < 2 or qr_factors.shape != a.shape[:-1] + (a.shape[-1] + 1,) or b.ndim != a.ndim
            or b.shape[:-1] != a.shape[:-1]):
        raise ShapeError(f"qr_solve needs A (..., m, n), its factors (..., m, n+1) and B (..., m, k), "
                         f"got {a.shape}, {qr_factors.shape} and {b.shape}")
    return b.shape, b.dtype


def _gram_infer(inputs):
    a, qr_factors, g = inputs
    if (a.ndim < 2 or qr_factors.shape != a.shape[:-1] + (a.shape[-1] + 1,) or g.ndim != a.ndim
            or g.shape[:-2] != a.shape[:-2] or g.shape[-2] != a.shape[-1]):
        raise ShapeError(f"gram_solve needs A (..., m, n), its factors (..., m, n+1) and G (..., n, k), "
                         f"got {a.shape}, {qr_factors.shape} and {g.shape}")
    return g.shape, g.dtype


def _r_solves(f, y, n, transposed_first):
    """y <- R^-1 y (after y <- R^-T y if transposed_first), R the upper triangle of f."""
    if transposed_first:
        for i in range(n):
            y[:, i] = (y[:, i] - np.einsum("bj,bjk->bk", f[:, :i, i], y[:, :i])) / f[:, i, i, None]
    for i in reversed(range(n)):
        y[:, i] = (y[:, i] - np.einsum("bj,bjk->bk", f[:, i, i + 1:n], y[:, i + 1:n])) / f[:, i, i, None]


def qr_solve_numpy(a, qr_factors, b):
    b = np.asarray(b)
    m, k = b.shape[-2:]
    n = qr_factors.shape[-1] - 1
    f = np.asarray(qr_factors).reshape((-1, m, n + 1))
    y = np.array(b.reshape((-1, m, k)), dtype=b.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(n):   # y <- H_j y, H_j = I - tau v v^T with v = (1, f[j+1:, j])
            v = f[:, j + 1:, j]
            w = y[:, j] + np.einsum("bi,bik->bk", v, y[:, j + 1:])
            y[:, j] -= f[:, j, n, None] * w
            y[:, j + 1:] -= f[:, j, n, None, None] * v[:, :, None] * w[:, None, :]
        _r_solves(f, y, n, False)
    y[:, n:] = 0
    return y.reshape(b.shape)


def gram_solve_numpy(a, qr_factors, g):
    g = np.asarray(g)
    n, k = g.shape[-2:]
    f = np.asarray(qr_factors).reshape((-1,) + qr_factors.shape[-2:])
    y = np.array(g.reshape((-1, n, k)), dtype=g.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        _r_solves(f, y, n, True)
    return y.reshape(g.shape)


def _top(x, n):
    """The first n rows of x (..., m, k)."""
    return M.slice_(x, tuple((0, n, 1) if d == x.ndim - 2 else (0, s, 1) for d, s in enumerate(x.shape)))


def _solve_vjp(g, out, inputs):
    a, f, b = inputs
    n = a.shape[-1]
    x = _top(out, n)
    z = gram_solve(a, f, _top(g, n))
    az = L.matmul(a, z)
    residual = E.sub(b, L.matmul(a, x))
    da = E.sub(L.matmul(residual, L.swap_last(z)), L.matmul(az, L.swap_last(x)))
    return [da, None, az]


def _gram_vjp(h, out, inputs):
    a, f, _ = inputs
    dg = gram_solve(a, f, h)
    both = E.add(L.matmul(dg, L.swap_last(out)), L.matmul(out, L.swap_last(dg)))
    return [E.neg(L.matmul(a, both)), None, dg]


def _batch(node, inputs, batched, size):
    inputs = [i if b else batching.batched_input(i, size) for i, b in zip(inputs, batched)]
    return apply(node.op, *inputs, **dict(node.attrs))


register(Op("qr", LSTSQ, _qr_infer, qr_numpy, differentiable=False, batch=_batch))
register(Op("qr_solve", LSTSQ, _solve_infer, qr_solve_numpy, _solve_vjp, batch=_batch))
register(Op("gram_solve", LSTSQ, _gram_infer, gram_solve_numpy, _gram_vjp, batch=_batch))


def qr(a):
    """The packed Householder factors of tall a (..., m, n): (..., m, n + 1)."""
    return apply("qr", a)


def qr_solve(a, qr_factors, b):
    """The least-squares solutions of a x = b, padded with zeros to b's shape (..., m, k)."""
    return apply("qr_solve", a, qr_factors, b)


def gram_solve(a, qr_factors, g):
    """(a^T a)^-1 g from qr_factors = qr(a)."""
    return apply("gram_solve", a, qr_factors, g)


def lstsq(a, b):
    """min |a x - b| for tall a (..., m, n) of full column rank and b (..., m, k): (..., n, k)."""
    return _top(qr_solve(a, qr(a), b), a.shape[-1])
