"""svd, cond and the matrix 2-norm: MATLAB's documented examples, values against numpy.linalg,
gradients against central differences (through sign-invariant functions of U and V), float32
and float64, and clear errors."""
import math
import warnings

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import ShapeError, dlarray, dlfeval, dlgradient, extractdata

from .cases import check_cases
from .helpers import RNG

F32, F64 = (np.float32, 2e-5, 2e-3), (np.float64, 1e-11, 1e-6)
TALL = RNG.uniform(-1.0, 1.0, (5, 3))
WIDE = RNG.uniform(-1.0, 1.0, (2, 4))
SQUARE = RNG.uniform(-1.0, 1.0, (3, 3))


def _thin(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u, s, vt.T


def test_matlab_examples():
    """svd, norm and cond doc pages: [1 2; 3 4; 5 6; 7 8] has singular values 14.2691, 0.6268;
    norm([2 0 1; -1 1 0; -3 3 0]) = 4.7234; cond([4.1 2.8; 9.7 6.6]) = 1.6230e+03."""
    a = np.array([[1.0, 2], [3, 4], [5, 6], [7, 8]])
    np.testing.assert_allclose(extractdata(dl.svd(a)), [14.2691, 0.6268], atol=5e-5)
    assert float(dl.norm(np.array([[2.0, 0, 1], [-1, 1, 0], [-3, 3, 0]]))) == pytest.approx(4.7234, abs=5e-5)
    assert float(dl.cond(np.array([[4.1, 2.8], [9.7, 6.6]]))) == pytest.approx(1.6230e3, rel=1e-4)


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [F64, F32])
def test_values_and_gradients(dtype, rtol, grad_rtol):
    def outer(a, i):   # u_i v_i^T: the same for either sign of the pair
        u, _, v = _thin(a)
        return np.outer(u[:, i], v[:, i])

    def dl_outer(a, i):
        u, _, v = dl.svd(a, "econ", nargout=3)
        return dl.reshape(u[:, i], (-1, 1)) * dl.reshape(v[:, i], (1, -1))

    for matrix in (TALL, WIDE, SQUARE):
        check_cases([
            ("svd", dl.svd, lambda a: np.linalg.svd(a, compute_uv=False)),
            ("norm", dl.norm, lambda a: np.linalg.norm(a, 2)),
            ("norm 2", lambda a: dl.norm(a, 2), lambda a: np.linalg.norm(a, 2)),
            ("np.linalg.norm 2", lambda a: np.linalg.norm(a, 2), lambda a: np.linalg.norm(a, 2)),
            ("cond", dl.cond, np.linalg.cond),
            ("U S V'", lambda a: (lambda u, s, v: u @ s @ v.T)(*dl.svd(a, "econ", nargout=3)), lambda a: a),
            ("u1 v1'", lambda a: dl_outer(a, 0), lambda a: outer(a, 0)),
            ("u2 v2'", lambda a: dl_outer(a, 1), lambda a: outer(a, 1)),
            ("U.^2", lambda a: dl.svd(a, "econ", nargout=3)[0] ** 2, lambda a: _thin(a)[0] ** 2),
            ("V.^2", lambda a: dl.svd(a, "econ", nargout=3)[2] ** 2, lambda a: _thin(a)[2] ** 2),
        ], [matrix], dtype, rtol, grad_rtol)
    check_cases([("cond 1", lambda a: dl.cond(a, 1), lambda a: np.linalg.cond(a, 1)),
                 ("cond inf", lambda a: dl.cond(a, math.inf), lambda a: np.linalg.cond(a, np.inf)),
                 ("cond fro", lambda a: dl.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"))],
                [SQUARE + 2 * np.eye(3)], dtype, 10 * rtol, grad_rtol)


def test_factors_and_outputs_as_matlab():
    """U, S, V = svd(A, "econ") reads the caller's three names (nargout); S is diagonal, descending."""
    u, s, v = dl.svd(TALL, "econ")
    assert (u.shape, s.shape, v.shape) == ((5, 3), (3, 3), (3, 3))
    np.testing.assert_allclose(extractdata(u @ s @ v.T), TALL, atol=1e-14)
    np.testing.assert_allclose(extractdata(u.T @ u), np.eye(3), atol=1e-14)
    np.testing.assert_allclose(extractdata(v.T @ v), np.eye(3), atol=1e-14)
    values = np.diag(extractdata(s))
    assert (np.diff(values) <= 0).all() and np.count_nonzero(extractdata(s) - np.diag(values)) == 0
    u, s, v = dl.svd(WIDE, "econ", "vector")
    assert (u.shape, s.shape, v.shape) == ((2, 2), (2,), (4, 2))
    u, s, v = dl.svd(SQUARE)   # square: the full SVD is the thin one
    np.testing.assert_allclose(extractdata(u @ s @ v.T), SQUARE, atol=1e-14)
    np.testing.assert_allclose(extractdata(dl.svd(TALL, "matrix")), np.diag(np.linalg.svd(TALL, compute_uv=False)),
                               rtol=1e-14)

    def traced(a):
        u, s, v = dl.svd(a, "econ")
        return u @ s @ v.T, dl.svd(a)
    product, values = dlfeval(traced, dlarray(TALL))
    np.testing.assert_allclose(extractdata(product), TALL, atol=1e-14)
    np.testing.assert_allclose(extractdata(values), np.linalg.svd(TALL, compute_uv=False), rtol=1e-14)


def test_rank_deficient_and_special_matrices():
    """A zero singular value: U still has orthonormal columns, cond is Inf (MATLAB's cond); the zero
    matrix has norm 0 and gradient u1 v1^T; huge entries do not overflow; NaN gives NaN."""
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    a[:, 2] = 0.0
    u, s, v = dl.svd(a, "econ", "vector")
    np.testing.assert_allclose(extractdata(s), np.linalg.svd(a, compute_uv=False), atol=1e-14)
    assert float(extractdata(s)[2]) == 0.0
    np.testing.assert_allclose(extractdata(u.T @ u), np.eye(3), atol=1e-14)
    assert float(dl.cond(a)) == math.inf and float(dlfeval(dl.cond, dlarray(a))) == math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # MATLAB's cond(A, 1) of a singular A is Inf, with no warning
        assert float(dl.cond(np.array([[1.0, 2.0], [2.0, 4.0]]), 1)) == math.inf
    g = dlfeval(lambda x: dlgradient(dl.norm(x), x), dlarray(np.zeros((3, 2))))
    np.testing.assert_array_equal(extractdata(g), [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    big = np.array([[3e200, 1.0], [1.0, 4e200]])
    np.testing.assert_allclose(extractdata(dlfeval(dl.svd, dlarray(big))), [4e200, 3e200], rtol=1e-15)
    assert math.isnan(float(dlfeval(dl.norm, dlarray(np.array([[1.0, math.nan], [0.0, 1.0]])))))


def test_repeated_singular_values_give_finite_gradients():
    """sigma_max of diag(3, 1, 1) is simple: its gradient e1 e1^T is exact though the others repeat;
    the sum of the singular values of any matrix has the gradient U V^T (the equal-value terms are 0)."""
    a = np.diag([3.0, 1.0, 1.0])
    g = dlfeval(lambda x: dlgradient(dl.norm(x), x), dlarray(a))
    np.testing.assert_array_equal(extractdata(g), np.diag([1.0, 0.0, 0.0]))
    g = dlfeval(lambda x: dlgradient(dl.sum(dl.svd(x)), x), dlarray(np.eye(3)))
    np.testing.assert_allclose(extractdata(g), np.eye(3), atol=1e-15)


def test_second_derivative_of_the_two_norm():
    """d/dA |grad norm(A)|^2 through the SVD's own adjoint, against central differences."""
    def gradient_size(a):
        g = dlgradient(dl.norm(a) ** 2, a, EnableHigherDerivatives=True)
        return dl.sum(g * g), dlgradient(dl.sum(g * g), a)
    _, got = dlfeval(gradient_size, dlarray(TALL))

    def size(a):   # |d norm^2 / dA|^2 = |2 s1 u1 v1^T|^2 = 4 s1^2
        return 4 * np.linalg.norm(a, 2) ** 2
    step = 1e-6
    want = np.zeros_like(TALL)
    for i in np.ndindex(TALL.shape):
        e = np.zeros_like(TALL)
        e[i] = step
        want[i] = (size(TALL + e) - size(TALL - e)) / (2 * step)
    np.testing.assert_allclose(extractdata(got), want, rtol=1e-6, atol=1e-6)


def test_errors():
    with pytest.raises(ShapeError, match="non-empty matrix"):
        dl.svd(np.ones((2, 3, 4)))
    with pytest.raises(NotImplementedError, match="svd\\(A, 'econ'\\)"):
        u, s, v = dl.svd(TALL)
    with pytest.raises(ValueError, match="svd options"):
        dl.svd(TALL, "thin")
    with pytest.raises(ValueError, match="1 or 3 outputs"):
        dl.svd(TALL, nargout=2)
    with pytest.raises(ValueError, match="cond's p"):
        dl.cond(SQUARE, 3)
    with pytest.raises(ShapeError, match="square matrix"):
        dl.cond(TALL, 1)
    with pytest.raises(ShapeError, match="only 'fro'"):
        dl.norm(np.ones((2, 3, 4)), 2)
