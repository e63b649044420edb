"""Logical dlarrays (MATLAB's logical class): every producer of logical values, eager and compiled
(dlfeval, dlaccelerate's hit path and its native dispatcher), extractdata's bool arrays, arithmetic
giving numbers, masks indexing numpy arrays, pickling. Reference: MATLAB's documented semantics
(islogical, extractdata of logical data, true + true == 2)."""
import pickle

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, extractdata, islogical
from dlgrad.runtime import fastcall

X = np.array([1.5, -2.0, np.nan, np.inf, 0.0, -np.inf])
Y = np.array([1.5, 2.0, 0.0, np.inf, 0.0, 3.0])

# name -> (dlgrad function, numpy reference giving bools)
PRODUCERS = {
    "gt": (lambda x, y: x > y, np.greater),
    "ge": (lambda x, y: x >= y, np.greater_equal),
    "lt": (lambda x, y: x < y, np.less),
    "le": (lambda x, y: x <= y, np.less_equal),
    "eq": (lambda x, y: x == y, np.equal),
    "ne": (lambda x, y: x != y, np.not_equal),
    "isnan": (lambda x, y: dl.isnan(x), lambda x, y: np.isnan(x)),
    "isinf": (lambda x, y: dl.isinf(x), lambda x, y: np.isinf(x)),
    "isfinite": (lambda x, y: dl.isfinite(x), lambda x, y: np.isfinite(x)),
    "logical_and": (dl.logical_and, np.logical_and),
    "logical_or": (dl.logical_or, np.logical_or),
    "logical_not": (lambda x, y: dl.logical_not(x), lambda x, y: np.logical_not(x)),
    "logical_xor": (dl.logical_xor, np.logical_xor),
}


def _all_producers(x, y):
    return tuple(f(x, y) for f, _ in PRODUCERS.values())


def _expected():
    return [ref(X, Y) for _, ref in PRODUCERS.values()]


def _check(results):
    for name, r, want in zip(PRODUCERS, results, _expected()):
        assert islogical(r), name
        assert dl.underlyingType(r) == "logical", name
        got = extractdata(r)
        assert got.dtype == np.bool_, name
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_eager_producers_are_logical():
    _check(_all_producers(dlarray(X), dlarray(Y)))


def test_dlfeval_outputs_are_logical():
    results = dl.dlfeval(_all_producers, dlarray(X), dlarray(Y))
    _check(results)
    _check(dl.dlfeval(_all_producers, dlarray(X), dlarray(Y)))   # a hit


def _inline(x, y):   # reads no globals but the module (a guarded global keeps the native path off)
    return (x > y, x >= y, x < y, x <= y, x == y, x != y, dl.isnan(x), dl.isinf(x), dl.isfinite(x),
            dl.logical_and(x, y), dl.logical_or(x, y), dl.logical_not(x), dl.logical_xor(x, y), x * y)


ACCELERATED = dl.dlaccelerate(_inline)


def test_dlaccelerate_hit_and_native_path_keep_logical_outputs():
    for _ in range(4):   # a miss, a hit, then the promoted fast slot (native where it builds)
        *flags, product = ACCELERATED(dlarray(X), dlarray(Y))
        _check(flags)
        assert not islogical(product) and extractdata(product).dtype == np.float64
    assert ACCELERATED.hits >= 3
    if fastcall.enabled() and fastcall.get() is not None:   # the native dispatcher served the last calls
        assert type(ACCELERATED.__call__).__name__ == "Dispatcher"


def test_traced_values_are_logical_inside_the_trace():
    seen = {}

    def fn(x):
        m = x > 0
        seen["mask"], seen["extracted"], seen["sum"] = islogical(m), islogical(extractdata(m)), islogical(m + m)
        seen["type"] = dl.underlyingType(m)
        return m
    dl.dlfeval(fn, dlarray(X))
    assert seen == {"mask": True, "extracted": True, "sum": False, "type": "logical"}


def test_arithmetic_on_logical_gives_numbers():
    t = dlarray(np.array([True, False, True]))
    assert islogical(t) and t.dtype == np.float64
    s = t + t
    assert not islogical(s)
    np.testing.assert_array_equal(extractdata(s), [2.0, 0.0, 2.0])   # MATLAB: true + true == 2
    assert not islogical(+t) and not islogical(-t) and not islogical(t * 3) and not islogical(dl.sum(t))
    assert extractdata(dl.sum(t)) == 2.0


def test_logical_input_round_trips_through_compiled_calls():
    t = dlarray(np.array([True, False, True]))
    f = dl.dlaccelerate(lambda m, x: (m, m[::2], m * x))
    x = dlarray(np.array([1.0, 2.0, 3.0]))
    for _ in range(4):   # through the native fast slot too
        same, part, masked = f(t, x)
        same, part, masked = f(t, x)
        assert islogical(same) and islogical(part) and not islogical(masked)
        np.testing.assert_array_equal(extractdata(part), [True, True])
        # the same signature with a numeric argument is another entry, with numeric outputs
        same, _, _ = f(dlarray(np.array([1.0, 0.0, 1.0])), x)
        assert not islogical(same)


