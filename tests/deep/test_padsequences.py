"""padsequences (MATLAB's padding and mask), a masked loss that ignores right padding, and left padding
for OutputMode "last"."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(8)
C, H = 2, 3
SEQS = [RNG.standard_normal((C, n)) for n in (5, 3, 1)]
W, R, BIAS = RNG.standard_normal((4 * H, C)), RNG.standard_normal((4 * H, H)) * 0.5, RNG.standard_normal(4 * H)


def test_padding_truncation_directions_and_masks():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(10.0, 12.0).reshape(2, 1)
    x, mask = dl.padsequences([a, b], 1)
    assert x.shape == mask.shape == (2, 3, 2) and mask.dtype == bool
    np.testing.assert_array_equal(x[:, :, 1], [[10, 0, 0], [11, 0, 0]])
    np.testing.assert_array_equal(mask[0], [[True, True], [True, False], [True, False]])
    x, mask = dl.padsequences([a, b], 1, Direction="left", PaddingValue=-1)
    np.testing.assert_array_equal(x[:, :, 1], [[-1, -1, 10], [-1, -1, 11]])
    np.testing.assert_array_equal(mask[0, :, 1], [False, False, True])
    x, _ = dl.padsequences([a, b], 1, Length="shortest")
    np.testing.assert_array_equal(x[:, :, 0], [[0], [3]])                          # truncated at the end
    x, _ = dl.padsequences([a, b], 1, Length=2, Direction="left")
    np.testing.assert_array_equal(x[:, :, 0], [[1, 2], [4, 5]])                    # ... or at the beginning
    xs, masks = dl.padsequences([a, dl.dlarray(b)], 1, Length=4, UniformOutput=False)
    assert [x.shape for x in xs] == [(2, 4), (2, 4)] and masks[1].sum() == 2


@pytest.mark.parametrize("args, kwargs, message", [
    (([np.ones((2, 3)), np.ones((3, 2))], 1), {}, "agree on every axis"),
    (([np.ones((2, 3))], 2), {}, "paddingDim"),
    (([np.ones((2, 3))], 1), {"Length": 0}, "Length"),
    (([np.ones((2, 3))], 1), {"Direction": "both"}, "Direction"),
    (([np.ones((2, 3))], 1), {"PaddingValue": "mean"}, "PaddingValue"),
    (([], 1), {}, "non-empty list"),
])
def test_bad_arguments_are_clear_errors(args, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        dl.padsequences(*args, **kwargs)


def test_a_masked_loss_ignores_right_padding_for_sequence_output():
    targets = [RNG.standard_normal((H, s.shape[1])) for s in SEQS]

    def loss(x, t, mask, w):
        y, _, _ = dl.lstm(x, np.zeros(H), np.zeros(H), w, R, BIAS)
        value = dl.l2loss(y, t, Mask=mask, NormalizationFactor="none")
        return value, dl.dlgradient(value, w)

    x, mask = dl.padsequences(SEQS, 1, PaddingValue=100.0)      # a padding value that would show if read
    t, _ = dl.padsequences(targets, 1)
    padded, grad = dl.dlfeval(loss, dl.dlarray(x, "CTB"), dl.dlarray(t, "CTB"), dl.dlarray(mask[:1] * 1.0, "CTB"),
                              dl.dlarray(W))
    each = [dl.dlfeval(loss, dl.dlarray(s, "CT"), dl.dlarray(u, "CT"), dl.dlarray(np.ones((1, s.shape[1])), "CT"),
                       dl.dlarray(W))
            for s, u in zip(SEQS, targets)]
    np.testing.assert_allclose(float(dl.extractdata(padded)), sum(float(dl.extractdata(v)) for v, _ in each),
                               rtol=1e-12)
    np.testing.assert_allclose(dl.extractdata(grad), sum(dl.extractdata(g) for _, g in each), rtol=1e-10,
                               atol=1e-12)


def test_left_padding_puts_the_data_last_for_output_mode_last():
    net = dl.dlnetwork([dl.sequenceInputLayer(C), dl.lstmLayer(H, OutputMode="last", name="lstm")],
                       dtype=np.float64, seed=3)
    p = {r.Parameter: dl.extractdata(r.Value) for r in net.Learnables}

    def alone(s, h0=np.zeros(H), c0=np.zeros(H)):
        return dl.lstm(dl.dlarray(s, "CT"), h0, c0, p["InputWeights"], p["RecurrentWeights"], p["Bias"])

    left, _ = dl.padsequences(SEQS, 1, Direction="left")
    last = dl.extractdata(dl.predict(net, dl.dlarray(left, "CTB")))
    steps = left.shape[1]
    for i, s in enumerate(SEQS):
        # the padding steps only move the initial state; the output is the state after the real last step
        h, c = np.zeros(H), np.zeros(H)
        if steps > s.shape[1]:
            _, h, c = alone(np.zeros((C, steps - s.shape[1])))
        _, want, _ = alone(s, h, c)
        np.testing.assert_allclose(last[:, i], dl.extractdata(want).ravel(), rtol=1e-12, atol=1e-12)
    right, _ = dl.padsequences(SEQS, 1)
    read_padding = dl.extractdata(dl.predict(net, dl.dlarray(right, "CTB")))[:, 2]
    assert not np.allclose(read_padding, dl.extractdata(alone(SEQS[2])[1]).ravel())   # right padding's last is padding
