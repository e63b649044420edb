"""Every way a compiled function can read a value from outside its arguments: the value is guarded
(a change retraces), a runtime input (a change is simply fed), or a warning names where it came from.
One test per pattern; each changes the value between calls and checks that the result follows."""
import types

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlaccelerate, dlarray, dlfeval, dlgradient, extractdata
from dlgrad.frontend.cache import cache_for
from dlgrad.frontend.capture import FrozenCaptureWarning

from . import capture_helpers

X = dlarray(np.array([1.0, 2.0]))
CFG = {"lr": 0.5, "epoch": 0}
SETTINGS = types.SimpleNamespace(optim=types.SimpleNamespace(lr=0.5))
PARAMS = {"W": dlarray(np.array([1.0, 1.0])), "b": dlarray(0.0)}


def value(result):
    return float(extractdata(result))


def test_a_value_from_a_global_dict(backend):
    def step(x):
        return dl.sum(x) * CFG["lr"]

    try:
        for lr in (0.5, 0.25, 0.5):
            CFG["lr"] = lr
            assert value(dlfeval(step, X)) == 3 * lr
        CFG["epoch"] = 7          # a value step does not read: no retrace
        assert value(dlfeval(step, X)) == 1.5
    finally:
        CFG.update(lr=0.5, epoch=0)
    assert cache_for(step).misses == 2


def helper(x):
    return x * 2.0


def calls_helper(x):
    return dl.sum(helper(x))


def test_a_global_helper_that_is_redefined(backend):
    global helper
    original = helper
    try:
        assert value(dlfeval(calls_helper, X)) == 6.0
        helper = lambda x: x * 3.0   # noqa: E731  (a notebook cell run again)
        assert value(dlfeval(calls_helper, X)) == 9.0
    finally:
        helper = original
    assert value(dlfeval(calls_helper, X)) == 6.0


def test_an_attribute_chain(backend):
    def step(x):
        return dl.sum(x) * SETTINGS.optim.lr

    try:
        assert value(dlfeval(step, X)) == 1.5
        SETTINGS.optim.lr = 2.0
        assert value(dlfeval(step, X)) == 6.0
        SETTINGS.optim = types.SimpleNamespace(lr=1.0)   # a new object on the path
        assert value(dlfeval(step, X)) == 3.0
    finally:
        SETTINGS.optim = types.SimpleNamespace(lr=0.5)


def test_an_item_of_a_closed_over_list(backend):
    schedule = [1.0]

    def step(x):
        return dl.sum(x) * schedule[0]

    assert value(dlfeval(step, X)) == 3.0
    schedule[0] = 4.0
    assert value(dlfeval(step, X)) == 12.0


def test_a_helper_in_another_module_reading_its_own_global(backend):
    def step(x):
        return dl.sum(capture_helpers.scaled(x))

    try:
        assert value(dlfeval(step, X)) == 3.0
        capture_helpers.GAIN = 5.0
        assert value(dlfeval(step, X)) == 15.0
    finally:
        capture_helpers.GAIN = 1.0


class Options:
    def __init__(self, scale, weights):
        self.scale, self.weights = scale, weights


def test_a_mutable_object_passed_as_a_static_argument(backend):
    def step(x, options):
        return dl.sum(x) * options.scale + dl.sum(x * options.weights)

    options = Options(1.0, dlarray(np.array([0.0, 1.0])))
    assert value(dlfeval(step, X, options)) == 5.0
    options.scale = 2.0                                    # a number: guarded
    assert value(dlfeval(step, X, options)) == 8.0
    options.weights = dlarray(np.array([1.0, 0.0]))        # a dlarray: an input
    assert value(dlfeval(step, X, options)) == 7.0


def test_a_network_read_from_a_global_follows_its_training():
    """The headline case: evaluate(X) reads the global net while a loop trains it."""
    layers = [dl.featureInputLayer(2), dl.fullyConnectedLayer(3), dl.reluLayer(), dl.fullyConnectedLayer(1)]
    inputs = dlarray(np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], np.float32), "CB")
    targets = np.array([[1.0, -1.0, 0.5]], np.float32)
    env = {"net": dl.dlnetwork(layers, seed=1), "dl": dl, "targets": targets}
    exec("def evaluate(X):\n    return dl.mse(dl.predict(net, X), targets)\n"
         "def loss(net, X):\n    l = dl.mse(dl.predict(net, X), targets)\n    return l, dl.dlgradient(l, net.Learnables)\n",
         env)
    evaluate, loss = env["evaluate"], env["loss"]
    velocity = None
    for it in range(4):
        reported = value(dlfeval(evaluate, inputs))
        reference, grads = dlfeval(loss, env["net"], inputs)
        assert reported == pytest.approx(value(reference), rel=1e-6)
        env["net"], velocity = dl.sgdmupdate(env["net"], grads, velocity, 0.1)
    assert cache_for(evaluate).misses == 1     # the network's parameters are inputs, not constants


