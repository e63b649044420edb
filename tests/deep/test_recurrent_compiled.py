"""The recurrence is one loop in the generated C: an lstm (and gru) loss with its gradient gives C of
the same size at 10 and at 1000 time steps."""
import numpy as np

import dlgrad as dl

C, B, H = 3, 2, 4


def lstm_loss(x, w, r, b):
    y, h, _ = dl.lstm(x, np.zeros(H), np.zeros(H), w, r, b)
    loss = dl.sum(dl.stripdims(y) * dl.stripdims(y)) + dl.sum(h)
    return loss, dl.dlgradient(loss, [x, w, r, b])


def gru_loss(x, w, r, b):
    y, _ = dl.gru(x, np.zeros(H), w, r, b, ResetGateMode="before-multiplication")
    loss = dl.sum(dl.stripdims(y) * dl.stripdims(y))
    return loss, dl.dlgradient(loss, [x, w, r, b])


def c_size(fn, gates, steps):
    rng = np.random.default_rng(0)
    args = (dl.dlarray(rng.standard_normal((C, B, steps)), "CBT"), dl.dlarray(rng.standard_normal((gates * H, C))),
            dl.dlarray(rng.standard_normal((gates * H, H))), dl.dlarray(rng.standard_normal(gates * H)))
    return len(dl.lower(fn, *args).c_source.encode())


def test_generated_c_does_not_grow_with_the_sequence_length():
    for fn, gates in ((lstm_loss, 4), (gru_loss, 3)):
        short, long = c_size(fn, gates, 10), c_size(fn, gates, 1000)
        assert short < 1 << 20
        assert abs(long - short) <= 0.1 * short, (fn.__name__, short, long)
