"""X[idx] = v rebinds X to the updated value, as MATLAB's X(idx) = v: eager and traced against
numpy's assignment, gradients w.r.t. X and v against central differences, both dtypes."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import UnsupportedOperationError, dlarray, dlfeval, dlgradient, extractdata

from .helpers import RNG, numeric_grad

X0 = RNG.standard_normal((3, 4))
V = RNG.standard_normal(4)

# (key, value of v's shape -> the assigned value); each case is also run by numpy on copies
CASES = [
    ("int row", 1, lambda v: v),
    ("negative int, scalar", (-1, -2), lambda v: v[0] * v[1]),
    ("slice with step", (slice(None), slice(None, None, 2)), lambda v: v[:2]),
    ("reversed slice", (slice(None, None, -1), 0), lambda v: v[:3]),
    ("ellipsis and None", (Ellipsis, None, 2), lambda v: v[1]),
    ("boolean mask", np.array([True, False, True]), lambda v: v),
    ("integer arrays with a repeat (last wins)", ([2, 0, 2], [1, 3, 1]), lambda v: v[:3]),
    ("list of rows", [0, 2], lambda v: v[None, :] * 2),
    ("everything", slice(None), lambda v: v),
]


def _assign(x, v, xp):
    """All CASES applied in turn to x (one reading of x between assignments, as a user would)."""
    for _, key, value in CASES:
        x[key] = value(v) + (x[0, 0] if xp is dl else 0 * x[0, 0]) * 0.5
    return x


def _numpy(x, v):
    x = np.array(x)
    for _, key, value in CASES:
        x[key] = value(v) + x[0, 0] * 0.5
    return x


def _objective(x0, v, u):
    x = dlarray(x0)            # a new dlarray sharing x0's value: x0 itself stays the input
    _assign(x, v, dl)
    return x, dlgradient(dl.sum(x * u), x0, v)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_values_and_gradients_against_numpy(dtype, rtol):
    u = RNG.standard_normal(X0.shape)
    want = _numpy(X0, V)
    x, (gx, gv) = dlfeval(_objective, dlarray(X0.astype(dtype)), dlarray(V.astype(dtype)), u.astype(dtype))
    assert x.dtype == dtype and gx.dtype == dtype
    np.testing.assert_allclose(extractdata(x), want, rtol=rtol, atol=rtol)
    eager = dlarray(X0.astype(dtype))
    _assign(eager, dlarray(V.astype(dtype)), dl)
    np.testing.assert_allclose(extractdata(eager), want, rtol=rtol, atol=rtol)
    if dtype == np.float64:
        np.testing.assert_allclose(extractdata(gx), numeric_grad(lambda a: np.sum(_numpy(a, V) * u), X0),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(extractdata(gv), numeric_grad(lambda b: np.sum(_numpy(X0, b) * u), V),
                                   rtol=1e-6, atol=1e-8)


def test_matlab_example_and_value_semantics():
    # MATLAB: X = [1 2 3 4]; X([1 3]) = 0 gives [0 2 0 4] (0-based here)
    X = dlarray([[1.0, 2.0, 3.0, 4.0]], "CB")
    Y, Z = dlarray(X), X * 1
    X[0, [0, 2]] = 0
    np.testing.assert_array_equal(extractdata(X), [[0, 2, 0, 4]])
    assert dl.dims(X) == "CB"
    np.testing.assert_array_equal(extractdata(Y), [[1, 2, 3, 4]])   # copies keep their value
    np.testing.assert_array_equal(extractdata(Z), [[1, 2, 3, 4]])


def test_a_traced_value_into_an_array_made_inside_the_function():
    def f(x):
        y = dlarray(np.zeros(3))
        y[1] = x * 2
        return y, dlgradient(dl.sum(y * y), x)
    y, g = dlfeval(f, dlarray(1.5))
    np.testing.assert_array_equal(extractdata(y), [0, 3, 0])
    assert float(g) == 12.0


def test_value_is_cast_to_the_arrays_dtype():
    X = dlarray(np.zeros(3, np.float32))
    X[0] = np.float64(1.5)
    assert X.dtype == np.float32 and extractdata(X)[0] == 1.5


OUTSIDE = dlarray(np.zeros(3))


def test_assigning_into_a_captured_dlarray_is_refused():
    def f(x):
        OUTSIDE[0] = x
        return OUTSIDE
    with pytest.raises(UnsupportedOperationError, match="outside the traced function"):
        dlfeval(f, dlarray(1.0))
    np.testing.assert_array_equal(extractdata(OUTSIDE), 0)


def test_errors():
    X = dlarray(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="out of bounds"):
        X[2, 0] = 1.0
    with pytest.raises(ValueError, match="could not broadcast"):
        X[0] = np.ones(2)
    with pytest.raises(TypeError, match="cannot be used as an index"):
        X[dlarray([0.0])] = 1.0
    with pytest.raises(IndexError, match="integer or boolean"):
        X[np.array([0.5])] = 1.0
    np.testing.assert_array_equal(extractdata(X), 0)
