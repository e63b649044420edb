"""Findings of a hostile review of the sequence functions (each failed before its fix)."""
from __future__ import annotations

import numpy as np

import dlgrad as dl


def test_fully_connected_after_a_sequence_sizes_its_weights_per_step():
    """dlnetwork(layers, X) with "CBT" data and no sequenceInputLayer: the weights fit C (applied
    at every step, as MATLAB's), not C*T (which no forward call could use)."""
    X = dl.dlarray(np.random.default_rng(0).standard_normal((3, 2, 5)), "CBT")
    net = dl.dlnetwork([dl.lstmLayer(4), dl.fullyConnectedLayer(1)], X)
    Y = dl.forward(net, X)
    assert Y.shape == (1, 2, 5) and dl.dims(Y) == "CBT"


def test_padsequences_promotes_integer_data_for_a_fractional_padding_value():
    XP, mask = dl.padsequences([np.ones((1, 2), int), np.ones((1, 3), int)], 1, PaddingValue=np.nan)
    assert XP.dtype.kind == "f" and np.isnan(XP[0, 2, 0]) and XP[0, 1, 0] == 1
    XP, _ = dl.padsequences([np.ones((1, 2), int), np.ones((1, 3), int)], 1, PaddingValue=0.5)
    assert XP[0, 2, 0] == 0.5


def test_writing_into_learnables_value_fails_loudly():
    """net.Learnables.Value[k] = w wrote into a copy and changed nothing; now it raises, and
    dlupdate builds the new table."""
    import pytest
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=0)
    table = net.Learnables
    with pytest.raises(TypeError):
        table.Value[0] = dl.dlarray(np.zeros((2, 3)))
    net.Learnables = dl.dlupdate(lambda w: w * 0, net.Learnables)
    assert all(not np.any(dl.extractdata(v)) for v in net.Learnables.Value)


def test_an_unlabelled_mask_that_fits_two_layouts_is_refused_not_misread():
    """padsequences' mask is (C, T, N); "CTB" data is held as (C, N, T). With T == N the mask
    fitted both and was read in the canonical order: a silently wrong loss. Now it must be labelled."""
    import pytest
    seqs = [np.arange(4.0 * n).reshape(4, n) + 1 for n in (3, 1, 2)]   # T == N == 3, C == 4
    X, mask = dl.padsequences(seqs, 1)
    Y, zero = dl.dlarray(X, "CTB"), dl.dlarray(np.zeros_like(X), "CTB")
    want = sum(np.sum(s ** 2) for s in seqs)
    for loss in (dl.l2loss, dl.l1loss, dl.huber):
        with pytest.raises(dl.FormatError, match="more than one layout.*label it"):
            loss(Y, zero, Mask=mask)
    labelled = dl.l2loss(Y, zero, Mask=dl.dlarray(mask, "CTB"), NormalizationFactor="none")
    assert float(labelled) == want
    with pytest.raises(dl.FormatError, match="weights .* more than one layout"):
        dl.l2loss(Y, zero, mask * 1.0)
    P = dl.softmax(dl.dlarray(X, "CTB"))
    with pytest.raises(dl.FormatError, match="more than one layout"):
        dl.crossentropy(P, P, Mask=mask)
    # data laid out by DataFormat is not permuted: a mask in that layout is read as given
    plain = dl.l2loss(X, np.zeros_like(X), Mask=mask, DataFormat="CTB", NormalizationFactor="none")
    assert float(plain) == want
    # a mask whose shape fits only the data's order (here T != N) is used as before
    X2, _ = dl.padsequences(seqs[:2], 1)
    Y2 = dl.dlarray(X2, "CTB")
    first = np.zeros((1, 2, 3))   # canonical (C, B, T): the first sequence only
    first[:, 0] = 1
    kept = dl.l2loss(Y2, 0 * Y2, Mask=first, NormalizationFactor="none")
    assert float(kept) == float(np.sum(seqs[0] ** 2))


def test_a_zero_size_constant_in_a_step_or_a_program_compiles():
    """A constant with no elements had no storage, and a kernel taking it as an operand (a matrix
    product) stopped the scheduler with an internal AssertionError ("cannot schedule const[8,0]"):
    a traced lstm with C = 0, or a step capturing an empty matrix."""
    rng = np.random.default_rng(4)
    H = 2
    W, R, b = np.zeros((4 * H, 0)), rng.standard_normal((4 * H, H)) * 0.5, rng.standard_normal(4 * H)
    X = dl.dlarray(np.zeros((0, 1, 3)), "CBT")
    Y = dl.dlfeval(lambda X: dl.lstm(X, np.zeros(H), np.zeros(H), W, R, b)[0], X)
    h, c, want = np.zeros(H), np.zeros(H), []
    for _ in range(3):   # no input: the gates see R h + b only
        z = R @ h + b
        i, f, o = (1 / (1 + np.exp(-z[k * H:(k + 1) * H])) for k in (0, 1, 3))
        c = f * c + i * np.tanh(z[2 * H:3 * H])
        h = o * np.tanh(c)
        want.append(h)
    np.testing.assert_allclose(dl.extractdata(Y)[:, 0, :], np.array(want).T, rtol=1e-12)

    empty = np.zeros((2, 0))
    out = dl.dlfeval(lambda h, X: dl.scan(lambda c, x: (c + dl.matmul(dl.dlarray(empty), x[:0]) + x, None),
                                          h, X)[0], dl.dlarray(np.zeros((2, 1))), dl.dlarray(np.ones((4, 2, 1))))
    assert dl.extractdata(out).ravel().tolist() == [4.0, 4.0]
    assert dl.dlfeval(lambda x: dl.matmul(dl.dlarray(empty), x) + 1, dl.dlarray(np.zeros((0, 3)))).shape == (2, 3)
