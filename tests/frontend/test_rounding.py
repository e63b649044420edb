"""dlgrad.round is MATLAB's round (halves away from zero); numpy's functions keep numpy's halves-to-even."""
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata

TIES = [0.5, 2.5, -0.5, -2.5, 1.5, -1.5, 0.49999999999999994, -0.49999999999999994, 1.4, -0.4,
        4503599627370495.5, 2.0 ** 52 + 1, 2.0 ** 60, np.inf, -np.inf, np.nan, 0.0, -0.0]


def _half_away(values, dtype):
    """Python's decimal ROUND_HALF_UP (halves away from zero) on each value's exact binary value."""
    out = []
    for v in np.asarray(values, dtype):
        out.append(v if not np.isfinite(v) or v == 0 else
                   float(Decimal(float(v)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return np.asarray(out, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_is_matlabs_halves_away_from_zero(dtype):
    x = np.asarray(TIES, dtype)
    want = _half_away(x, dtype)
    traced = dlfeval(lambda x: dl.round(x), dlarray(x))
    for got in (dl.round(dlarray(x)), traced):
        assert got.dtype == dtype
        np.testing.assert_array_equal(extractdata(got), want)
        # -0.4 rounds to -0, as MATLAB's (and C's) round
        assert np.signbit(extractdata(got)[TIES.index(-0.4)])


def test_round_matlab_documented_examples():
    # MATLAB: round([0.5 2.5 -0.5]) is [1 3 -1]; round([2.11 3.5; -3.5 0.78]) is [2 4; -4 1]
    np.testing.assert_array_equal(extractdata(dl.round(dlarray([0.5, 2.5, -0.5]))), [1, 3, -1])
    np.testing.assert_array_equal(extractdata(dl.round(dlarray([[2.11, 3.5], [-3.5, 0.78]]))),
                                  [[2, 4], [-4, 1]])


def test_numpy_round_keeps_numpys_halves_to_even():
    x = np.asarray(TIES)
    for f in (np.round, np.around, np.rint):
        np.testing.assert_array_equal(extractdata(f(dlarray(x))), np.round(x))
        np.testing.assert_array_equal(extractdata(dlfeval(lambda x: f(x), dlarray(x))), np.round(x))


def test_round_gradient_is_zero():
    x = dlarray(np.array([0.5, 2.5, -0.7, 3.2]))
    g = dlfeval(lambda x: dlgradient(dl.sum(dl.round(x) * 3.0), x), x)
    np.testing.assert_array_equal(extractdata(g), 0.0)
