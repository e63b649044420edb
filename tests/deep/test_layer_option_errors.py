"""Review fixes: a non-finite attention Scale is refused (it made every weight NaN), a
concatenationLayer's size mismatch names the layer, and relu/sigmoid/tanh are in nn's exports."""
import math

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.errors import ShapeError
from dlgrad.frontend import nn


@pytest.mark.parametrize("scale", [math.nan, math.inf, -math.inf, np.float32("nan"), True, "big", [1.0]])
def test_attention_scale_must_be_auto_or_finite(scale):
    q = dl.dlarray(np.ones((4, 2, 3)), "CBT")
    with pytest.raises(ValueError, match="attention: Scale must be 'auto' or a finite number"):
        dl.attention(q, q, q, 2, Scale=scale)
    with pytest.raises(ValueError, match="selfAttentionLayer: Scale must be 'auto' or a finite number"):
        dl.selfAttentionLayer(2, 4, Scale=scale)
    with pytest.raises(ValueError, match="attentionLayer: Scale must be 'auto' or a finite number"):
        dl.attentionLayer(2, Scale=scale)


def test_attention_scale_numbers_still_work():
    q = dl.dlarray(np.ones((4, 2, 3)), "CBT")
    for scale in (0.5, 2, np.float32(0.25), 0.0, "AUTO"):
        y, _ = dl.attention(q, q, q, 2, Scale=scale)
        assert np.isfinite(dl.extractdata(y)).all()


def test_concatenation_size_mismatch_names_the_layer():
    # (Dim 1 of "CB" data, the batch, is refused before sizes are compared: test_hostile_layers)
    graph = dl.layerGraph([dl.imageInputLayer((5, 5, 1), name="in"), dl.convolution2dLayer(3, 2, name="c1"),
                           dl.concatenationLayer(2, 2, name="joined")])
    graph = dl.addLayers(graph, [dl.convolution2dLayer(1, 3, name="c2")])
    graph = dl.connectLayers(graph, "in", "c2")
    graph = dl.connectLayers(graph, "c2", "joined/in2")
    with pytest.raises(ShapeError, match=r"concatenationLayer 'joined' \(SSCB data\): .*\(3, 3, 2, 1\), "
                                         r"\(5, 5, 3, 1\)"):
        dl.dlnetwork(graph)


def test_nn_exports_the_activations_it_holds():
    for name in ("relu", "sigmoid", "tanh"):
        assert name in nn.__all__ and getattr(nn, name) is getattr(dl, name)
    assert len(dl.__all__) == len(set(dl.__all__))
