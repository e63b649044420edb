"""dlfeval: the documented examples, compile-once, signatures, nested arguments and results."""
import collections
import functools

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import TraceError, dlarray, dlfeval, dlgradient, extractdata
from dlgrad.frontend.cache import cache_for


def rosenbrock(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dlgradient(y, x)


def test_rosenbrock_documented_numbers(backend):
    fval, g = dlfeval(rosenbrock, dlarray(np.array([-1.0, 2.0])))
    assert isinstance(fval, dlarray) and isinstance(g, dlarray)
    assert fval.shape == () and g.shape == (2,)
    assert extractdata(fval) == 104.0
    np.testing.assert_array_equal(extractdata(g), [396.0, 200.0])
    assert repr(fval) == "dlarray(104.)" and repr(g) == "dlarray([396., 200.])"


def test_rosenbrock_float32():
    fval, g = dlfeval(rosenbrock, dlarray(np.array([-1.0, 2.0], np.float32)))
    assert fval.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_array_equal(extractdata(g), [396.0, 200.0])


def test_blog_loop_runs_the_body_once(backend):
    calls = []

    def my_loss(x1, x2):
        calls.append(1)
        y = (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2
        dydx1, dydx2 = dlgradient(y, x1, x2)
        return y, dydx1, dydx2

    x1, x2, lr = dlarray(2.0), dlarray(2.0), 0.1
    r1, r2 = 2.0, 2.0
    for _ in range(100):
        loss, dydx1, dydx2 = dlfeval(my_loss, x1, x2)
        x1, x2 = x1 - lr * dydx1, x2 - lr * dydx2
        # the same step by hand
        ref_loss = (r2 - r1 ** 2) ** 2 + (1 - r1) ** 2
        g1, g2 = -4 * r1 * (r2 - r1 ** 2) - 2 * (1 - r1), 2 * (r2 - r1 ** 2)
        r1, r2 = r1 - lr * g1, r2 - lr * g2
        assert float(loss) == pytest.approx(ref_loss, rel=1e-12, abs=1e-15)
        assert (float(x1), float(x2)) == pytest.approx((r1, r2), rel=1e-12)
    assert len(calls) == 1
    assert cache_for(my_loss).hits == 99 and cache_for(my_loss).misses == 1


def test_signature_retraces_on_shape_dtype_static_and_structure():
    calls = []

    def f(x, scale=1.0):
        calls.append(1)
        return dl.sum(x) * scale

    x2, x3 = dlarray(np.ones(2)), dlarray(np.ones(3))
    assert float(dlfeval(f, x2)) == 2.0
    assert float(dlfeval(f, dlarray(np.full(2, 3.0)))) == 6.0    # same signature: no trace
    assert len(calls) == 1
    assert float(dlfeval(f, x3)) == 3.0                          # new shape
    assert float(dlfeval(f, dlarray(np.ones(2, np.float32)))) == 2.0   # new dtype
    assert float(dlfeval(f, x2, 2.0)) == 4.0                     # new static value
    assert float(dlfeval(f, x2, 3.0)) == 6.0
    assert float(dlfeval(f, x2, 3)) == 6.0                       # int is not float
    assert len(calls) == 6
    assert float(dlfeval(f, x2, 2.0)) == 4.0                     # cached
    assert len(calls) == 6
    with pytest.raises(TypeError):
        dlfeval(f, x2, 1.0, 2.0)                                 # wrong arity: fn's own error


def test_numpy_arrays_are_runtime_inputs():
    calls = []

    def f(x, w):
        calls.append(1)
        return dl.sum(x * w)

    x = dlarray(np.ones(3))
    assert float(dlfeval(f, x, np.array([1.0, 2.0, 3.0]))) == 6.0
    assert float(dlfeval(f, x, np.array([2.0, 2.0, 2.0]))) == 6.0
    assert float(dlfeval(f, x, np.arange(6.0)[::2])) == 6.0      # a non-contiguous view
    assert float(dlfeval(f, x, np.array([1, 1, 1]))) == 3.0      # integers: float64, new signature
    assert len(calls) == 2
    text = dl.lower(f, x, np.array([1.0, 2.0, 3.0])).graph_text
    assert text.count("input") == 2


Params = collections.namedtuple("Params", "w b")


def test_nested_arguments_and_results(backend):
    def model(params, data, options):
        pred = data["x"] @ params.w + params.b[0]
        loss = dl.mean((pred - data["y"]) ** 2) * options["scale"]
        grads = dlgradient(loss, params)
        return {"loss": loss, "grads": grads, "pair": [pred, (options["name"], None)], "const": dlarray(7.0)}

    rng = np.random.default_rng(1)
    w, b, x, y = rng.standard_normal(3), rng.standard_normal(1), rng.standard_normal((4, 3)), rng.standard_normal(4)
    params = Params(dlarray(w), [dlarray(b)])
    out = dlfeval(model, params, {"x": x, "y": dlarray(y)}, {"scale": 0.5, "name": "run"})
    pred = x @ w + b[0]
    assert set(out) == {"loss", "grads", "pair", "const"}
    assert float(out["loss"]) == pytest.approx(0.5 * np.mean((pred - y) ** 2))
    assert isinstance(out["grads"], Params) and isinstance(out["grads"].b, list)
    np.testing.assert_allclose(extractdata(out["grads"].w), 0.5 * 2 / 4 * x.T @ (pred - y), rtol=1e-12)
    np.testing.assert_allclose(extractdata(out["grads"].b[0]), [0.5 * 2 / 4 * np.sum(pred - y)], rtol=1e-12)
    assert out["pair"][1] == ("run", None)
    np.testing.assert_allclose(extractdata(out["pair"][0]), pred, rtol=1e-12)
    assert float(out["const"]) == 7.0
    again = dlfeval(model, params, {"x": x, "y": dlarray(y)}, {"scale": 0.5, "name": "run"})
    assert float(again["loss"]) == float(out["loss"]) and again["pair"][1] == ("run", None)


def test_results_that_are_not_arrays_are_returned_as_is():
    marker = object()

    def f(x):
        return x, 3, "text", None, marker, np.array([1, 2])

    first = dlfeval(f, dlarray(1.0))
    second = dlfeval(f, dlarray(2.0))
    assert float(second[0]) == 2.0 and second[1:5] == (3, "text", None, marker)
    assert second[5] is not first[5] and second[5].tolist() == [1, 2]
    assert dlfeval(lambda x: None, dlarray(1.0)) is None


def test_returned_inputs_and_repeated_outputs(backend):
    x = dlarray(np.ones(2))
    y = dlfeval(lambda x: x, x)
    np.testing.assert_array_equal(extractdata(y), [1.0, 1.0])
    assert y._node is None
    a, b, c, d = dlfeval(lambda x: (x, x, x * 2, x * 2), x)
    assert extractdata(a) is not extractdata(b) and extractdata(c) is not extractdata(d)
    np.testing.assert_array_equal(extractdata(b), [1.0, 1.0])
    np.testing.assert_array_equal(extractdata(d), [2.0, 2.0])


def test_recreated_lambda_and_bound_methods_and_partials():
    x = dlarray(np.arange(3.0))
    for k in range(3):
        assert float(dlfeval(lambda x: dl.sum(x) * 2, x)) == 6.0

    class Model:
        def __init__(self, scale):
            self.scale, self.calls = scale, 0

        def loss(self, x):
            self.calls += 1
            return dl.sum(x) * self.scale

    m1, m2 = Model(2.0), Model(3.0)
    assert [float(dlfeval(m.loss, x)) for m in (m1, m2, m1, m2)] == [6.0, 9.0, 6.0, 9.0]
    assert (m1.calls, m2.calls) == (1, 1)
    scaled = functools.partial(lambda s, x: dl.sum(x) * s, 4.0)
    assert float(dlfeval(scaled, x)) == 12.0 and float(dlfeval(scaled, x)) == 12.0


def test_nested_dlfeval_records_into_the_outer_trace():
    def inner(x):
        return dl.sum(x ** 3)

    def outer(x):
        y = dlfeval(inner, x)
        return y, dlgradient(y, x)

    y, g = dlfeval(outer, dlarray(np.array([1.0, 2.0])))
    assert float(y) == 9.0
    np.testing.assert_array_equal(extractdata(g), [3.0, 12.0])


def test_traced_values_cannot_escape():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2

    def g(x):
        return leaked[0] * x

    dlfeval(f, dlarray(1.0))
    with pytest.raises(TraceError, match="after the dlfeval"):
        leaked[0] + 1
    with pytest.raises(TraceError, match="after the dlfeval"):
        dlfeval(g, dlarray(1.0))
    with pytest.raises(TraceError):
        dlfeval(lambda x: leaked[0], dlarray(1.0))
    with pytest.raises(TraceError, match="after the dlfeval"):
        dlfeval(lambda x: x, leaked[0])
    assert "traced" in repr(leaked[0])


@pytest.mark.parametrize("operation", [bool, float, int, lambda x: 1 if x > 0 else 0,
                                       lambda x: x and 1, lambda x: [0][x], np.asarray])
def test_python_control_flow_on_traced_values(operation):
    def f(x):
        return operation(x[0])

    with pytest.raises(TraceError, match="where"):
        dlfeval(f, dlarray(np.ones(2)))


def test_unsupported_numpy_function_on_traced():
    with pytest.raises(dl.UnsupportedOperationError, match=r"numpy\.linalg\.det.*maximum"):
        dlfeval(lambda x: np.linalg.det(x), dlarray(np.ones((2, 2))))
    with pytest.raises(dl.UnsupportedOperationError, match=r"numpy\.diff"):
        dlfeval(lambda x: np.diff(x), dlarray(np.ones(2)))
    with pytest.raises(dl.UnsupportedOperationError, match=r"numpy\.add\.reduce"):
        np.add.reduce(dlarray(np.ones(2)))
    with pytest.raises(dl.UnsupportedOperationError, match="out"):
        np.sin(dlarray(np.ones(2)), out=np.ones(2))


def test_unhashable_static_argument():
    with pytest.raises(TypeError, match="neither an array nor hashable"):
        dlfeval(lambda x, s: x, dlarray(1.0), {1, 2})


def test_lower_shows_graph_and_c():
    lowered = dl.lower(rosenbrock, dlarray(np.array([-1.0, 2.0])))
    assert "input" in lowered.graph_text and "return" in lowered.graph_text
    assert lowered.c_source is None or "double" in lowered.c_source


def test_signature_hit_twice_in_a_row_takes_the_generated_call(backend, call_path):

    def f(x):
        y = dl.sum(x ** 3)
        return y, dl.dlgradient(y, x)
    x = dl.dlarray(np.array([1.0, -2.0]))
    for _ in range(4):
        y, g = dl.dlfeval(f, x)
        assert float(y) == -7.0 and dl.extractdata(g).tolist() == [3.0, 12.0]
    cache = cache_for(f)
    assert (cache.__call__ is not cache.slow) == (backend == "c") and (cache.hits, cache.misses) == (3, 1)
    assert (type(cache.__call__).__name__ == "Dispatcher") == (backend == "c" and call_path == "native")
    y, g = dl.dlfeval(f, dl.dlarray(np.array([2.0], np.float32)))   # another signature: the dict path
    assert float(y) == 8.0 and g.dtype == np.float32 and cache.misses == 2
    assert float(dl.dlfeval(f, x)[0]) == -7.0 and cache.hits == 4
    assert float(dl.dlfeval(lambda z: dl.dlfeval(f, z)[0] * 2, x)) == -14.0   # traced: recorded inline
