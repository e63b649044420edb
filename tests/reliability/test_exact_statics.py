"""Static values are compared to the bit: -0.0 and 0.0 are different signatures, NaN is itself."""

import numpy as np

from dlgrad import dlarray, dlfeval, extractdata
from dlgrad.frontend.cache import cache_for

OFFSET = 0.0
X = dlarray(np.array([-1.0, 2.0]))


def reciprocal(x, c):
    return 1 / (x * 0 + c)


def expected(c):
    with np.errstate(divide="ignore"):
        return 1 / (np.array([-1.0, 2.0]) * 0 + c)


def test_signed_zero_static_arguments_are_different_entries(backend):
    for c in (0.0, -0.0, 0.0, np.float64(-0.0), np.float32(0.0), complex(0.0, -0.0)):
        got = extractdata(dlfeval(reciprocal, X, c.real if isinstance(c, complex) else c))
        np.testing.assert_array_equal(got, expected(c.real if isinstance(c, complex) else c))
        assert np.array_equal(np.signbit(got), np.signbit(expected(c.real if isinstance(c, complex) else c)))


def test_a_nan_static_argument_hits_its_entry(backend):
    for _ in range(3):   # a new NaN object each call, as float("nan") or 0 * inf give
        assert np.isnan(extractdata(dlfeval(reciprocal, X, float("nan")))).all()
    assert cache_for(reciprocal).misses == 1


def shifted(x):
    return 1 / (x * 0 + OFFSET)


def test_a_guarded_global_that_changes_sign_of_zero_retraces(backend):
    global OFFSET
    try:
        for value in (0.0, -0.0, 0.0, -0.0):
            OFFSET = value
            got = extractdata(dlfeval(shifted, X))
            assert np.array_equal(got, expected(value)) and np.array_equal(np.signbit(got), np.signbit(expected(value)))
        for _ in range(3):
            OFFSET = float("nan")
            assert np.isnan(extractdata(dlfeval(shifted, X))).all()
    finally:
        OFFSET = 0.0
    assert cache_for(shifted).misses == 3    # 0.0, -0.0 and NaN: each traced once


def test_a_guarded_tuple_holding_a_signed_zero_retraces(backend):
    pair = (1.0, 0.0)

    def objective(x):
        return 1 / (x * 0 + pair[1]) * pair[0]

    assert np.array_equal(extractdata(dlfeval(objective, X)), expected(0.0))
    pair = (1.0, -0.0)
    assert np.array_equal(extractdata(dlfeval(objective, X)), expected(-0.0))
