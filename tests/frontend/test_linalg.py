"""norm, vecnorm, dot, pagemtimes, mldivide, mrdivide and numpy.linalg.solve/norm on
dlarrays: values against numpy.linalg, gradients against central differences, and MATLAB's
behaviour for singular systems (Inf/NaN and a warning, never a finite guess)."""
import math
import warnings

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import ShapeError, dlarray, dlfeval, dlgradient, extractdata

from .cases import check_cases
from .helpers import RNG

F32, F64 = (np.float32, 2e-5, 2e-3), (np.float64, 1e-11, 1e-6)
V = RNG.uniform(0.2, 1.0, (5,)) * RNG.choice([-1.0, 1.0], (5,))
M = RNG.uniform(0.2, 1.0, (3, 4)) * RNG.choice([-1.0, 1.0], (3, 4))
SQUARE = RNG.uniform(-1.0, 1.0, (4, 4)) + 3 * np.eye(4)
TALL = RNG.uniform(-1.0, 1.0, (6, 3))
RHS = RNG.uniform(-1.0, 1.0, (4, 2))


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_norms_and_dot(dtype, rtol, grad_rtol):
    check_cases([
        ("norm", dl.norm, np.linalg.norm), ("norm 1", lambda v: dl.norm(v, 1), lambda v: np.linalg.norm(v, 1)),
        ("norm inf", lambda v: dl.norm(v, math.inf), lambda v: np.linalg.norm(v, np.inf)),
        ("norm 3", lambda v: dl.norm(v, 3), lambda v: np.linalg.norm(v, 3)),
        ("norm 0.5", lambda v: dl.norm(v, 0.5), lambda v: np.sum(np.abs(v) ** 0.5) ** 2),
        ("np.linalg.norm", np.linalg.norm, np.linalg.norm),
        ("dot", lambda v: dl.dot(v, v * 2), lambda v: 2 * v @ v),
    ], [V], dtype, rtol, grad_rtol)
    check_cases([
        ("fro", lambda m: dl.norm(m, "fro"), lambda m: np.linalg.norm(m, "fro")),
        ("matrix 1", lambda m: dl.norm(m, 1), lambda m: np.linalg.norm(m, 1)),
        ("matrix inf", lambda m: dl.norm(m, math.inf), lambda m: np.linalg.norm(m, np.inf)),
        ("row vector", lambda m: dl.norm(m[:1]), lambda m: np.linalg.norm(m[0])),
        ("vecnorm", dl.vecnorm, lambda m: np.linalg.norm(m, axis=0)),
        ("vecnorm 1 axis 1", lambda m: dl.vecnorm(m, 1, 1), lambda m: np.linalg.norm(m, 1, axis=1)),
        ("vecnorm inf keepdims", lambda m: dl.vecnorm(m, math.inf, 1, True),
         lambda m: np.linalg.norm(m, np.inf, axis=1, keepdims=True)),
        ("np.linalg.norm axis", lambda m: np.linalg.norm(m, axis=1), lambda m: np.linalg.norm(m, axis=1)),
        ("dot default", lambda m: dl.dot(m, m), lambda m: np.sum(m * m, 0)),
        ("dot axis", lambda m: dl.dot(m, m + 1, 1), lambda m: np.sum(m * (m + 1), 1)),
    ], [M], dtype, rtol, grad_rtol)


def test_norms_neither_overflow_nor_underflow_and_have_gradient_zero_at_zero():
    for scale in (1e200, 1e-200):
        x = np.array([3.0, -4.0]) * scale
        assert float(dl.norm(x)) == pytest.approx(5 * scale, rel=1e-15)
        assert float(dl.vecnorm(x, 3)) == pytest.approx(np.cbrt(91.0) * scale, rel=1e-15)
    assert float(dl.norm(np.array([np.inf, 1.0]))) == math.inf
    assert math.isnan(float(dl.norm(np.array([np.nan, 1.0]))))
    g = dlfeval(lambda x: dlgradient(dl.norm(x) + dl.norm(x, "fro"), x), dlarray(np.zeros(3)))
    np.testing.assert_array_equal(extractdata(g), 0.0)
    g = dlfeval(lambda x: dlgradient(dl.norm(x), x), dlarray(np.array([3e200, -4e200])))
    np.testing.assert_allclose(extractdata(g), [0.6, -0.8], rtol=1e-15)


