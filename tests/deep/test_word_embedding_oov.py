"""wordEmbeddingLayer's OOVMode (MATLAB's wordEmbeddingLayer page, R2023b): "map-to-last" (the
default) gives Weights numWords + 1 columns and maps out-of-vocabulary words to the last one;
"error" keeps numWords columns and raises. dlgrad's indices are 0-based: a word is in the
vocabulary when it is a whole number in [0, numWords)."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.nn.sequence_layers import wordEmbeddingLayer

WORDS = np.array([[[0.0, 4.0, 5.0, -1.0, 2.5, np.nan, 1e30, 3.0]]])   # (C=1, B=1, T=8)
COLUMN = np.array([0, 4, 5, 5, 5, 5, 5, 3])                          # 5 = numWords: the last column
NET = dl.dlnetwork([dl.sequenceInputLayer(1), dl.wordEmbeddingLayer(3, 5, name="emb")], seed=0,
                   dtype=np.float64)


def _weights(net):
    return dl.extractdata(net.Learnables["emb", "Weights"])


def test_map_to_last_is_the_default_with_an_extra_column():
    assert NET.Layers[1].OOVMode == "map-to-last"
    W = _weights(NET)
    assert W.shape == (3, 6)
    for dtype in (np.float64, np.float32):
        y = dl.predict(NET, dl.dlarray(WORDS.astype(dtype), "CBT"))   # compiled
        assert dl.dims(y) == "CBT" and y.shape == (3, 1, 8) and y.dtype == dtype   # single data: single
        np.testing.assert_array_equal(dl.extractdata(y)[:, 0, :], W.astype(dtype)[:, COLUMN])


def test_map_to_last_eager_and_on_the_native_hit_path():
    layer = NET.Layers[1]
    W = dl.dlarray(_weights(NET))
    y = layer.forward({"Weights": W}, dl.dlarray(WORDS, "CBT"))   # untraced
    np.testing.assert_array_equal(dl.extractdata(y)[:, 0, :], _weights(NET)[:, COLUMN])
    step = dl.dlaccelerate(lambda w, x: layer.forward({"Weights": w}, x))
    for shift in range(4):   # new words on every call: the compiled lookup maps them, no stale check
        words = WORDS + shift
        got = dl.extractdata(step(W, dl.dlarray(words, "CBT")))[:, 0, :]
        want = np.where((words[0, 0] >= 0) & (words[0, 0] < 5) & (words[0, 0] % 1 == 0), words[0, 0], 5)
        np.testing.assert_array_equal(got, _weights(NET)[:, np.nan_to_num(want, nan=5).astype(int)])


def test_out_of_vocabulary_words_train_the_last_column():
    def loss(net, x):
        y = dl.forward(net, x)
        value = dl.sum(y * y)
        return value, dl.dlgradient(value, net.Learnables)
    _, grads = dl.dlfeval(loss, NET, dl.dlarray(WORDS, "CBT"))
    g, W = dl.extractdata(grads["emb", "Weights"]), _weights(NET)
    want = np.zeros_like(W)
    np.add.at(want, (slice(None), COLUMN), 2 * W[:, COLUMN])
    np.testing.assert_allclose(g, want, rtol=1e-12)
    assert np.abs(g[:, 5]).sum() > 0 and not g[:, 1].any()


def test_error_mode_keeps_numwords_columns_and_raises():
    net = dl.dlnetwork([dl.sequenceInputLayer(1), dl.wordEmbeddingLayer(3, 5, OOVMode="error", name="emb")])
    assert _weights(net).shape == (3, 5)
    inside = dl.predict(net, dl.dlarray(np.array([[[0.0, 4.0]]]), "CBT"))
    np.testing.assert_array_equal(dl.extractdata(inside)[:, 0, :], _weights(net)[:, [0, 4]])
    with pytest.raises(dl.IndexOutOfRange, match="index 5 .* valid indices are 0 to 4"):
        dl.predict(net, dl.dlarray(np.array([[[1.0, 5.0]]]), "CBT"))


def test_bad_options_and_weights():
    with pytest.raises(ValueError, match="OOVMode must be 'map-to-last' or 'error', got 'ignore'"):
        dl.wordEmbeddingLayer(3, 5, OOVMode="ignore")
    assert dl.wordEmbeddingLayer(3, 5, OOVMode="Error").OOVMode == "error"
    with pytest.raises(ValueError, match=r"Weights of shape \(3, 5\).*needs \(3, 6\).*out-of-vocabulary column"):
        wordEmbeddingLayer(3, 5, name="emb").forward({"Weights": dl.dlarray(np.ones((3, 5)))},
                                                    dl.dlarray(WORDS, "CBT"))
