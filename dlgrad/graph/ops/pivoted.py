"""MATLAB's basic solution of rectangular systems: Householder QR with column pivoting.

`qrp(A)` packs, for matrices A (..., m, n) of any shape, the factors of A P = Q R into one array
(..., m + 1, n + 1): R on and above the diagonal, the Householder vectors below it (their
leading 1 implied) and each reflector's tau in the last column (LAPACK's dgeqp3 layout); the
last row holds the permutation (entry j: the column of A moved to position j, as floats) and,
in its last column, the rank r: the number of |R_jj| > max(m, n) eps |R_00| (MATLAB's
tolerance): the factorisation stops at the first column below it, leaving the rest unreduced.
At step j the remaining column of largest norm (the first of equal ones) pivots; the norms are
compared as those of A / 2^e, e the exponent of max |A| (exact), so none overflows or underflows.
A NaN or Inf in A makes the factors, and so the solutions, NaN.

`qrp_solve(A, F, B)` is the basic solution X of A X = B, padded with zeros to (..., max(m, n), k)
(Q^T B is formed in the output): at most r nonzero rows, those of the pivot columns,
X_B = R11^-1 (Q^T B)[:r], which is the least-squares solution in those columns. `qrp_gram(A, F, G)` is P_B (A_B^T A_B)^-1 P_B^T G (zero outside the pivot
columns). With the pivots and the rank held fixed (they change only by jumps), the adjoints are
the least-squares ones restricted to A_B (A_B^T A_B = R11^T R11):
    X:  Z = qrp_gram(A, F, gX),  dB = A Z,  dA = (B - A X) Z^T - A Z X^T;
    Y = qrp_gram(A, F, G):  dG = qrp_gram(A, F, H),  dA = -A (dG Y^T + Y dG^T).
codegen/kinds/pivoted.py writes the C.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import batching
from ..registry import Op, apply, register
from . import elementwise as E
from . import linalg as L
from . import movement as M

PIVOTED = "pivoted"


def rank_tolerance(dtype, m, n):
    """|R_jj| must exceed this times |R_00| for column j to count (MATLAB's max(m, n) eps)."""
    return max(m, n) * float(np.finfo(dtype).eps)


def _qrp_infer(inputs):
    (a,) = inputs
    if a.ndim < 2 or 0 in a.shape[-2:]:
        raise ShapeError(f"qrp needs non-empty matrices (..., m, n), got shape {a.shape}")
    m, n = a.shape[-2:]
    return a.shape[:-2] + (m + 1, n + 1), a.dtype


def _factor(f, m, n, tol):
    """One matrix f (m + 1, n + 1), A in its top-left corner, factored in place."""
    if not np.isfinite(f[:m, :n]).all():   # NaN or Inf in A: NaN factors, rank and solutions
        f[:] = np.nan
        return
    f[m, :n] = np.arange(n)
    shift = np.frexp(np.abs(f[:m, :n]).max())[1]   # column sizes of A / 2^shift: no overflow
    for j in range(min(m, n)):
        sizes = np.cumsum(np.ldexp(f[j:m, j:n], -shift) ** 2, axis=0)[-1]   # summed in order, as the C
        p = j + int(np.argmax(np.where(np.isnan(sizes), -1, sizes)))
        f[:m, [j, p]] = f[:m, [p, j]]
        f[m, j] = p
        x = f[j:m, j]
        scale = np.abs(x).max()
        norm = scale * np.sqrt(np.sum((x / scale) ** 2)) if scale > 0 else scale
        if j == 0:
            limit = tol * norm
        if not norm > limit:   # the rest is negligible: the rank is j, the rest stays as it is
            f[m, n] = j
            return
        alpha = x[0]
        beta = -np.copysign(norm, alpha)
        tau = (beta - alpha) / beta
        f[j + 1:m, j] /= alpha - beta
        v = f[j + 1:m, j]
        for c in range(j + 1, n):
            dot = f[j, c] + v @ f[j + 1:m, c]
            f[j, c] -= tau * dot
            f[j + 1:m, c] -= tau * dot * v
        f[j, j], f[j, n] = beta, tau
    f[m, n] = min(m, n)


def qrp_numpy(a):
    a = np.asarray(a)
    m, n = a.shape[-2:]
    f = np.zeros(a.shape[:-2] + (m + 1, n + 1), a.dtype).reshape((-1, m + 1, n + 1))
    f[:, :m, :n] = a.reshape((-1, m, n))
    tol = a.dtype.type(rank_tolerance(a.dtype, m, n))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for matrix in f:
            _factor(matrix, m, n, tol)
    return f.reshape(a.shape[:-2] + (m + 1, n + 1))


def _check(a, factors, b, rows, what):
    if (a.ndim < 2 or factors.shape != a.shape[:-2] + (a.shape[-2] + 1, a.shape[-1] + 1) or b.ndim != a.ndim
            or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != rows):
        raise ShapeError(f"{what} needs A (..., m, n), its factors (..., m+1, n+1) and a right side with "
                         f"{rows} rows, got {a.shape}, {factors.shape} and {b.shape}")


def _solve_infer(inputs):
    a, factors, b = inputs
    _check(a, factors, b, a.shape[-2], "qrp_solve")
    return a.shape[:-2] + (max(a.shape[-2:]), b.shape[-1]), b.dtype


def _gram_infer(inputs):
    a, factors, g = inputs
    _check(a, factors, g, a.shape[-1], "qrp_gram")
    return g.shape, g.dtype


def _triangular(f, y, r, transposed_first):
    """y[:r] <- R11^-1 y[:r] (after R11^-T if transposed_first), R11 = f[:r, :r]."""
    if transposed_first:
        for i in range(r):
            y[i] = (y[i] - f[:i, i] @ y[:i]) / f[i, i]
    for i in reversed(range(r)):
        y[i] = (y[i] - f[i, i + 1:r] @ y[i + 1:r]) / f[i, i]


def _swaps(f, y, m, n, backwards):
    """y <- P^T y (the factorisation's column swaps in order), or P y (backwards)."""
    steps = range(min(m, n))
    for j in (reversed(steps) if backwards else steps):
        p = int(f[m, j])
        y[[j, p]] = y[[p, j]]


def _solve_one(f, b, m, n):
    y = np.zeros((max(m, n), b.shape[1]), b.dtype)
    if np.isnan(f[m, n]):
        return y + np.nan
    y[:m] = b
    for j in range(min(m, n)):   # y <- H_j y
        v = f[j + 1:m, j]
        w = y[j] + v @ y[j + 1:m]
        y[j] -= f[j, n] * w
        y[j + 1:m] -= f[j, n] * np.outer(v, w)
    r = int(f[m, n])
    _triangular(f, y, r, False)
    y[r:] = 0
    _swaps(f, y, m, n, True)
    return y


def _gram_one(f, g, m, n):
    if np.isnan(f[m, n]):
        return np.full_like(g, np.nan)
    r = int(f[m, n])
    y = np.array(g)
    _swaps(f, y, m, n, False)
    _triangular(f, y, r, True)
    y[r:] = 0
    _swaps(f, y, m, n, True)
    return y


def _each(one, factors, right, rows_out):
    right = np.asarray(right)
    m, n = factors.shape[-2] - 1, factors.shape[-1] - 1
    f = np.asarray(factors).reshape((-1, m + 1, n + 1))
    rhs = right.reshape((f.shape[0],) + right.shape[-2:])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.stack([one(fi, bi, m, n) for fi, bi in zip(f, rhs)])
    return out.reshape(right.shape[:-2] + (rows_out, right.shape[-1]))


def qrp_solve_numpy(a, factors, b):
    return _each(_solve_one, factors, b, max(factors.shape[-2:]) - 1)


def qrp_gram_numpy(a, factors, g):
    return _each(_gram_one, factors, g, factors.shape[-1] - 1)


def _top(x, n):
    """The first n rows of x (..., r, k)."""
    return M.slice_(x, tuple((0, n, 1) if d == x.ndim - 2 else (0, s, 1) for d, s in enumerate(x.shape)))


def _solve_vjp(g, out, inputs):
    a, f, b = inputs
    n = a.shape[-1]
    x = _top(out, n)
    z = qrp_gram(a, f, _top(g, n))
    az = L.matmul(a, z)
    residual = E.sub(b, L.matmul(a, x))
    return [E.sub(L.matmul(residual, L.swap_last(z)), L.matmul(az, L.swap_last(x))), None, az]


def _gram_vjp(h, out, inputs):
    a, f, _ = inputs
    dg = qrp_gram(a, f, h)
    both = E.add(L.matmul(dg, L.swap_last(out)), L.matmul(out, L.swap_last(dg)))
    return [E.neg(L.matmul(a, both)), None, dg]


def _batch(node, inputs, batched, size):
    inputs = [i if b else batching.batched_input(i, size) for i, b in zip(inputs, batched)]
    return apply(node.op, *inputs, **dict(node.attrs))


register(Op("qrp", PIVOTED, _qrp_infer, qrp_numpy, differentiable=False, batch=_batch))
register(Op("qrp_solve", PIVOTED, _solve_infer, qrp_solve_numpy, _solve_vjp, batch=_batch))
register(Op("qrp_gram", PIVOTED, _gram_infer, qrp_gram_numpy, _gram_vjp, batch=_batch))


def qrp(a):
    """The packed column-pivoted QR of a (..., m, n): (..., m + 1, n + 1), pivots and rank in the last row."""
    return apply("qrp", a)


def qrp_solve(a, factors, b):
    """MATLAB's basic solution of a X = b from factors = qrp(a), padded to (..., max(m, n), k)."""
    return apply("qrp_solve", a, factors, b)


def qrp_gram(a, factors, g):
    """P_B (A_B^T A_B)^-1 P_B^T g, A_B a's first rank pivot columns, zero elsewhere."""
    return apply("qrp_gram", a, factors, g)
