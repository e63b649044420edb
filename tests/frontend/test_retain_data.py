"""RetainData, as MATLAB documents it, only trades memory for time when one dlfeval takes several
gradients of one trace: the gradients are the same with it true or false."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata


@pytest.mark.parametrize("retain", [False, True])
def test_several_gradients_of_one_trace(retain):
    def f(x):
        y = dl.sum(dl.sin(x) * x)
        g1 = dlgradient(y, x, "RetainData", retain)
        g2 = dlgradient(y * 2, x, RetainData=retain)
        return g1, g2
    x = np.array([0.3, -1.2, 2.0])
    g1, g2 = dlfeval(f, dlarray(x))
    want = np.cos(x) * x + np.sin(x)          # d/dx sum(x sin x)
    np.testing.assert_allclose(extractdata(g1), want, rtol=1e-12)
    np.testing.assert_allclose(extractdata(g2), 2 * want, rtol=1e-12)