def test_a_dict_of_dlarrays_from_a_global(backend):
    def step(x):
        return capture_helpers.affine(PARAMS, x)

    saved = dict(PARAMS)
    try:
        assert value(dlfeval(step, X)) == 3.0
        PARAMS["W"] = dlarray(np.array([2.0, -1.0]))
        PARAMS["b"] = dlarray(10.0)
        assert value(dlfeval(step, X)) == 10.0
    finally:
        PARAMS.update(saved)
    assert cache_for(step).misses == 1


class Model:
    def __init__(self):
        self.W = dlarray(np.array([1.0, 1.0]))


MODEL = Model()


def test_an_object_holding_dlarrays_from_a_global(backend):
    accelerated = dlaccelerate(lambda x: dl.sum(x * MODEL.W))
    assert value(accelerated(X)) == 3.0
    MODEL.W = dlarray(np.array([0.0, 3.0]))
    try:
        assert value(accelerated(X)) == 6.0
        assert value(dlfeval(accelerated, X)) == 6.0
    finally:
        MODEL.W = dlarray(np.array([1.0, 1.0]))
    assert accelerated.misses == 1


def test_a_dlarray_used_eagerly_before_it_meets_the_arguments(backend):
    weights = dlarray(np.arange(100.0))

    def step(x):
        doubled = weights[:2] * 2        # no traced operand yet: recorded all the same
        return dl.sum(x * doubled), dlgradient(dl.sum(x * doubled), x)

    assert value(dlfeval(step, X)[0]) == 4.0
    weights = dlarray(np.arange(100.0)[::-1].copy())
    y, g = dlfeval(step, X)
    assert value(y) == 2 * (99 + 2 * 98) and extractdata(g).tolist() == [198.0, 196.0]


def test_a_global_dlarray_returned_as_it_is(backend):
    def step(x):
        return dl.sum(x), PARAMS["W"]

    saved = PARAMS["W"]
    try:
        assert extractdata(dlfeval(step, X)[1]).tolist() == [1.0, 1.0]
        PARAMS["W"] = dlarray(np.array([5.0, 6.0]))
        assert extractdata(dlfeval(step, X)[1]).tolist() == [5.0, 6.0]
    finally:
        PARAMS["W"] = saved


def test_a_large_numpy_array_read_directly_is_an_input(backend):
    table = np.linspace(0.0, 1.0, 200)

    def step(x):
        return dl.sum(dl.sum(x) * table)

    assert value(dlfeval(step, X)) == pytest.approx(300.0)
    table[:] = 2.0          # in place: fed on the next call
    assert value(dlfeval(step, X)) == pytest.approx(1200.0)


def test_a_value_too_large_to_guard_warns_with_its_name():
    lookup = {i: float(i) for i in range(5000)}

    def step(x):
        return dl.sum(x) * sum(lookup.values()) / 5000

    with pytest.warns(FrozenCaptureWarning, match="'lookup'.*more than"):
        dlfeval(step, X)


def test_guards_hold_on_the_unrolled_hit_path(backend):
    """A signature hit twice in a row gets a generated call: its inline guards still see changes."""
    def step(x):
        return dl.sum(capture_helpers.scaled(x)) * CFG["lr"]

    accelerated = dlaccelerate(step)
    try:
        for gain, lr in ((1.0, 0.5), (1.0, 0.5), (1.0, 0.5), (2.0, 0.5), (2.0, 0.5), (2.0, 0.25)):
            capture_helpers.GAIN, CFG["lr"] = gain, lr
            assert value(accelerated(X)) == 3 * gain * lr
            assert value(dlfeval(step, X)) == 3 * gain * lr
    finally:
        capture_helpers.GAIN, CFG["lr"] = 1.0, 0.5
    assert accelerated.misses == 3
