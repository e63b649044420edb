"""AcceleratedFunction.CheckMode = "tolerance": every call compared with an uncompiled evaluation."""
import warnings

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.checkmode import AccelerationCheckWarning


RNG = np.random.default_rng(0)


def drawn(x):
    # a random number drawn in Python is frozen into the trace (as in MATLAB's dlaccelerate)
    return dl.sum(x * RNG.random())


def doubled(x):
    return dl.sum(x * 2.0)


def test_check_mode_reports_a_frozen_value_and_is_silent_otherwise():
    f, g = dl.dlaccelerate(drawn), dl.dlaccelerate(doubled)
    assert f.CheckMode == "none" and f.CheckTolerance == 1e-4
    x = dl.dlarray(np.arange(4.0))
    first = float(dl.extractdata(f(x)))
    f.CheckMode = g.CheckMode = "tolerance"
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccelerationCheckWarning)
        for _ in range(3):   # the third call would run on the native fast path
            assert float(dl.extractdata(g(x))) == 12.0
    with pytest.warns(AccelerationCheckWarning, match="differs from the uncompiled evaluation"):
        again = float(dl.extractdata(f(x)))
    assert again == first     # the cached trace; the warning says so
    f.CheckMode = "none"
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccelerationCheckWarning)
        f(x)


def test_check_tolerance_bounds_the_difference():
    f = dl.dlaccelerate(drawn)
    f.CheckMode, f.CheckTolerance = "tolerance", 10.0   # random() * 6 differs by < 6 < 10 * (1 + |b|)
    x = dl.dlarray(np.arange(4.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccelerationCheckWarning)
        f(x)
        f(x)


@pytest.mark.parametrize("field, value, error", [("CheckMode", "loose", ValueError),
                                                 ("CheckTolerance", 0, ValueError),
                                                 ("CheckTolerance", "small", TypeError)])
def test_bad_check_settings_are_clear_errors(field, value, error):
    f = dl.dlaccelerate(doubled)
    with pytest.raises(error, match=field):
        setattr(f, field, value)