def test_norm_errors():
    with pytest.raises(ShapeError, match="only 'fro'"):
        dl.norm(np.ones((2, 3, 4)), 1)
    with pytest.raises(ValueError, match="positive number"):
        dl.vecnorm(np.ones(3), -1)
    with pytest.raises(ShapeError, match="same shape"):
        dl.dot(np.ones(3), np.ones(4))


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_pagemtimes(dtype, rtol, grad_rtol):
    x, y = RNG.uniform(-1, 1, (2, 3, 4)), RNG.uniform(-1, 1, (2, 4, 3))
    check_cases([
        ("none", dl.pagemtimes, np.matmul),
        ("transpose both", lambda x, y: dl.pagemtimes(x, "transpose", y, "ctranspose"),
         lambda x, y: np.swapaxes(x, 1, 2) @ np.swapaxes(y, 1, 2)),
        ("transpose y", lambda x, y: dl.pagemtimes(x, "none", x, "transpose"), lambda x, y: x @ np.swapaxes(x, 1, 2)),
    ], [x, y], dtype, rtol, grad_rtol)
    with pytest.raises(ValueError, match="transpX must be one of"):
        dl.pagemtimes(x, "T", y, "none")


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_solves(dtype, rtol, grad_rtol):
    check_cases([
        ("mldivide", dl.mldivide, np.linalg.solve),
        ("mldivide vector", lambda a, b: dl.mldivide(a, b[:, 0]), lambda a, b: np.linalg.solve(a, b[:, 0])),
        ("np.linalg.solve", np.linalg.solve, np.linalg.solve),
        ("mrdivide", lambda a, b: dl.mrdivide(b.T, a), lambda a, b: np.linalg.solve(a.T, b).T),
        ("mrdivide row", lambda a, b: dl.mrdivide(b[:, 1], a), lambda a, b: np.linalg.solve(a.T, b[:, 1])),
        ("scalar", lambda a, b: dl.mldivide(a[:1, :1], b), lambda a, b: b / a[0, 0]),
    ], [SQUARE, RHS], dtype, rtol, grad_rtol)
    check_cases([("least squares", dl.mldivide, lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0])],
                [TALL, RHS[:, :1].repeat(2, 0)[:6]], dtype, 100 * rtol, grad_rtol)


def test_batched_solve_broadcasts_like_numpy():
    a = RNG.uniform(-1, 1, (2, 1, 3, 3)) + 2 * np.eye(3)
    b = RNG.uniform(-1, 1, (4, 3, 2))
    for got in (np.linalg.solve(dlarray(a), dlarray(b)), dlfeval(np.linalg.solve, dlarray(a), dlarray(b))):
        np.testing.assert_allclose(extractdata(got), np.linalg.solve(a, b), rtol=1e-12)


def test_singular_systems_give_inf_or_nan_and_a_warning_as_matlab():
    """MATLAB: [1 2; 2 4] \\ [1; 2] warns "singular to working precision" and gives Inf/NaN."""
    a, b = np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="singular"):
        eager = extractdata(dl.mldivide(a, b))
    traced = extractdata(dlfeval(dl.mldivide, dlarray(a), dlarray(b)))
    for x in (eager, traced):
        assert not np.isfinite(x).all()
    np.testing.assert_array_equal(np.isnan(eager), np.isnan(traced))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dl.mldivide(SQUARE, RHS)   # a well-conditioned system warns nothing
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):   # numpy's name, numpy's error
        np.linalg.solve(dlarray(a), dlarray(b))


def _basic(a, b):
    """MATLAB's basic solution through scipy's pivoted QR (LAPACK dgeqp3) and MATLAB's rank tolerance."""
    linalg = pytest.importorskip("scipy.linalg")
    q, r, p = linalg.qr(a, pivoting=True, mode="economic")
    d = np.abs(np.diag(r))
    rank = int(np.sum(d > max(a.shape) * np.finfo(float).eps * d[0]))
    x = np.zeros((a.shape[1],) + b.shape[1:])
    x[p[:rank]] = linalg.solve_triangular(r[:rank, :rank], (q.T @ b)[:rank])
    return x


WIDE = RNG.uniform(-1.0, 1.0, (3, 5))
DEFICIENT = np.column_stack([TALL[:, :2], TALL[:, 0] * 2 + TALL[:, 1] * 0.5])


def test_matlab_basic_solution_example():
    """mldivide's doc page: [1 2 0; 0 4 3] \\ [8; 18] is [0; 4; 0.6667], a basic solution (at most
    rank(A) nonzeros), not the minimum-norm one pinv(A) * b."""
    a, b = np.array([[1.0, 2.0, 0.0], [0.0, 4.0, 3.0]]), np.array([8.0, 18.0])
    for got in (dl.mldivide(a, b), dlfeval(dl.mldivide, dlarray(a), dlarray(b))):
        np.testing.assert_allclose(extractdata(got), [0.0, 4.0, 2.0 / 3.0], atol=1e-15)
    np.testing.assert_allclose(extractdata(dl.mrdivide(b, a.T)), [0.0, 4.0, 2.0 / 3.0], atol=1e-15)


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_wide_systems_get_the_basic_solution(dtype, rtol, grad_rtol):
    check_cases([("wide", dl.mldivide, _basic),
                 ("wide vector", lambda a, b: dl.mldivide(a, b[:, 0]), lambda a, b: _basic(a, b[:, 0])),
                 ("mrdivide wide", lambda a, b: dl.mrdivide(b.T, a.T), lambda a, b: _basic(a, b).T)],
                [WIDE, RHS[:3]], dtype, 100 * rtol, grad_rtol)