def test_masks_index_numpy_arrays():
    data = np.arange(6)
    mask = dlarray(X) > 0
    np.testing.assert_array_equal(data[extractdata(mask)], [0, 3])
    np.testing.assert_array_equal(data[~extractdata(mask)], [1, 2, 4, 5])   # ~ is logical not
    np.testing.assert_array_equal(data[np.asarray(mask)], [0, 3])
    compiled = dl.dlfeval(lambda x: x > 0, dlarray(X))
    np.testing.assert_array_equal(data[extractdata(compiled)], [0, 3])


def test_movement_and_concatenation_keep_logical():
    m = dlarray(np.array([[True, False], [False, True]]))
    for y in (m.T, m.reshape(4), m[0], m[:, 1], dl.concatenate([m, m]), dl.permute(m, (1, 0))):
        assert islogical(y)
        assert extractdata(y).dtype == np.bool_
    assert not islogical(dl.concatenate([m, dlarray(np.ones((1, 2)))]))


def test_pickling_keeps_logical_and_dtype():
    m = dlarray(np.float32([1.0, -1.0])) > 0
    back = pickle.loads(pickle.dumps(m))
    assert islogical(back) and back.dtype == np.float32
    np.testing.assert_array_equal(extractdata(back), [True, False])
    plain = pickle.loads(pickle.dumps(dlarray(np.array([1.0, 0.0]))))
    assert not islogical(plain)
    labelled = pickle.loads(pickle.dumps(dlarray(np.array([[True, False]]), "CB")))
    assert islogical(labelled) and dl.dims(labelled) == "CB"


def test_islogical_of_other_values():
    assert islogical(np.array([True])) and islogical(True) and islogical(np.bool_(False))
    assert not islogical(np.array([1.0])) and not islogical(1) and not islogical(dlarray(1.0))
    assert dl.underlyingType(dlarray(1.0)) == "double"


def test_no_gradient_through_logical_values():
    def fn(x):
        y = dl.sum((x > 0) * x) + dl.sum(x > 1)
        return dl.dlgradient(y, x)
    g = dl.dlfeval(fn, dlarray(np.array([2.0, -1.0, 0.5])))
    np.testing.assert_array_equal(extractdata(g), [1.0, 0.0, 1.0])   # only through the factor x


def test_repr_shows_bools():
    assert "True" in repr(dlarray(np.array([True, False])))


def test_generated_python_hit_path_keeps_logical(monkeypatch):
    monkeypatch.setenv(fastcall.DISABLE_VARIABLE, "0")   # the fallback when the native path is off
    f = dl.dlaccelerate(lambda m, x: (m, x > 0, m * x))
    t, x = dlarray(np.array([True, False])), dlarray(np.array([-1.0, 2.0]))
    for _ in range(3):
        same, positive, product = f(t, x)
        assert islogical(same) and islogical(positive) and not islogical(product)
        assert not islogical(f(dlarray(np.array([1.0, 0.0])), x)[0])
        f(t, x)
    assert type(f.__call__).__name__ == "function"


def test_functions_reading_eager_data_take_logical_values_as_numbers():
    # they read the values themselves: a logical dlarray gives its 0/1 numbers, not numpy bools
    eye = dlarray(np.eye(2, dtype=bool))
    np.testing.assert_array_equal(extractdata(dl.mldivide(eye, dlarray(np.array([1.0, 2.0])))), [1.0, 2.0])
    np.testing.assert_array_equal(extractdata(np.linalg.solve(eye, dlarray(np.array([1.0, 2.0])))), [1.0, 2.0])
    x = dlarray(np.array([False, True]))
    np.testing.assert_allclose(extractdata(dl.interp1(x, dlarray(np.array([0.0, 2.0])), dlarray(0.5))), 1.0)


def test_operators_on_logical_data_are_matlabs_not_and_or_xor():
    a, b = dlarray(np.array([True, True, False, False])), dlarray(np.array([1.0, 0.0, 1.0, 0.0])) > 0.5
    A, B = extractdata(a), extractdata(b)
    for got, want in ((~a, ~A), (a & b, A & B), (a | b, A | B), (a ^ b, A ^ B), (a & True, A & True),
                      (False | b, False | B)):
        assert islogical(got)
        np.testing.assert_array_equal(extractdata(got), want)
    compiled = dl.dlfeval(lambda a, b: (~a, a & b, a | b, a ^ b), a, b)
    for got, want in zip(compiled, (~A, A & B, A | B, A ^ B)):
        assert islogical(got)
        np.testing.assert_array_equal(extractdata(got), want)
    numbers = dlarray(np.array([1.0, 0.0]))
    with pytest.raises(TypeError, match="operator ~ needs logical operands.*numeric dlarray"):
        ~numbers
    with pytest.raises(TypeError, match="operator & needs logical operands"):
        a[:2] & numbers
    with pytest.raises(TypeError, match="operator \\| needs logical operands.*int"):
        a | 1
