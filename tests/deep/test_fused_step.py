"""A whole training step (forward, backward, Adam) as one compiled call, with parameters and
optimizer state updated in place through dlaccelerate(..., donate=...)."""
from __future__ import annotations

import numpy as np
import pytest

import dlgrad as dl


def layers():
    return [dl.featureInputLayer(6), dl.fullyConnectedLayer(5), dl.reluLayer(),
            dl.fullyConnectedLayer(3), dl.softmaxLayer()]


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 8)), np.eye(3)[:, rng.integers(0, 3, 8)]


def train_step(net, X, T, m, v, iteration):
    loss = dl.crossentropy(dl.forward(net, X), T)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration, learnRate=0.01)
    return net, m, v, loss


def reference_run(steps):
    """The same training with the optimizer called outside the compiled gradient."""
    def loss_and_grads(net, X, T):
        loss = dl.crossentropy(dl.forward(net, X), T)
        return loss, dl.dlgradient(loss, net.Learnables)
    net, (X, T), m, v, losses = dl.dlnetwork(layers(), seed=1), data(), None, None, []
    for it in range(1, steps + 1):
        loss, grads = dl.dlfeval(loss_and_grads, net, X, T)
        net, m, v = dl.adamupdate(net, grads, m, v, it, learnRate=0.01)
        losses.append(float(dl.extractdata(loss)))
    return net, losses


def parameters(net):
    return [dl.extractdata(p) for p in net.Learnables.Value]


def addresses(*structures):
    """Where the arrays of the dlarrays in `structures` live (holding no reference to them: a
    held array is one that donation must not overwrite)."""
    return [p._data.__array_interface__["data"][0] for s in structures for p in dl.frontend.tree.flatten(
        s.Learnables if isinstance(s, dl.dlnetwork) else s)[0]]


@pytest.mark.parametrize("donate", [(), (0, 3, 4)], ids=["copying", "in place"])
def test_fused_step_follows_the_separate_optimizer(donate):
    steps = 4
    want_net, want_losses = reference_run(steps)
    step = dl.dlaccelerate(train_step, donate=donate)
    net, (X, T) = dl.dlnetwork(layers(), seed=1), data()
    m = dl.dlupdate(lambda p: dl.dlarray(np.zeros_like(dl.extractdata(p))), net.Learnables)
    v = dl.dlupdate(lambda p: dl.dlarray(np.zeros_like(dl.extractdata(p))), net.Learnables)
    losses, in_place = [], []
    for it in range(1, steps + 1):
        before = addresses(net, m, v)
        net, m, v, loss = dl.dlfeval(step, net, X, T, m, v, dl.dlarray(float(it)))
        in_place += [a == b for a, b in zip(addresses(net, m, v), before)]
        losses.append(float(dl.extractdata(loss)))
    assert step.misses == 1   # the iteration is an input: one trace for every step
    # float32 parameters: constants folded into the fused loop round differently by an ulp
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for got, want in zip(parameters(net), parameters(want_net)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert len(in_place) == steps * 3 * len(net.Learnables.Value)
    assert all(in_place) if donate else not any(in_place)   # parameters and moments, every step


def test_donated_arguments_are_checked():
    with pytest.raises(TypeError, match="donate must be argument positions"):
        dl.dlaccelerate(train_step, donate=("net",))
    step = dl.dlaccelerate(lambda x: x * 2, donate=(3,))
    with pytest.raises(ValueError, match="donate: argument position 3 is out of range"):
        step(dl.dlarray(np.ones(2)))


def test_donating_a_plain_update_overwrites_the_argument():
    step = dl.dlaccelerate(lambda x, g: x - 0.5 * g, donate=0)
    x = dl.dlarray(np.arange(3.0))
    for calls in range(1, 4):   # the later calls take the generated call path
        address = addresses([x])
        y = step(x, dl.dlarray(np.ones(3)))
        assert addresses([y]) == address and dl.extractdata(y) is dl.extractdata(x)
        np.testing.assert_array_equal(dl.extractdata(x), np.arange(3.0) - 0.5 * calls)
        del y   # else y, a second dlarray, sees x's array: the next call could not overwrite it
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    y = step(dl.dlarray(frozen), dl.dlarray(np.ones(3)))   # dlarray copies its data: still in place
    np.testing.assert_array_equal(dl.extractdata(y), np.arange(3.0) - 0.5)
    np.testing.assert_array_equal(frozen, np.arange(3.0))


def test_traced_iteration_must_be_a_scalar():
    def bad(net, g, m, v, its):
        return dl.adamupdate(net, g, m, v, its)
    p = dl.dlarray(np.ones(2))
    with pytest.raises(ValueError, match="iteration must be a scalar"):
        dl.dlfeval(bad, p, p, p, p, dl.dlarray(np.ones(2)))