def test_rank_deficient_systems_get_the_basic_solution_and_matlab_warning():
    """A tall A of rank 2: MATLAB warns "Rank deficient, rank = 2, tol = ..." and returns the least-squares
    solution in the two pivot columns (finite, not Inf/NaN); compiled code gives the same numbers."""
    b = RNG.uniform(-1.0, 1.0, (6, 2))
    with pytest.warns(RuntimeWarning, match="Rank deficient, rank = 2, tol = "):
        eager = extractdata(dl.mldivide(DEFICIENT, b))
    traced = extractdata(dlfeval(dl.mldivide, dlarray(DEFICIENT), dlarray(b)))
    want = _basic(DEFICIENT, b)
    for got in (eager, traced):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert np.count_nonzero(np.abs(got).sum(1)) == 2
    u = RNG.standard_normal((3, 2))   # the gradient in b (A's rank is a jump: no difference quotient there)
    with pytest.warns(RuntimeWarning, match="Rank deficient"):   # A is a constant: factored at the trace
        g = extractdata(dlfeval(lambda b: dlgradient(dl.sum(dl.mldivide(DEFICIENT, b) * u), b), dlarray(b)))
    step = 1e-6
    for i in np.ndindex(b.shape):
        e = np.zeros_like(b)
        e[i] = step
        assert g[i] == pytest.approx(np.sum((_basic(DEFICIENT, b + e) - _basic(DEFICIENT, b - e)) * u) / (2 * step),
                                     rel=1e-6, abs=1e-8)
    with pytest.warns(RuntimeWarning, match="rank = 0"):   # rank 0: zeros, as MATLAB
        zero = extractdata(dl.mldivide(np.zeros((3, 2)), np.ones(3)))
    np.testing.assert_array_equal(zero, 0.0)
    assert np.isnan(extractdata(dlfeval(dl.mldivide, dlarray(np.array([[1.0, np.nan]])), dlarray(np.ones(1))))).all()


def test_basic_solution_of_huge_and_tiny_systems():
    """The pivot columns are chosen by norms of A scaled by a power of two: entries of 1e200 or 1e-200
    give the same basic columns (and a scaled solution) as entries of 1."""
    b = RNG.uniform(-1.0, 1.0, (6, 1))
    with pytest.warns(RuntimeWarning, match="Rank deficient"):
        want = extractdata(dl.mldivide(DEFICIENT, b))
    for scale in (1e200, 1e-200):
        got = extractdata(dlfeval(dl.mldivide, dlarray(DEFICIENT * scale), dlarray(b)))
        np.testing.assert_allclose(got * scale, want, rtol=1e-12, atol=1e-14)


def test_solve_errors():
    with pytest.raises(ShapeError, match="B needs 4 rows"):
        dl.mldivide(SQUARE, np.ones(3))
    with pytest.raises(ShapeError, match="square"):
        np.linalg.solve(dlarray(np.ones((2, 3))), dlarray(np.ones(2)))


def test_jacobians_through_a_solve_with_a_constant_matrix_and_a_sort():
    """dljacobian replays solve and sort with a batch axis (their batch rules); A is a constant."""
    a = np.array([[3.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 5.0]])
    b = np.array([1.0, -2.0, 0.5])

    def f(b):
        x = dl.mldivide(a, b)
        return dl.dljacobian(x, b, 0), dl.dljacobian(dl.sort(x * b), b, 0)

    solve_jacobian, sort_jacobian = dlfeval(f, dlarray(b))
    np.testing.assert_allclose(extractdata(solve_jacobian), np.linalg.inv(a), rtol=1e-14, atol=1e-16)
    step = 1e-6 * np.eye(3)
    reference = np.stack([(np.sort(np.linalg.solve(a, b + e) * (b + e)) - np.sort(np.linalg.solve(a, b - e) * (b - e)))
                          / 2e-6 for e in step], 1)
    np.testing.assert_allclose(extractdata(sort_jacobian), reference, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype, condition, tolerance", [(np.float64, 1e6, 1e-8), (np.float32, 1e3, 3e-3)])
def test_least_squares_is_accurate_for_an_ill_conditioned_tall_matrix(dtype, condition, tolerance):
    """Householder QR, as MATLAB: the error grows with cond(A), not cond(A)^2 as through the normal
    equations (off by ~2e-5 in float64 at cond 1e6, by ~2e-2 in float32 at cond 1e3)."""
    rng = np.random.default_rng(1)
    u, v = np.linalg.qr(rng.standard_normal((20, 4)))[0], np.linalg.qr(rng.standard_normal((4, 4)))[0]
    a = u @ np.diag([1.0, condition ** (-1 / 3), condition ** (-2 / 3), 1 / condition]) @ v.T
    b = rng.standard_normal((20, 1))
    a, b = a.astype(dtype), b.astype(dtype)
    want = np.linalg.lstsq(a.astype(float), b.astype(float), rcond=None)[0]
    for got in (dl.mldivide(a, b), dlfeval(dl.mldivide, dlarray(a), dlarray(b))):
        assert extractdata(got).dtype == dtype
        np.testing.assert_allclose(extractdata(got), want, rtol=0, atol=tolerance * np.abs(want).max())
