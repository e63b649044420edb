"""attention (MATLAB's multi-head scaled dot-product attention) against a numpy reference, finite
differences and PyTorch; self-attention layers and a transformer encoder block in a layer graph."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(11)
H, DK, DV, B, TQ, TK = 2, 3, 4, 3, 5, 6


def reference(q, k, v, heads, allowed=None, scale=None):
    """Per head h (channels h*d..(h+1)*d-1) and observation: softmax over keys of scale * K^T Q."""
    d = q.shape[0] // heads
    Q, K = (a.reshape(heads, d, a.shape[1], a.shape[2]).transpose(0, 2, 3, 1) for a in (q, k))
    V = v.reshape(heads, -1, v.shape[1], v.shape[2]).transpose(0, 2, 3, 1)
    s = Q @ K.transpose(0, 1, 3, 2) * (scale if scale is not None else 1 / np.sqrt(d))
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return (w @ V).transpose(0, 3, 1, 2).reshape(-1, q.shape[1], q.shape[2]), w.transpose(3, 2, 0, 1)


Q = RNG.standard_normal((H * DK, B, TQ))
K = RNG.standard_normal((H * DK, B, TK))
V = RNG.standard_normal((H * DV, B, TK))
PAD = np.ones((1, B, TK))
PAD[0, 1, 4:] = 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_the_reference_with_masks(dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12

    def f(q, k, v, pad):
        y, w = dl.attention(q, k, v, H, PaddingMask=pad)
        yc, wc = dl.attention(q[:, :, :TQ], k[:, :, :TQ], v[:, :, :TQ], H, AttentionMask="causal", Scale=0.7)
        return y, w, yc, wc

    args = [dl.dlarray(a.astype(dtype), "CBT") for a in (Q, K, V, PAD)]
    y, w, yc, wc = dl.dlfeval(f, *args)
    assert dl.dims(y) == "CBT" and y.shape == (H * DV, B, TQ) and w.shape == (TK, TQ, H, B)
    ry, rw = reference(Q, K, V, H, allowed=PAD[0][None, :, None, :] != 0)
    np.testing.assert_allclose(dl.extractdata(y), ry, rtol=tol, atol=tol)
    np.testing.assert_allclose(dl.extractdata(w), rw, rtol=tol, atol=tol)
    assert np.all(dl.extractdata(w)[4:, :, :, 1] == 0)            # padding never attended
    causal = np.arange(TQ)[None, :] <= np.arange(TQ)[:, None]
    ry, rw = reference(Q, K[:, :, :TQ], V[:, :, :TQ], H, allowed=causal, scale=0.7)
    np.testing.assert_allclose(dl.extractdata(yc), ry, rtol=tol, atol=tol)
    np.testing.assert_allclose(dl.extractdata(wc), rw, rtol=tol, atol=tol)


def test_gradients_match_finite_differences():
    mask = (RNG.random((TK, TQ)) > 0.3).astype(float)
    mask[0] = 1

    def loss(q, k, v):
        y, _ = dl.attention(q, k, v, H, AttentionMask=mask, PaddingMask=dl.dlarray(PAD, "CBT"))
        return dl.sum(y * y * 0.5 + y)

    def grads(q, k, v):
        l = loss(q, k, v)
        return l, dl.dlgradient(l, [q, k, v])

    args = [dl.dlarray(a, "CBT") for a in (Q, K, V)]
    _, g = dl.dlfeval(grads, *args)
    for which in range(3):
        base = [a.copy() for a in (Q, K, V)]
        for flat in (0, 7, base[which].size - 1):
            idx, h = np.unravel_index(flat, base[which].shape), 1e-6

            def value(delta):
                arrays = [a.copy() for a in base]
                arrays[which][idx] += delta
                return float(dl.extractdata(loss(*[dl.dlarray(a, "CBT") for a in arrays])))
            fd = (value(h) - value(-h)) / (2 * h)
            assert abs(dl.extractdata(g[which])[idx] - fd) < 1e-6 * max(1.0, abs(fd))


def test_matches_torch_scaled_dot_product_attention_per_head():
    torch = pytest.importorskip("torch")
    y, _ = dl.attention(dl.dlarray(Q, "CBT"), dl.dlarray(K, "CBT"), dl.dlarray(V, "CBT"), H, AttentionMask="none")
    t = [torch.from_numpy(a.reshape(H, -1, B, a.shape[2]).transpose(2, 0, 3, 1).copy()) for a in (Q, K, V)]
    out = torch.nn.functional.scaled_dot_product_attention(*t).numpy()      # (B, H, TQ, DV)
    np.testing.assert_allclose(dl.extractdata(y), out.transpose(1, 3, 0, 2).reshape(H * DV, B, TQ), rtol=1e-12)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(numHeads=4), "FormatError", "divide"),
    (dict(AttentionMask="future"), "ValueError", "AttentionMask"),
    (dict(AttentionMask=np.ones((2, 2))), "FormatError", "numKeys"),
    (dict(DropoutProbability=0.1, DropoutMask=np.ones((2, 2))), "FormatError", "DropoutMask"),
    (dict(DropoutProbability=1.0), "ValueError", "DropoutProbability"),
    (dict(Scale="big"), "ValueError", "Scale"),
])
def test_bad_arguments_are_clear_errors(kwargs, error, message):
    heads = kwargs.pop("numHeads", H)
    with pytest.raises(getattr(dl, error, ValueError), match=message):
        dl.attention(dl.dlarray(Q, "CBT"), dl.dlarray(K), dl.dlarray(V), heads, **kwargs)


def encoder_block(d=8, heads=2):
    """A transformer encoder block: self-attention and a feed-forward net, each with a residual
    connection and layer normalisation."""
    g = dl.layerGraph([dl.sequenceInputLayer(3), dl.fullyConnectedLayer(d, name="embed"),
                       dl.additionLayer(2, name="addpos"),
                       dl.selfAttentionLayer(heads, d, AttentionMask="causal", name="attn"),
                       dl.additionLayer(2, name="res1"), dl.layerNormalizationLayer(name="ln1"),
                       dl.fullyConnectedLayer(2 * d, name="ff1"), dl.reluLayer(name="ffrelu"),
                       dl.fullyConnectedLayer(d, name="ff2"), dl.additionLayer(2, name="res2"),
                       dl.layerNormalizationLayer(name="ln2"), dl.fullyConnectedLayer(1, name="head")])
    g = dl.addLayers(g, dl.positionEmbeddingLayer(d, 16, name="pos"))
    g = dl.connectLayers(g, "embed", "pos")
    g = dl.connectLayers(g, "pos", "addpos/in2")
    g = dl.connectLayers(g, "addpos", "res1/in2")
    return dl.connectLayers(g, "ln1", "res2/in2")


def test_transformer_encoder_block_builds_and_trains():
    net = dl.dlnetwork(encoder_block(), seed=2)
    assert [r.Parameter for r in net.Learnables if r.Layer == "attn"][:2] == ["QueryWeights", "QueryBias"]
    x = RNG.standard_normal((3, 8, 10)).astype(np.float32)
    t = np.cumsum(x[0:1], axis=2)          # causal target: the running sum of the first channel
    X, T = dl.dlarray(x, "CBT"), dl.dlarray(t, "CBT")

    def step(net, X, T):
        l = dl.mse(dl.forward(net, X), T)
        return l, dl.dlgradient(l, net.Learnables)

    losses, m, v = [], None, None
    for it in range(1, 41):
        l, g = dl.dlfeval(step, net, X, T)
        net, m, v = dl.adamupdate(net, g, m, v, it, 0.01)
        losses.append(float(dl.extractdata(l)))
    assert losses[-1] < 0.3 * losses[0]
    y = dl.predict(net, X)
    assert dl.dims(y) == "CBT" and y.shape == (1, 8, 10)
    # causal: the first five outputs do not depend on the later steps
    x2 = x.copy()
    x2[:, :, 5:] += 1
    np.testing.assert_allclose(dl.extractdata(dl.predict(net, dl.dlarray(x2, "CBT")))[:, :, :5],
                               dl.extractdata(y)[:, :, :5], rtol=1e-5, atol=1e-6)


def test_word_embedding_layer_looks_up_columns():
    net = dl.dlnetwork([dl.sequenceInputLayer(1), dl.wordEmbeddingLayer(4, 9)], seed=0, dtype=np.float64)
    words = RNG.integers(0, 9, (1, 2, 5)).astype(np.float64)
    y = dl.predict(net, dl.dlarray(words, "CBT"))
    W = dl.extractdata(net.Learnables["embedding", "Weights"])
    assert dl.dims(y) == "CBT" and y.shape == (4, 2, 5)
    np.testing.assert_array_equal(dl.extractdata(y), W[:, words[0].astype(int)])


def test_dropout_draws_its_mask_from_the_global_stream():
    q, k, v = (dl.dlarray(a, "CBT") for a in (Q, K, V))
    dl.rng(3)
    first, _ = dl.attention(q, k, v, H, DropoutProbability=0.5)
    dl.rng(3)
    again, _ = dl.attention(q, k, v, H, DropoutProbability=0.5)
    other, _ = dl.attention(q, k, v, H, DropoutProbability=0.5)
    dl.rng(3)
    mask = dl.rand((TK, TQ, H, B)) >= 0.5
    explicit, _ = dl.attention(q, k, v, H, DropoutProbability=0.5, DropoutMask=mask)
    np.testing.assert_array_equal(dl.extractdata(first), dl.extractdata(again))
    np.testing.assert_array_equal(dl.extractdata(first), dl.extractdata(explicit))
    assert not np.array_equal(dl.extractdata(first), dl.extractdata(other))


def test_self_attention_layer_drops_out_in_training_only():
    net = dl.dlnetwork([dl.sequenceInputLayer(4), dl.selfAttentionLayer(2, 4, DropoutProbability=0.5)], seed=0,
                       dtype=np.float64)
    x = dl.dlarray(RNG.standard_normal((4, 2, 5)), "CBT")
    a, b = dl.forward(net, x), dl.forward(net, x)
    assert not np.array_equal(dl.extractdata(a), dl.extractdata(b))
    np.testing.assert_array_equal(dl.extractdata(dl.predict(net, x)), dl.extractdata(dl.predict(net, x)))
