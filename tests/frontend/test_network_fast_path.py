"""dlnetworks, Learnables tables and lists of arrays as arguments of the native call path: the
same results as the Python path, and any change to a network's signature leaves the fast path."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray
from dlgrad.frontend import tree
from dlgrad.frontend.cache import cache_for
from dlgrad.frontend.nn.network import Learnables

X = dlarray(np.random.default_rng(1).random((4, 8)), "CB")
T = dlarray(np.random.default_rng(2).random((2, 8)), "CB")


def mlp(hidden=16, seed=0, extra=()):
    return dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(hidden), dl.reluLayer(), *extra,
                         dl.fullyConnectedLayer(2)], seed=seed)


def model_loss(net, X, T):
    Y = dl.forward(net, X)
    loss = dl.mse(Y, T)
    return loss, dl.dlgradient(loss, net.Learnables)


def train_step(net, X, T, m, v, it):
    loss, grads = model_loss(net, X, T)
    net, m, v = dl.adamupdate(net, grads, m, v, it)
    return net, loss, m, v


def native(accfun):
    return type(accfun.__call__).__name__ == "Dispatcher"


@pytest.fixture(autouse=True)
def native_path_available():
    from dlgrad.runtime import fastcall
    if not fastcall.enabled() or fastcall.get() is None:
        pytest.skip("the native call path cannot be built here")


def python_path(fn, *args):
    """fn(*args) through the signature cache's Python hit path (never the fast slot)."""
    reference = dl.dlaccelerate(fn)
    reference.dispatch(fn, args)
    return reference.dispatch(fn, args)


def assert_same(a, b):
    """The same structure, types, keys, formats and bit-identical values."""
    (la, da), (lb, db) = tree.flatten(a), tree.flatten(b)
    assert da == db
    for x, y in zip(la, lb):
        assert type(x) is type(y)
        if type(x) is dlarray:
            assert x._fmt == y._fmt and x._logical == y._logical and x.dtype == y.dtype
            np.testing.assert_array_equal(x._data, y._data)
        else:
            assert x == y


@pytest.fixture(scope="module")
def accelerated():
    """model_loss accelerated and promoted to the native path with the 16-unit network."""
    accfun = dl.dlaccelerate(model_loss)
    net = mlp()
    for _ in range(3):
        accfun(net, X, T)
    assert native(accfun)
    return accfun, net


def test_a_network_argument_takes_the_native_path_with_the_same_results(accelerated):
    accfun, net = accelerated
    hits = accfun.hits
    loss, grads = accfun(net, X, T)
    assert accfun.hits == hits + 1 and native(accfun)
    assert type(grads) is Learnables and grads._keys == net.Learnables._keys and type(grads._values) is list
    assert_same((loss, grads), python_path(model_loss, net, X, T))
    for _ in range(3):
        assert_same(dl.dlfeval(model_loss, net, X, T), (loss, grads))
    assert type(cache_for(model_loss).__call__).__name__ == "Dispatcher"   # dlfeval's own cache


def test_new_values_of_the_same_signature_are_hits_with_their_own_results(accelerated):
    accfun, _ = accelerated
    other = mlp(seed=7)   # another network object, other values, the same architecture
    hits, misses = accfun.hits, accfun.misses
    result = accfun(other, X, T)
    assert (accfun.hits, accfun.misses) == (hits + 1, misses) and native(accfun)
    assert_same(result, python_path(model_loss, other, X, T))
    assert not np.array_equal(result[1].Value[0]._data, accfun(mlp(), X, T)[1].Value[0]._data)


def changed_networks():
    net = mlp()
    keys, values = net.Learnables._keys, net.Learnables._values
    wider = mlp(hidden=8)
    deeper = mlp(extra=(dl.fullyConnectedLayer(16), dl.reluLayer()))
    double = net.with_learnables(Learnables._make(keys, [dl.dlarray(v._data.astype(np.float64)) for v in values]))
    renamed = net.with_learnables(Learnables._make(tuple((l + "x", p) for l, p in keys), values))
    swapped = net.with_learnables(Learnables._make((keys[1], keys[0], *keys[2:]), values))
    formatted = net.with_learnables(Learnables._make(keys, [dlarray(values[0]._data, "CU"), *values[1:]]))
    fewer = net.with_learnables(Learnables._make(keys[:3], values[:3]))
    strided = dlarray(np.zeros((16, 8), np.float32))
    strided._data = np.asfortranarray(values[0]._data)
    fortran = net.with_learnables(Learnables._make(keys, [strided, *values[1:]]))
    return dict(wider=wider, deeper=deeper, double=double, renamed=renamed, swapped=swapped,
                formatted=formatted, fewer=fewer, fortran=fortran)


