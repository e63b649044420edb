"""MATLAB's loss options: weights (per class, per observation, per element), Mask,
NormalizationFactor ('batch-size', 'all-elements', 'mask-included', 'none'), Reduction
('sum', 'none'), ClassificationMode. References: numpy formulas of MATLAB's definition
loss = sum_i m_i w_i l_i / N (Reduction 'none': the terms unsummed)."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import FormatError

from . import reference as ref
from .casetable import CaseTable

RNG = np.random.default_rng(21)
Z = RNG.standard_normal((4, 5))                       # C B: 4 classes, 5 observations
T = np.eye(4)[:, RNG.integers(0, 4, 5)]
CLASS_W, OBS_W = RNG.random(4) + 0.5, RNG.random(5) + 0.5
MASK = (RNG.random((4, 5)) > 0.3).astype(float)
SEQ = RNG.standard_normal((3, 2, 6))                  # C B T: 3 responses, 2 sequences of 6 steps
SEQ_T = RNG.standard_normal((3, 2, 6))
SEQ_MASK = np.ones((1, 2, 6))
SEQ_MASK[:, 0, 4:] = 0                                # the first sequence has 4 steps, padded to 6
ELEM_W = RNG.random((3, 2, 6)) + 0.5


def _xent(z, t):
    return -t * np.log(ref.softmax(z))


def _huber(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, d ** 2 / 2, delta * (a - delta / 2))


def _per_observation_mask_count(mask, shape):
    """mask-included: each observation (axis 1) divided by its number of included elements."""
    return np.broadcast_to(mask, shape).sum(axis=(0, 2), keepdims=True)


CASES = {
    "crossentropy class weights": (
        lambda z, w: dl.crossentropy(dl.softmax(z), T, w), [(Z, "CB", 1), (CLASS_W, "C", 1)],
        lambda z, w: np.sum(w[:, None] * _xent(z, T)) / 5),
    "crossentropy observation weights (WeightsFormat)": (
        lambda z, w: dl.crossentropy(dl.softmax(z), T, dl.stripdims(w), WeightsFormat="B"),
        [(Z, "CB", 1), (OBS_W, None, 1)], lambda z, w: np.sum(w[None, :] * _xent(z, T)) / 5),
    "crossentropy mask, all-elements": (
        lambda z: dl.crossentropy(dl.softmax(z), T, Mask=MASK, NormalizationFactor="all-elements"),
        [(Z, "CB", 1)], lambda z: np.sum(MASK * _xent(z, T)) / 20),
    "crossentropy multilabel, none": (
        lambda z: dl.crossentropy(dl.sigmoid(z), T, ClassificationMode="multilabel", NormalizationFactor="none"),
        [(Z, "CB", 1)],
        lambda z: -np.sum(T * np.log(1 / (1 + np.exp(-z))) + (1 - T) * np.log(1 - 1 / (1 + np.exp(-z))))),
    "crossentropy reduction none": (
        lambda z, w: dl.crossentropy(dl.softmax(z), T, w, Reduction="none"), [(Z, "CB", 1), (CLASS_W, "C", 1)],
        lambda z, w: w[:, None] * _xent(z, T) / 5),
    "l1loss element weights, mask-included": (
        lambda y, t, w: dl.l1loss(y, t, w, Mask=SEQ_MASK, NormalizationFactor="mask-included"),
        [(SEQ, "CBT", 1), (SEQ_T, None, 1), (ELEM_W, None, 1)],
        lambda y, t, w: np.sum(w * SEQ_MASK * np.abs(y - t) / _per_observation_mask_count(SEQ_MASK, y.shape))),
    "l1loss reduction none": (
        lambda y, t: dl.l1loss(y, t, Reduction="none", Mask=SEQ_MASK), [(SEQ, "CBT", 1), (SEQ_T, None, 1)],
        lambda y, t: SEQ_MASK * np.abs(y - t) / 2),
    "l2loss mask, batch-size": (
        lambda y, t: dl.l2loss(y, t, Mask=SEQ_MASK), [(SEQ, "CBT", 1), (SEQ_T, None, 1)],
        lambda y, t: np.sum(SEQ_MASK * (y - t) ** 2) / 2),
    "l2loss all-elements": (
        lambda y, t: dl.l2loss(y, t, NormalizationFactor="all-elements"), [(SEQ, "CBT", 1), (SEQ_T, None, 1)],
        lambda y, t: np.mean((y - t) ** 2)),
    "huber weights, transition point, none": (
        lambda y, t, w: dl.huber(y, t, w, TransitionPoint=0.7, NormalizationFactor="none"),
        [(SEQ, "CBT", 1), (SEQ_T, None, 1), (ELEM_W, None, 1)],
        lambda y, t, w: np.sum(w * _huber(y - t, 0.7))),
    "huber default": (
        lambda y, t: dl.huber(y, t), [(SEQ, "CBT", 1), (SEQ_T, None, 1)],
        lambda y, t: np.sum(_huber(y - t, 1.0)) / 2),
    "mse": (lambda y, t: dl.mse(y, t), [(SEQ, "CBT", 1), (SEQ_T, None, 1)],
            lambda y, t: np.sum((y - t) ** 2) / 2 / 2),
}
TABLE = CaseTable(CASES)


@pytest.mark.parametrize("name", TABLE.names)
def test_value_float64_float32(name):
    TABLE.check_value(name)


@pytest.mark.parametrize("name", TABLE.names)
def test_gradient(name):
    TABLE.check_gradient(name)


def test_reduction_none_keeps_the_format_and_sums_to_the_reduced_loss():
    y = dl.dlarray(SEQ, "CBT")
    unreduced = dl.l2loss(y, SEQ_T, Mask=SEQ_MASK, Reduction="none")
    assert dl.dims(unreduced) == "CBT" and unreduced.shape == SEQ.shape
    assert float(dl.sum(unreduced)) == pytest.approx(float(dl.l2loss(y, SEQ_T, Mask=SEQ_MASK)), rel=1e-12)


def test_mask_and_weights_given_as_numpy_keep_single_precision():
    y = dl.dlarray(SEQ.astype(np.float32), "CBT")
    assert dl.l1loss(y, SEQ_T.astype(np.float32), ELEM_W, Mask=SEQ_MASK).dtype == np.float32


def test_option_errors():
    y = dl.dlarray(Z, "CB")
    with pytest.raises(ValueError, match="needs a Mask"):
        dl.l2loss(y, T, NormalizationFactor="mask-included")
    with pytest.raises(ValueError, match="NormalizationFactor must be one of"):
        dl.l2loss(y, T, NormalizationFactor="batch")
    with pytest.raises(ValueError, match="Reduction must be 'sum' or 'none'"):
        dl.crossentropy(dl.softmax(y), T, Reduction="mean")
    with pytest.raises(FormatError, match="WeightsFormat"):
        dl.crossentropy(dl.softmax(y), T, CLASS_W)       # an unlabelled vector: classes or observations?
    with pytest.raises(FormatError, match="do not fit"):
        dl.crossentropy(dl.softmax(y), T, CLASS_W, WeightsFormat="B")
    with pytest.raises(ValueError, match="TransitionPoint must be positive"):
        dl.huber(y, T, TransitionPoint=0)


TARGETS = np.zeros((10, 12))         # float64, read from outside the function: a runtime input


def _global_target_loss(y):
    return dl.l2loss(y, TARGETS, Mask=MASK_BIG)


MASK_BIG = np.ones((10, 12))


def test_targets_captured_from_outside_stay_runtime_inputs():
    global TARGETS
    y = dl.dlarray(np.ones((10, 12), np.float32), "CB")
    first = dl.dlfeval(_global_target_loss, y)
    TARGETS = np.full((10, 12), 3.0)
    second = dl.dlfeval(_global_target_loss, y)
    assert first.dtype == np.float32
    assert float(first) == pytest.approx(10.0) and float(second) == pytest.approx(40.0)
