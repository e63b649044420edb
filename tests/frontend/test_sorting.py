"""sort ([B, I] = sort(A, dim, direction)), numpy.sort/argsort and onehotdecode on dlarrays:
values and positions against numpy's stable sort (MATLAB's NaN placement), the gradient of
sorted values against central differences."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata

from .cases import check_cases
from .helpers import RNG

X = RNG.uniform(-1.0, 1.0, (3, 5, 2))
TIES = np.array([[3.0, 1.0, 2.0, np.nan, 1.0, -0.0], [0.0, -0.0, 5.0, 5.0, -1.0, np.inf],
                 [np.nan, np.nan, 1.0, -np.inf, np.inf, 1.0]])


def _descend(x, axis):
    """MATLAB's descending sort: stable, NaN first (numpy sorts -x stably, NaN last)."""
    order = np.argsort(-x, axis=axis, kind="stable")
    moved = np.moveaxis(order, axis, -1)
    keys = np.take_along_axis(np.moveaxis(x, axis, -1), moved, -1)
    nan_first = np.argsort(~np.isnan(keys), axis=-1, kind="stable")
    return np.moveaxis(np.take_along_axis(moved, nan_first, -1), -1, axis)


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [(np.float64, 1e-12, 1e-6), (np.float32, 2e-6, 1e-3)])
def test_sorted_values_and_their_gradient(dtype, rtol, grad_rtol):
    check_cases([
        ("sort default", dl.sort, lambda x: np.sort(x, 0)),
        ("sort axis 1", lambda x: dl.sort(x, 1), lambda x: np.sort(x, 1)),
        ("sort descend", lambda x: dl.sort(x, 2, "descend"), lambda x: -np.sort(-x, 2)),
        ("np.sort", np.sort, np.sort), ("np.sort flat", lambda x: np.sort(x, axis=None), lambda x: np.sort(x, None)),
        ("sort values I", lambda x: dl.sort(x, 1, return_indices=True)[0], lambda x: np.sort(x, 1)),
        ("sort then weight", lambda x: dl.sort(x * x, 1) * np.arange(5.0, dtype=x.dtype)[:, None],
         lambda x: np.sort(x * x, 1) * np.arange(5.0)[:, None]),
    ], [X], dtype, rtol, grad_rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ties_nan_and_positions_match_matlab(dtype):
    """Ties keep their order (0 and -0 too); NaN last ascending and first descending, as MATLAB;
    I is the 0-based origin of each value, eager and compiled alike."""
    x = TIES.astype(dtype)

    def both(x):
        return dl.sort(x, 1, return_indices=True), dl.sort(x, 0, "descend", return_indices=True), np.argsort(x)

    for (b, i), (bd, idd), a in (both(dlarray(x)), dlfeval(both, dlarray(x))):
        want = np.argsort(x, axis=1, kind="stable")
        np.testing.assert_array_equal(extractdata(i), want)
        np.testing.assert_array_equal(extractdata(a), want)
        np.testing.assert_array_equal(extractdata(b), np.take_along_axis(x, want, 1))
        np.testing.assert_array_equal(np.signbit(extractdata(b)), np.signbit(np.take_along_axis(x, want, 1)))
        down = _descend(x, 0)
        np.testing.assert_array_equal(extractdata(idd), down)
        np.testing.assert_array_equal(extractdata(bd), np.take_along_axis(x, down, 0))
        assert extractdata(i).dtype == dtype


def test_gradient_follows_each_value_to_where_it_came_from():
    x = np.array([[3.0, 1.0, 2.0, 1.0]])
    g = dlfeval(lambda x: dlgradient(dl.sum(dl.sort(x, 1) * np.array([1.0, 10.0, 100.0, 1000.0])), x), dlarray(x))
    np.testing.assert_array_equal(extractdata(g), [[1000.0, 1.0, 100.0, 10.0]])   # the tie: first 1 first
    g2 = dlfeval(lambda x: dlgradient(dl.sum(dl.sort(x, 1, "descend") ** 3), x), dlarray(x))
    np.testing.assert_allclose(extractdata(g2), 3 * x ** 2)


def test_onehotdecode():
    """MATLAB's onehotdecode: the class of the largest score along the 'C' axis; ties to the first."""
    scores = np.array([[0.1, 0.7, 0.7], [0.6, 0.2, 0.1], [0.3, 0.1, 0.2]])   # C x B
    labels = dl.onehotdecode(dlarray(scores, "CB"), ["cat", "dog", "fish"])
    np.testing.assert_array_equal(labels, ["dog", "cat", "cat"])
    np.testing.assert_array_equal(dl.onehotdecode(scores, [10, 20, 30], 0), [20, 10, 10])
    traced = dlfeval(lambda s: dl.onehotdecode(s, np.array([10.0, 20.0, 30.0]), 0), dlarray(scores))
    np.testing.assert_array_equal(extractdata(traced), [20.0, 10.0, 10.0])
    with pytest.raises(TypeError, match="numeric classes"):
        dlfeval(lambda s: dl.onehotdecode(s, ["a", "b", "c"], 0), dlarray(scores))
    with pytest.raises(ValueError, match="axis="):
        dl.onehotdecode(scores, ["a", "b", "c"])


def test_sort_errors():
    with pytest.raises(ValueError, match="'ascend' or 'descend'"):
        dl.sort(np.ones(3), 0, "up")
    with pytest.raises(dl.ShapeError, match="out of range"):
        dl.sort(np.ones(3), 2)


def _matlab_order(x, descend, comparison, missing):
    """MATLAB's sort order of a 1-D x by lexsort: NaN placement, then |x| or x, then angle, then position."""
    nan = np.isnan(x)
    key = np.where(nan, 0.0, np.abs(x) if comparison == "abs" else x)
    angle = (x < 0).astype(float) if comparison == "abs" else np.zeros_like(x)
    nan_first = missing == "first" or (missing == "auto" and descend)
    sign = -1.0 if descend else 1.0
    return np.lexsort((np.arange(x.size), sign * angle, sign * key, ~nan if nan_first else nan))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_comparison_method_and_missing_placement(dtype):
    """ComparisonMethod "abs" (ties of |x|: x >= 0 first ascending, MATLAB's angle order) and
    MissingPlacement "first"/"last"/"auto", eager and compiled, values and 0-based positions."""
    x = np.array([-3.0, 2.0, np.nan, 3.0, -2.0, 1.0, np.nan, -1.0, 0.0, 0.5]).astype(dtype)
    for comparison in ("auto", "real", "abs"):
        for missing in ("auto", "first", "last"):
            for direction in ("ascend", "descend"):
                want = _matlab_order(x.astype(float), direction == "descend", comparison, missing)

                def f(a, d=direction, c=comparison, m=missing):
                    return dl.sort(a, 0, d, True, ComparisonMethod=c, MissingPlacement=m)
                for values, order in (f(x), dlfeval(f, dlarray(x))):
                    label = f"{comparison} {missing} {direction}"
                    np.testing.assert_array_equal(extractdata(order), want, err_msg=label)
                    np.testing.assert_array_equal(extractdata(values), x[want], err_msg=label)
    # MATLAB's doc example: sort([NaN 3 6 0 NaN], 'MissingPlacement', 'first') is [NaN NaN 0 3 6]
    b = dl.sort(np.array([np.nan, 3.0, 6.0, 0.0, np.nan]), MissingPlacement="first")
    np.testing.assert_array_equal(extractdata(b), [np.nan, np.nan, 0.0, 3.0, 6.0])


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [(np.float64, 1e-12, 1e-6), (np.float32, 2e-6, 1e-3)])
def test_sort_options_gradients(dtype, rtol, grad_rtol):
    """The gradient of each sorted value reaches the element it came from (distinct magnitudes)."""
    def by_abs(x, axis, descend):
        order = np.argsort(np.abs(x), axis=axis, kind="stable")
        return np.take_along_axis(x, np.flip(order, axis) if descend else order, axis)
    check_cases([
        ("abs", lambda x: dl.sort(x, 1, ComparisonMethod="abs"), lambda x: by_abs(x, 1, False)),
        ("abs descend", lambda x: dl.sort(x, 0, "descend", ComparisonMethod="abs"), lambda x: by_abs(x, 0, True)),
        ("first", lambda x: dl.sort(x, 2, MissingPlacement="first"), lambda x: np.sort(x, 2)),
        ("last descend", lambda x: dl.sort(x, 1, "descend", MissingPlacement="last"), lambda x: -np.sort(-x, 1)),
    ], [X], dtype, rtol, grad_rtol)


def test_sort_option_errors():
    with pytest.raises(ValueError, match="ComparisonMethod must be one of"):
        dl.sort(X, ComparisonMethod="magnitude")
    with pytest.raises(ValueError, match="MissingPlacement must be one of"):
        dl.sort(X, MissingPlacement="end")
