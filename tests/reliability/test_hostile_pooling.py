"""Pooling options a MATLAB user may pass: non-finite PaddingValue, against a numpy reference."""
import numpy as np
import pytest

import dlgrad as dl


def _avgpool_reference(x, k, pads, value):
    """(H, W, C, B) x, window k, ((t, b), (l, r)) padding filled with value, stride 1."""
    xp = np.pad(x, pads + ((0, 0), (0, 0)), constant_values=value)
    ho, wo = xp.shape[0] - k + 1, xp.shape[1] - k + 1
    return np.stack([np.stack([xp[i:i + k, j:j + k].mean((0, 1)) for j in range(wo)]) for i in range(ho)])


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_avgpool_nonfinite_padding_value_leaves_unpadded_windows_finite(value):
    # PaddingValue * (1 - share inside) gave inf * 0 = NaN in every window with no padding
    x = np.arange(25.0).reshape(5, 5, 1, 1)
    y = dl.avgpool(dl.dlarray(x, "SSCB"), 3, Padding=1, PaddingValue=value)
    ref = _avgpool_reference(x, 3, ((1, 1), (1, 1)), value)
    np.testing.assert_array_equal(dl.extractdata(y), ref)
    assert np.isfinite(dl.extractdata(y)[1:-1, 1:-1]).all()


def test_global_pooling_over_time_gives_one_vector_per_sequence():
    net = dl.dlnetwork([dl.sequenceInputLayer(3), dl.globalAveragePooling1dLayer(), dl.fullyConnectedLayer(2),
                        dl.softmaxLayer()])
    y = dl.predict(net, dl.dlarray(np.ones((3, 4, 6), np.float32), "CBT"))
    assert dl.dims(y) == "CB" and y.shape == (2, 4)
