"""flip, circshift, repmat, repelem, triu/tril, ipermute, squeeze and their numpy names:
eager and traced values against numpy (np.flip, np.roll, np.tile, np.repeat, np.triu,
np.tril, np.transpose, np.squeeze), gradients against central differences."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import ShapeError, dlarray, extractdata

from .cases import check_cases
from .helpers import RNG

X = RNG.uniform(-1.0, 1.0, (3, 4, 2))
M = RNG.uniform(-1.0, 1.0, (4, 5))
CASES3 = [
    ("flip default", dl.flip, lambda x: np.flip(x, 0)),
    ("flip axis", lambda x: dl.flip(x, 1), lambda x: np.flip(x, 1)),
    ("flip axes", lambda x: dl.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2))),
    ("np.flip", np.flip, np.flip),
    ("circshift", lambda x: dl.circshift(x, 1), lambda x: np.roll(x, 1, 0)),
    ("circshift axis", lambda x: dl.circshift(x, -3, 1), lambda x: np.roll(x, -3, 1)),
    ("circshift vector", lambda x: dl.circshift(x, [2, 5]), lambda x: np.roll(x, (2, 5), (0, 1))),
    ("np.roll flat", lambda x: np.roll(x, 5), lambda x: np.roll(x, 5)),
    ("np.roll axes", lambda x: np.roll(x, (1, -1), (1, 2)), lambda x: np.roll(x, (1, -1), (1, 2))),
    ("repmat n", lambda x: dl.repmat(x, 2), lambda x: np.tile(x, (2, 2))),
    ("repmat tuple", lambda x: dl.repmat(x, 2, 1, 3), lambda x: np.tile(x, (2, 1, 3))),
    ("repmat more", lambda x: dl.repmat(x, (2, 1, 1, 2)), lambda x: np.tile(x, (2, 1, 1, 2))),
    ("np.tile", lambda x: np.tile(x, 3), lambda x: np.tile(x, 3)),
    ("repelem", lambda x: dl.repelem(x, 2, 1, 3), lambda x: np.repeat(np.repeat(x, 2, 0), 3, 2)),
    ("np.repeat", lambda x: np.repeat(x, [1, 0, 2, 1], axis=1), lambda x: np.repeat(x, [1, 0, 2, 1], axis=1)),
    ("np.repeat flat", lambda x: np.repeat(x, 2), lambda x: np.repeat(x, 2)),
    ("triu", dl.triu, np.triu), ("tril -1", lambda x: dl.tril(x, -1), lambda x: np.tril(x, -1)),
    ("np.triu 1", lambda x: np.triu(x, 1), lambda x: np.triu(x, 1)),
    ("ipermute", lambda x: dl.ipermute(dl.permute(x, (2, 0, 1)), (2, 0, 1)), lambda x: x),
    ("ipermute alone", lambda x: dl.ipermute(x, (1, 2, 0)), lambda x: np.transpose(x, (2, 0, 1))),
]


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [(np.float64, 1e-12, 1e-6), (np.float32, 2e-6, 1e-3)])
def test_rearrangements(dtype, rtol, grad_rtol):
    check_cases(CASES3, [X], dtype, rtol, grad_rtol)
    check_cases([
        ("repelem vector", lambda v: dl.repelem(v, 3), lambda v: np.repeat(v, 3)),
        ("repelem counts", lambda v: dl.repelem(v, [1, 0, 2, 3]), lambda v: np.repeat(v, [1, 0, 2, 3])),
        ("squeeze", lambda v: dl.squeeze(dl.reshape(v, (1, 4, 1))), lambda v: v),
        ("flip vector", dl.flip, np.flip),
    ], [X[0, :, 0]], dtype, rtol, grad_rtol)


def test_triangles_keep_infinities_and_nan_where_kept():
    """triu/tril select (no multiplication by a 0/1 mask: 0 * inf would be NaN)."""
    x = np.array([[np.inf, np.nan, 1.0], [-np.inf, 2.0, np.nan], [np.nan, np.inf, 3.0]])
    np.testing.assert_array_equal(extractdata(dl.triu(x)), np.triu(x))
    np.testing.assert_array_equal(extractdata(dl.dlfeval(dl.tril, dlarray(x))), np.tril(x))


def test_matlab_first_nonsingleton_default():
    row = dlarray(np.arange(4.0).reshape(1, 4))
    np.testing.assert_array_equal(extractdata(dl.flip(row)), [[3.0, 2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(extractdata(dl.circshift(row, 1)), [[3.0, 0.0, 1.0, 2.0]])


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ShapeError, match="triu needs a matrix"):
        dl.triu(np.ones(3))
    with pytest.raises(ValueError, match="repmat counts must be non-negative ints"):
        dl.repmat(np.ones(3), 2, -1)
    with pytest.raises(ShapeError, match="one count per axis"):
        dl.repelem(np.ones((2, 2)), 2, 2, 2)
    with pytest.raises(ShapeError, match="not a permutation"):
        dl.ipermute(np.ones((2, 2)), (0, 0))
    with pytest.raises(ShapeError, match="only axes of length 1"):
        dl.squeeze(np.ones((2, 1)), 0)
    with pytest.raises(ShapeError, match="circshift: 3 shifts"):
        dl.circshift(np.ones((2, 2)), [1, 1, 1])


def test_stripdims_with_a_format_reorders_the_axes():
    """MATLAB's stripdims(X, fmt): unformatted, axes in the order of fmt's labels (repeated S keep theirs)."""
    data = RNG.uniform(-1, 1, (2, 3, 4, 5))
    x = dlarray(data, "SSCB")
    for y in (dl.stripdims(x, "CBSS"), dl.dlfeval(lambda x: dl.stripdims(x, "cbss"), x)):
        assert dl.dims(y) == ""
        np.testing.assert_array_equal(extractdata(y), np.transpose(data, (2, 3, 0, 1)))
    np.testing.assert_array_equal(extractdata(dl.stripdims(x, "SBSC")), np.transpose(data, (0, 3, 1, 2)))
    with pytest.raises(dl.FormatError, match="must hold the labels"):
        dl.stripdims(x, "SSC")
    with pytest.raises(dl.FormatError, match="needs a formatted X"):
        dl.stripdims(np.ones(2), "U")
