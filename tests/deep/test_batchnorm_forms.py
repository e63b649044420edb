"""batchnorm's three MATLAB forms: batch statistics, inference, and training with running statistics
chosen, as in MATLAB, by the number of outputs the caller asks for."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import extractdata

from .casetable import CaseTable

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 2, 2, 3))        # S S C B: m = 3 * 2 * 3 = 18 values per channel
OFFSET, SCALE = RNG.standard_normal(2), RNG.standard_normal(2)
MU0, VAR0 = np.array([0.5, -0.5]), np.array([2.0, 3.0])
AXES = (0, 1, 3)


def _reference_train(x, offset, scale, mu0, var0, mean_decay=0.1, var_decay=0.1, eps=1e-5):
    """MATLAB's training form: Y from the batch's population statistics; running statistics
    s_n = decay * s_batch + (1 - decay) * s_old, the variance from the unbiased batch variance."""
    mu, var = x.mean(AXES), x.var(AXES)
    y = (x - mu[:, None]) / np.sqrt(var[:, None] + eps) * scale[:, None] + offset[:, None]
    m = x.size // x.shape[2]
    return (y, mean_decay * mu + (1 - mean_decay) * mu0,
            var_decay * var * m / (m - 1) + (1 - var_decay) * var0)


def _reference_inference(x, offset, scale, mu0, var0, eps=1e-5):
    return (x - mu0[:, None]) / np.sqrt(var0[:, None] + eps) * scale[:, None] + offset[:, None]


def test_unpacking_three_results_is_the_training_form():
    Xd = dl.dlarray(X, "SSCB")
    Y, mu, var = dl.batchnorm(Xd, OFFSET, SCALE, MU0, VAR0)
    want = _reference_train(X, OFFSET, SCALE, MU0, VAR0)
    for got, expected in zip((Y, mu, var), want):
        np.testing.assert_allclose(extractdata(got), expected, rtol=1e-12, atol=1e-12)
    assert dl.dims(Y) == "SSCB"


def test_one_result_is_the_inference_form():
    Y = dl.batchnorm(dl.dlarray(X, "SSCB"), OFFSET, SCALE, MU0, VAR0)
    np.testing.assert_allclose(extractdata(Y), _reference_inference(X, OFFSET, SCALE, MU0, VAR0),
                               rtol=1e-12)


def test_the_forms_are_chosen_the_same_way_when_traced():
    def both(x):
        Y, mu, var = dl.batchnorm(x, OFFSET, SCALE, MU0, VAR0, MeanDecay=0.3, VarianceDecay=0.2)
        inference = dl.batchnorm(x, OFFSET, SCALE, MU0, VAR0)
        return Y, mu, var, inference
    Y, mu, var, inference = dl.dlfeval(both, dl.dlarray(X, "SSCB"))
    want = _reference_train(X, OFFSET, SCALE, MU0, VAR0, 0.3, 0.2)
    for got, expected in zip((Y, mu, var), want):
        np.testing.assert_allclose(extractdata(got), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(extractdata(inference), _reference_inference(X, OFFSET, SCALE, MU0, VAR0),
                               rtol=1e-12)


def test_training_keyword_chooses_explicitly():
    Xd = dl.dlarray(X, "SSCB")
    result = dl.batchnorm(Xd, OFFSET, SCALE, MU0, VAR0, training=True)
    assert isinstance(result, tuple) and len(result) == 3
    Y = dl.batchnorm(Xd, OFFSET, SCALE, MU0, VAR0, training=False)
    np.testing.assert_allclose(extractdata(Y), _reference_inference(X, OFFSET, SCALE, MU0, VAR0), rtol=1e-12)


def test_errors():
    Xd = dl.dlarray(X, "SSCB")
    with pytest.raises(TypeError, match="both the mean and the variance"):
        dl.batchnorm(Xd, OFFSET, SCALE, MU0)
    with pytest.raises(TypeError, match="needs the mean and variance"):
        dl.batchnorm(Xd, OFFSET, SCALE, training=False)
    with pytest.raises(ValueError, match="MeanDecay must be in"):
        dl.batchnorm(Xd, OFFSET, SCALE, MU0, VAR0, training=True, MeanDecay=1.5)


def test_batch_normalization_layer_state_follows_the_training_form():
    net = dl.dlnetwork([dl.imageInputLayer((3, 2, 2), Normalization="none"),
                        dl.batchNormalizationLayer(MeanDecay=0.3, VarianceDecay=0.2)])
    Xd = dl.dlarray(X, "SSCB")
    Y, state = dl.forward(net, Xd, return_state=True)
    ref_y, ref_mu, ref_var = _reference_train(X, np.zeros(2), np.ones(2), np.zeros(2), np.ones(2), 0.3, 0.2)
    # double data into a single network computes in single, as MATLAB's single with double does
    assert Y.dtype == np.float32
    np.testing.assert_allclose(extractdata(Y), ref_y, rtol=1e-5, atol=1e-6)
    # the layer's state is single precision, as MATLAB's
    np.testing.assert_allclose(extractdata(state["batchnorm", "TrainedMean"]), ref_mu, rtol=1e-6)
    np.testing.assert_allclose(extractdata(state["batchnorm", "TrainedVariance"]), ref_var, rtol=1e-6)
    np.testing.assert_allclose(extractdata(dl.predict(net, Xd)),
                               _reference_inference(X, np.zeros(2), np.ones(2), np.zeros(2), np.ones(2)),
                               rtol=1e-6)


def _training_y(x, o, s, mu0, var0):
    Y, _, _ = dl.batchnorm(x, o, s, mu0, var0)
    return Y


def _training_statistics(x, mu0, var0):
    _, mu, var = dl.batchnorm(x, OFFSET.astype(x.dtype), SCALE.astype(x.dtype), mu0, var0)
    return dl.concatenate([mu, var])


STATS = [(MU0, None, 0), (VAR0, None, 0)]
TABLE = CaseTable({
    "training form Y": (_training_y, [(X, "SSCB", 1), (OFFSET, None, 1), (SCALE, None, 1)] + STATS,
                        lambda x, o, s, m, v: _reference_train(x, o, s, m, v)[0]),
    "training form statistics": (
        _training_statistics, [(X, "SSCB", 0)] + STATS,
        lambda x, m, v: np.concatenate(_reference_train(x, OFFSET, SCALE, m, v)[1:])),
    "inference form": (lambda x, o, s, m, v: dl.batchnorm(x, o, s, m, v),
                       [(X, "SSCB", 1), (OFFSET, None, 1), (SCALE, None, 1)] + STATS,
                       _reference_inference),
})


@pytest.mark.parametrize("name", TABLE.names)
def test_values_float64_float32(name):
    TABLE.check_value(name)


@pytest.mark.parametrize("name", [n for n in TABLE.names if "statistics" not in n])
def test_gradients(name):
    TABLE.check_gradient(name)
