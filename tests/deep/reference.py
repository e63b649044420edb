"""numpy reference formulas for the deep-learning functions (written independently of dlgrad)."""
import math

import numpy as np

erf = np.vectorize(math.erf)


def softmax(x, axis=0):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def gelu(x, tanh=False):
    if tanh:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def conv2d(x, w, b, stride, pad, dilation):
    """x (H, W, C, B), w (kh, kw, C, F), pad ((t, b), (l, r)) -> (Ho, Wo, F, B), by loops."""
    x = np.pad(x, (pad[0], pad[1], (0, 0), (0, 0)))
    kh, kw, _, nf = w.shape
    ho = (x.shape[0] - (kh - 1) * dilation - 1) // stride + 1
    wo = (x.shape[1] - (kw - 1) * dilation - 1) // stride + 1
    y = np.zeros((ho, wo, nf, x.shape[3]))
    for i in range(ho):
        for j in range(wo):
            patch = x[i * stride:i * stride + (kh - 1) * dilation + 1:dilation,
                      j * stride:j * stride + (kw - 1) * dilation + 1:dilation]
            y[i, j] = np.einsum("abcn,abcf->fn", patch, w)
    return y + b.reshape(1, 1, -1, 1)


def pool(x, k, stride, pad, reduce, fill=0.0):
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0), (0, 0)), constant_values=fill)
    ho, wo = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
    return np.stack([np.stack([reduce(x[i * stride:i * stride + k, j * stride:j * stride + k], (0, 1))
                               for j in range(wo)]) for i in range(ho)])
