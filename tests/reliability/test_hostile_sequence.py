"""attention and sequence layers fed what a MATLAB user might feed them."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.formats import FormatError


def _qkv():
    rng = np.random.default_rng(0)
    return (dl.dlarray(rng.standard_normal((4, 2, 3)), "CBT"), dl.dlarray(rng.standard_normal((4, 2, 5)), "CBT"),
            dl.dlarray(rng.standard_normal((4, 2, 5)), "CBT"))


def test_padding_mask_of_wrong_rank_is_a_clear_error():
    # a (B, T) mask for "CBT" keys raised IndexError: tuple index out of range
    q, k, v = _qkv()
    with pytest.raises(FormatError, match=r"PaddingMask.*\(2, 5\)"):
        dl.attention(q, k, v, 2, PaddingMask=np.ones((2, 5)))


def test_attention_layer_options_checked_when_built():
    with pytest.raises(ValueError, match="OutputSize"):
        dl.selfAttentionLayer(2, 4, OutputSize=0)
    with pytest.raises(ValueError, match="DropoutProbability"):
        dl.selfAttentionLayer(2, 4, DropoutProbability=1.5)
    with pytest.raises(ValueError, match="DropoutProbability"):
        dl.attentionLayer(2, DropoutProbability=-0.1)


def test_word_embedding_out_of_vocabulary_index_is_not_silently_zero():
    net = dl.dlnetwork([dl.sequenceInputLayer(1), dl.wordEmbeddingLayer(3, 5, name="emb")])
    y = dl.extractdata(dl.predict(net, dl.dlarray(np.array([[[1.0, 5.0, -1.0]]], np.float32), "CBT")))
    assert np.abs(y[:, 0, 1]).sum() > 0 and np.abs(y[:, 0, 2]).sum() > 0
    # MATLAB's default OOVMode "map-to-last": both unknown words read the extra last column
    last = dl.extractdata(net.Learnables["emb", "Weights"])[:, 5]
    np.testing.assert_array_equal(y[:, 0, 1], last)
    np.testing.assert_array_equal(y[:, 0, 2], last)