@pytest.mark.parametrize("name", sorted(changed_networks()))
def test_a_changed_network_never_takes_the_fast_path(accelerated, name):
    accfun, net = accelerated
    changed = changed_networks()[name]
    fast = accfun.__call__
    hits, misses = accfun.hits, accfun.misses
    try:
        result = fast(changed, X, T)   # the promoted Dispatcher passes it to the Python path
    except Exception as error:   # the Python path refuses it: so must the call through the fast slot
        with pytest.raises(type(error)):
            python_path(model_loss, changed, X, T)
    else:
        assert_same(result, python_path(model_loss, changed, X, T))
        assert accfun.misses + accfun.hits == misses + hits + 1
        if name != "fortran":   # (not contiguous in C order: the Python path decides about it)
            assert accfun.misses == misses + 1
    accfun(net, X, T)
    accfun(net, X, T)   # promoted again


def test_other_state_and_structure_changes_leave_the_fast_path():
    def loss_state(net, X):
        Y, state = dl.forward(net, X, return_state=True)
        return dl.sum(Y * Y), state
    net = dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(3), dl.batchNormalizationLayer()])
    accfun = dl.dlaccelerate(loss_state)
    for _ in range(3):
        loss, state = accfun(net, X)
    assert native(accfun)
    assert type(state) is Learnables and state._keys == net.State._keys
    moved = dl.dlnetwork._make(net._arch, [net.Learnables, state])   # other State values: a hit
    hits = accfun.hits
    assert_same(accfun(moved, X), python_path(loss_state, moved, X))
    assert accfun.hits == hits + 1
    keys, values = state._keys, state._values
    double_state = dl.dlnetwork._make(net._arch, [net.Learnables, Learnables._make(
        keys, [dlarray(v._data.astype(np.float64)) for v in values])])
    misses = accfun.misses
    assert_same(accfun(double_state, X), python_path(loss_state, double_state, X))
    assert accfun.misses == misses + 1
    uninitialized = dl.dlnetwork(net.Layers, Initialize=False)
    accfun(net, X)
    accfun(net, X)
    with pytest.raises(ValueError, match="uninitialized"):
        accfun(uninitialized, X)
    tampered = dl.dlnetwork._make(net._arch, [net.Learnables, state])
    tampered.State = {"not": "a table"}
    with pytest.raises(Exception):
        accfun(tampered, X)


def test_a_training_step_returning_the_network_is_the_same_on_both_paths():
    net0 = mlp()

    def run(accfun, steps=4):
        net, m, v, losses = net0, None, None, []
        for k in range(steps):
            net, loss, m, v = accfun(net, X, T, m, v, dlarray(np.array(k + 1.0)))
            losses.append(float(loss))
        return net, m, v, losses
    fast = dl.dlaccelerate(train_step)
    net, m, v, losses = run(fast, 6)
    assert native(fast)
    assert type(net) is dl.dlnetwork and net._init is None and net._arch is net0._arch
    assert sorted(vars(net)) == sorted(vars(dl.dlnetwork._make(net0._arch, [None, None])))
    reference = dl.dlaccelerate(train_step)
    rnet, rm, rv, rlosses = net0, None, None, []
    for k in range(6):
        rnet, loss, rm, rv = reference.dispatch(train_step, (rnet, X, T, rm, rv, dlarray(np.array(k + 1.0))))
        rlosses.append(float(loss))
    assert losses == rlosses
    assert_same((net, m, v), (rnet, rm, rv))
    donated = dl.dlaccelerate(train_step, donate=(0, 3, 4))
    dnet, dm, dv, dlosses = run(donated, 6)
    assert dlosses == losses and native(donated)
    assert_same((dnet, dm, dv), (net, m, v))


def test_lists_and_numpy_arrays_take_the_native_path():
    def f(ws, h, x):
        y = dl.sum(ws[0] * x) * h[0] + dl.sum(ws[1] * x) * h[1]
        return [y, dl.dlgradient(y, ws)]
    accfun = dl.dlaccelerate(f)
    ws = [dlarray(np.arange(3.0)), dlarray(np.ones(3))]
    h, x = np.array([2.0, -1.0]), dlarray(np.array([1.0, 2.0, 3.0]))
    for _ in range(3):
        result = accfun(ws, h, x)
    assert native(accfun)
    assert_same(result, python_path(f, ws, h, x))
    hits, misses = accfun.hits, accfun.misses
    for args in [(tuple(ws), h, x), (ws[:1] * 2, h, x), (ws, h.astype(np.float32), x), (ws, [2.0, -1.0], x),
                 (ws, np.array([2, -1]), x), ([*ws, ws[0]], h, x)]:
        try:
            expected = python_path(f, *args)
        except Exception as error:
            with pytest.raises(type(error)):
                accfun(*args)
        else:
            assert_same(accfun(*args), expected)
    assert accfun.hits == hits + 1   # ws[:1] * 2: another list of the same signature
    assert accfun.misses > misses


SCALE = 2.0


def scaled(loss):
    return loss * SCALE


