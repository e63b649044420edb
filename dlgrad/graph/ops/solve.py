"""Linear solves: an LU factorisation with partial pivoting, and solves with its factors.

`lu(A)` packs, for each square matrix A (..., n, n), the factors of P A = L U into one array
(..., n, n + 1): L's multipliers below the diagonal (its unit diagonal implied), U on and
above it, and in the last column the row swapped with row j at step j (LAPACK's ipiv,
0-based, as floats). A zero pivot is kept (LAPACK's dgetrf does the same), so a singular A
gives Inf or NaN in the solution, as MATLAB's `\\` does, never an error or a finite guess.

`lu_solve(A, LU, B, transpose)` solves A X = B (or A^T X = B) from LU = lu(A). A takes no
part in the numbers; it is an input so that the adjoint can reach it:
    X = A^-1 B:  dB = A^-T g,  dA = -dB X^T;     X = A^-T B:  dB = A^-1 g,  dA = -X dB^T,
each solve of the adjoint reusing the factors. codegen/kinds/solve.py writes the C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import batching
from ..registry import Op, apply, register
from . import elementwise as E
from . import linalg as L

SOLVE = "solve"


def _lu_infer(inputs):
    (a,) = inputs
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"lu needs square matrices (..., n, n), got shape {a.shape}")
    return a.shape[:-1] + (a.shape[-1] + 1,), a.dtype


def lu_numpy(a):
    """The factors as the C computes them: the first row of largest |value| (NaN never) pivots."""
    a = np.asarray(a)
    n = a.shape[-1]
    m = np.array(a.reshape((-1, n, n)), dtype=a.dtype)
    piv = np.zeros(m.shape[:2], dtype=a.dtype)
    batch = np.arange(m.shape[0])
    for j in range(n):
        size = np.abs(m[:, j:, j])
        p = j + np.argmax(np.where(np.isnan(size), -1, size), axis=1)
        piv[:, j] = p
        row = m[batch, j].copy()
        m[batch, j] = m[batch, p]
        m[batch, p] = row
        d = m[:, j, j]
        pivots = d != 0
        below = m[:, j + 1:, j]
        multipliers = np.where(pivots[:, None], below / np.where(pivots, d, 1)[:, None], below)
        m[:, j + 1:, j] = multipliers
        update = multipliers[:, :, None] * m[:, j, None, j + 1:]
        m[:, j + 1:, j + 1:] -= np.where(pivots[:, None, None], update, 0).astype(a.dtype)
    return np.concatenate([m, piv[:, :, None]], axis=2).reshape(a.shape[:-1] + (n + 1,))


def _solve_infer(inputs, transpose):
    a, lu, b = inputs
    n = a.shape[-1] if a.ndim >= 2 else None
    if (n is None or a.shape[-2] != n or lu.shape != a.shape[:-1] + (n + 1,) or b.ndim != a.ndim
            or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != n):
        raise ShapeError(f"lu_solve needs A (..., n, n), its factors (..., n, n+1) and B (..., n, k) "
                         f"with the same leading dimensions, got {a.shape}, {lu.shape} and {b.shape}")
    return b.shape, b.dtype


def lu_solve_numpy(a, lu, b, transpose):
    with np.errstate(divide="ignore", invalid="ignore"):   # a singular A: Inf and NaN, as in C
        return _lu_solve(lu, np.asarray(b), transpose)


def _lu_solve(lu, b, transpose):
    n, k = b.shape[-2:]
    f = np.asarray(lu).reshape((-1, n, n + 1))
    x = np.array(b.reshape((-1, n, k)), dtype=b.dtype)
    piv = f[:, :, n].astype(np.int64)
    batch = np.arange(x.shape[0])

    def swap(j):
        row = x[batch, j].copy()
        x[batch, j] = x[batch, piv[:, j]]
        x[batch, piv[:, j]] = row

    if not transpose:
        for j in range(n):
            swap(j)
        for i in range(n):        # L y = P b, L unit lower
            x[:, i] -= np.einsum("bj,bjk->bk", f[:, i, :i], x[:, :i])
        for i in reversed(range(n)):   # U x = y
            x[:, i] = (x[:, i] - np.einsum("bj,bjk->bk", f[:, i, i + 1:n], x[:, i + 1:])) / f[:, i, i, None]
    else:
        for i in range(n):        # U^T z = b, U^T lower
            x[:, i] = (x[:, i] - np.einsum("bj,bjk->bk", f[:, :i, i], x[:, :i])) / f[:, i, i, None]
        for i in reversed(range(n)):   # L^T w = z, unit upper
            x[:, i] -= np.einsum("bj,bjk->bk", f[:, i + 1:n, i], x[:, i + 1:])
        for j in reversed(range(n)):   # x = P^T w
            swap(j)
    return x.reshape(b.shape)


def _solve_vjp(g, out, inputs, transpose):
    a, lu, _ = inputs
    db = lu_solve(a, lu, g, not transpose)
    da = L.matmul(db, L.swap_last(out)) if not transpose else L.matmul(out, L.swap_last(db))
    return [E.neg(da), None, db]


def _batch(node, inputs, batched, size):
    """Leading axes are batch axes already: every operand gets the new one."""
    inputs = [i if b else batching.batched_input(i, size) for i, b in zip(inputs, batched)]
    return apply(node.op, *inputs, **dict(node.attrs))


register(Op("lu", SOLVE, _lu_infer, lu_numpy, differentiable=False, batch=_batch))
register(Op("lu_solve", SOLVE, _solve_infer, lu_solve_numpy, _solve_vjp, batch=_batch))


def lu(a):
    """The packed LU factors of square matrices a (..., n, n): (..., n, n + 1)."""
    return apply("lu", a)


def lu_solve(a, lu_factors, b, transpose=False):
    """X with A X = B (A^T X = B if transpose), from lu_factors = lu(A)."""
    return apply("lu_solve", a, lu_factors, b, transpose=bool(transpose))


def solve(a, b):
    """A^-1 B for square A (..., n, n) and B (..., n, k) of the same leading dimensions."""
    return lu_solve(a, lu(a), b)
