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