def guarded_loss(net, X, T):
    loss, grads = model_loss(net, X, T)   # reads model_loss, scaled and SCALE: guarded
    return scaled(loss), grads


def test_captured_values_are_guarded_on_the_native_path():
    global SCALE, scaled
    accfun, net = dl.dlaccelerate(guarded_loss), mlp()
    for _ in range(3):
        loss, _ = accfun(net, X, T)
    assert native(accfun) and accfun.misses == 1
    base = float(dl.dlfeval(model_loss, net, X, T)[0])
    try:
        SCALE = 3.0
        assert float(accfun(net, X, T)[0]) == pytest.approx(3.0 * base, rel=1e-6) and accfun.misses == 2
        accfun(net, X, T)
        assert native(accfun) and float(accfun(net, X, T)[0]) == pytest.approx(3.0 * base, rel=1e-6)
        original, scaled = scaled, lambda loss: loss - 1.0
        assert float(accfun(net, X, T)[0]) == pytest.approx(base - 1.0, rel=1e-6) and accfun.misses == 3
    finally:
        SCALE, scaled = 2.0, original
    assert float(accfun(net, X, T)[0]) == pytest.approx(2.0 * base, rel=1e-6)


# --- optimizer updates on networks and tables outside dlfeval --------------------------------------

def factored_network():
    net = dl.setLearnRateFactor(mlp(), "fc", "Weights", 0.5)
    return dl.setL2Factor(net, "fc_1", "Bias", 2.0)


UPDATES = {
    "adam": (lambda net, g, s, it, **kw: dl.adamupdate(net, g, s[0], s[1], it, **kw), 2),
    "sgdm": (lambda net, g, s, it, **kw: dl.sgdmupdate(net, g, s[0], 0.05 / it, **kw), 1),
    "rmsprop": (lambda net, g, s, it, **kw: dl.rmspropupdate(net, g, s[0], 0.01 / it, **kw), 1),
}


@pytest.mark.parametrize("name", sorted(UPDATES))
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_updates_on_tables_take_the_native_path_with_the_same_results(name, l2):
    """Tables go straight to the compiled update; the gradients as a list take the checked path."""
    from dlgrad.frontend.nn import optimizers
    update, nstates = UPDATES[name]
    compiled = {"adam": optimizers._adam, "sgdm": optimizers._sgdm, "rmsprop": optimizers._rmsprop}[name]
    net, grads = factored_network(), dl.dlfeval(model_loss, factored_network(), X, T)[1]
    fast, slow, fast_net, slow_net = [None] * nstates, [None] * nstates, net, net
    for it in range(1, 6):
        fast_net, *fast = update(fast_net, grads, fast, it, L2Regularization=l2)
        slow_net, *slow = update(slow_net, list(grads.Value), slow, it, L2Regularization=l2)
        assert_same((fast_net, *fast), (slow_net, *slow))
    assert native(compiled)
    hits = compiled.hits
    again = update(fast_net, grads, fast, 6, L2Regularization=l2)
    assert compiled.hits == hits + 1 and native(compiled)
    assert type(again[0]) is dl.dlnetwork and again[0].State is fast_net.State and again[0]._arch is net._arch
    assert all(type(t) is Learnables and t._keys == net.Learnables._keys for t in again[1:])
    table = update(fast_net.Learnables, grads, fast, 6, L2Regularization=l2)   # a table, not its network
    assert type(table[0]) is Learnables
    assert_same(table, update(fast_net.Learnables, list(grads.Value), fast, 6, L2Regularization=l2))


def test_update_fast_path_checks_what_the_checked_path_checks():
    net = mlp()
    grads = dl.dlfeval(model_loss, net, X, T)[1]
    _, m, v = dl.adamupdate(net, grads, None, None, 1)
    for _ in range(3):
        dl.adamupdate(net, grads, m, v, 2)
    keys, values = grads._keys, grads._values
    wrong = Learnables._make(keys, [dlarray(np.zeros((16, 1), np.float32)), *values[1:]])
    with pytest.raises(dl.FormatError, match="gradient 0 has shape"):
        dl.adamupdate(net, wrong, m, v, 2)
    with pytest.raises(dl.FormatError, match="gradients have 3 arrays"):
        dl.adamupdate(net, Learnables._make(keys[:3], values[:3]), m, v, 2)
    with pytest.raises(TypeError, match="gradients must hold"):
        dl.adamupdate(net, Learnables._make(keys, ["w", *values[1:]]), m, v, 2)
    as_numpy = Learnables._make(keys, [np.asarray(x._data) for x in values])   # converted as before
    assert_same(dl.adamupdate(net, as_numpy, m, v, 2), dl.adamupdate(net, grads, m, v, 2))
    double = Learnables._make(keys, [dlarray(x._data.astype(np.float64)) for x in values])
    assert_same(dl.adamupdate(net, double, m, v, 2), dl.adamupdate(net, list(double.Value), m, v, 2))
