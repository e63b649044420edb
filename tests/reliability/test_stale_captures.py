"""Values the objective reads from closures and globals: small ones are guarded, large ones warn."""
import warnings

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlaccelerate, dlarray, dlfeval, dlgradient, extractdata
from dlgrad.frontend import cache as signature_cache
from dlgrad.frontend.cache import cache_for
from dlgrad.frontend.capture import FrozenCaptureWarning

LEARNING_RATE = 0.2
SCALE = np.array([1.0, 2.0, 3.0])
BIG = np.linspace(0.0, 1.0, 1000)
traces = []


def blog_step(x1, x2):
    """One gradient step of the blog's loop with the learning rate read from a global."""
    traces.append(1)
    y = (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, x1 - LEARNING_RATE * dydx1, x2 - LEARNING_RATE * dydx2


def test_global_learning_rate_that_decays_follows_numpy(backend):
    global LEARNING_RATE
    traces.clear()
    x1, x2, a, b = dlarray(2.0), dlarray(2.0), 2.0, 2.0
    try:
        for iteration in range(40):
            LEARNING_RATE = 0.2 / (1 + iteration // 10)   # a step decay: four distinct values
            y, x1, x2 = dlfeval(blog_step, x1, x2)
            ga, gb = -4 * a * (b - a * a) - 2 * (1 - a), 2 * (b - a * a)
            a, b = a - LEARNING_RATE * ga, b - LEARNING_RATE * gb
            assert float(extractdata(x1)) == pytest.approx(a, rel=1e-12, abs=1e-15)
            assert float(extractdata(x2)) == pytest.approx(b, rel=1e-12, abs=1e-15)
    finally:
        LEARNING_RATE = 0.2
    assert len(traces) == 4
    cache = cache_for(blog_step)
    assert (cache.misses, cache.hits, cache.retraces) == (4, 36, 3)


def test_a_value_that_comes_back_reuses_its_earlier_trace(backend):
    global LEARNING_RATE
    traces.clear()
    x = dlarray(1.5)
    results = {}
    try:
        for lr in (0.1, 0.3, 0.1, 0.3, 0.1):
            LEARNING_RATE = lr
            results.setdefault(lr, []).append(float(extractdata(dlfeval(blog_step, x, x)[1])))
    finally:
        LEARNING_RATE = 0.2
    assert len(traces) == 2
    assert len(set(results[0.1])) == 1 and len(set(results[0.3])) == 1
    assert results[0.1][0] != results[0.3][0]


def test_closure_scalar_changed_with_nonlocal(backend):
    offset = 1.0

    def objective(x):
        return dl.sum(x + offset)

    x = dlarray(np.zeros(4))
    seen = []
    for value in (1.0, 1.0, -2.5, 7):
        offset = value
        seen.append(float(extractdata(dlfeval(objective, x))))
    assert seen == [4.0, 4.0, -10.0, 28.0]


def test_bool_flag_changes_control_flow(backend):
    squared = False

    def objective(x):
        return dl.sum(x * x) if squared else dl.sum(x)

    x = dlarray(np.array([1.0, 2.0]))
    assert float(extractdata(dlfeval(objective, x))) == 3.0
    squared = True
    assert float(extractdata(dlfeval(objective, x))) == 5.0


def test_small_global_array_mutated_in_place(backend):
    def objective(x):
        return dl.sum(x * SCALE)

    x = dlarray(np.ones(3))
    assert float(extractdata(dlfeval(objective, x))) == 6.0
    saved = SCALE.copy()
    try:
        SCALE[2] = 10.0
        assert float(extractdata(dlfeval(objective, x))) == 13.0
    finally:
        SCALE[:] = saved
    assert float(extractdata(dlfeval(objective, x))) == 6.0


def test_small_dlarray_in_a_closure_replaced(backend):
    weights = dlarray(np.array([1.0, -1.0]))

    def objective(x):
        return dl.sum(x * weights)

    x = dlarray(np.array([3.0, 1.0]))
    assert float(extractdata(dlfeval(objective, x))) == 2.0
    weights = dlarray(np.array([2.0, 2.0]))
    assert float(extractdata(dlfeval(objective, x))) == 8.0


def test_float32_global_array_retraces_when_its_dtype_changes(backend):
    table = np.array([0.5, 0.25])

    def objective(x):
        return dl.sum(x * table)

    x = dlarray(np.array([1.0, 1.0]))
    assert float(extractdata(dlfeval(objective, x))) == 0.75
    table = np.array([1, 3])   # same shape, different dtype and bytes
    assert float(extractdata(dlfeval(objective, x))) == 4.0


def helper(x):
    return x * LEARNING_RATE


def test_a_helper_of_the_same_module_is_followed(backend):
    global LEARNING_RATE

    def objective(x):
        return dl.sum(helper(x))

    x = dlarray(np.ones(2))
    try:
        LEARNING_RATE = 1.0
        assert float(extractdata(dlfeval(objective, x))) == 2.0
        LEARNING_RATE = 3.0
        assert float(extractdata(dlfeval(objective, x))) == 6.0
    finally:
        LEARNING_RATE = 0.2


class Model:
    def loss(self, x):
        return dl.sum(x) * LEARNING_RATE


def test_bound_methods_and_accelerated_functions_are_guarded(backend):
    global LEARNING_RATE
    model = Model()
    accelerated = dlaccelerate(lambda x: dl.sum(x) * LEARNING_RATE)
    x = dlarray(np.ones(2))
    try:
        for lr in (1.0, 2.0):
            LEARNING_RATE = lr
            assert float(extractdata(dlfeval(model.loss, x))) == 2 * lr
            assert float(extractdata(accelerated(x))) == 2 * lr
            assert float(extractdata(dlfeval(accelerated, x))) == 2 * lr
    finally:
        LEARNING_RATE = 0.2
    assert accelerated.misses == 2


def test_a_function_that_counts_its_own_calls_is_not_retraced(backend):
    count = 0

    def objective(x):
        nonlocal count
        count += 1    # assigned by the trace itself: recorded after it, so not a change
        return dl.sum(x)

    x = dlarray(np.ones(2))
    for _ in range(3):
        dlfeval(objective, x)
    assert count == 1


def test_large_array_warns_once_at_trace_time(backend):
    def objective(x):
        return dl.sum(x * BIG[:2])

    x = dlarray(np.ones(2))
    with pytest.warns(FrozenCaptureWarning, match=r"'BIG' of shape \(1000,\).*frozen.*argument") as record:
        dlfeval(objective, x)
    assert record[0].filename == __file__     # points at the caller, not at dlgrad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dlfeval(objective, x)          # a hit: no warning, no retrace
    assert cache_for(objective).misses == 1


def test_no_captures_means_no_guard_on_the_hit_path(backend):
    def objective(x):
        y = dl.sum(x ** 2)
        return y, dlgradient(y, x)

    x = dlarray(np.ones(2))
    dlfeval(objective, x)
    (call,) = cache_for(objective).entries.values()
    assert call.guards == [] and call is call.unguarded


def test_repeated_retraces_warn_that_the_value_should_be_an_argument(backend, monkeypatch):
    monkeypatch.setattr(signature_cache, "RETRACE_WARNING", 3)
    step = 0

    def objective(x):
        return dl.sum(x) * step

    x = dlarray(np.ones(2))
    with pytest.warns(RuntimeWarning, match="step"):
        for step in range(5):
            assert float(extractdata(dlfeval(objective, x))) == 2 * step


class Scaled:
    """An objective whose constants live on the object."""

    def __init__(self, scale):
        self.scale = scale
        self.offset = np.array([1.0, -1.0])

    def loss(self, x):
        y = dl.sum((x - self.offset) ** 2) * self.scale
        return y, dlgradient(y, x)


SETTINGS = Scaled(1.0)


def global_object_loss(x):
    y = dl.sum(x ** 2) * SETTINGS.scale
    return y, dlgradient(y, x)


def test_attributes_of_self_and_of_global_objects_are_guarded(backend):
    x = dlarray(np.array([2.0, 3.0]))
    model = Scaled(1.0)
    for scale in (1.0, 2.0, 0.5):
        model.scale = scale
        y, g = dlfeval(model.loss, x)
        assert float(y) == scale * 17.0 and extractdata(g).tolist() == [2 * scale, 8 * scale]
    model.offset = np.array([0.0, 0.0])          # a small array attribute: guarded by value
    assert float(dlfeval(model.loss, x)[0]) == 0.5 * 13.0
    accelerated = dlaccelerate(global_object_loss)
    for scale in (3.0, 3.0, 4.0):
        SETTINGS.scale = scale
        assert float(accelerated(x)[0]) == scale * 13.0
    assert accelerated.misses == 2


def test_large_array_attribute_warns_that_it_is_frozen():
    class Model:
        def __init__(self):
            self.weights = np.ones(1000)

        def loss(self, x):
            return dl.sum(x * self.weights[:2])
    with pytest.warns(FrozenCaptureWarning, match="'self.weights'.*attributes"):
        dlfeval(Model().loss, dlarray(np.ones(2)))
