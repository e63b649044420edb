"""dlarray itself: construction and dtype rules, properties, repr, conversions, eager arithmetic."""
import subprocess
import sys

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, extractdata, isdlarray


@pytest.mark.parametrize("data, dtype", [
    (np.array([1.0, 2.0]), np.float64), (np.array([1.0, 2.0], np.float32), np.float32),
    (np.array([1, 2]), np.float64), (np.array([True, False]), np.float64),
    (np.array([1, 2], np.uint8), np.float64), ([1, 2], np.float64), (3, np.float64), (2.5, np.float64),
    (True, np.float64), (np.float32(1.5), np.float32), (np.array([1.0], np.float16), np.float32),
])
def test_construction_dtypes(data, dtype):
    x = dlarray(data)
    assert x.dtype == dtype
    np.testing.assert_array_equal(extractdata(x), np.asarray(data, dtype=dtype))
    assert extractdata(x).flags.c_contiguous


@pytest.mark.parametrize("data", [np.array([1j]), np.array(["a"]), np.array([object()]), "text"])
def test_construction_rejects_other_dtypes(data):
    with pytest.raises(TypeError, match="float64 or float32"):
        dlarray(data)


def test_construction_copies_and_wraps():
    a = np.arange(3.0)
    x = dlarray(a)
    a[0] = 7
    assert extractdata(x)[0] == 0
    assert dlarray(x).shape == (3,) and isdlarray(dlarray(x))
    assert not isdlarray(a)
    assert extractdata(dlarray(np.arange(12.0).reshape(3, 4)[:, ::2])).flags.c_contiguous
    # column-major data keeps its order (MATLAB's memory layout; compiled code reads it as is)
    kept = extractdata(dlarray(np.arange(6.0).reshape(2, 3).T))
    assert kept.flags.f_contiguous and not kept.flags.c_contiguous


def test_properties_and_repr():
    x = dlarray(np.arange(6.0).reshape(2, 3))
    assert (x.shape, x.ndim, x.size, len(x), x.T.shape) == ((2, 3), 2, 6, 2, (3, 2))
    assert repr(dlarray(104.0)) == "dlarray(104.)"
    assert repr(dlarray([396.0, 200.0])) == "dlarray([396., 200.])"
    assert "float32" in repr(dlarray(np.ones(2, np.float32)))
    assert [extractdata(row).tolist() for row in x] == [[0, 1, 2], [3, 4, 5]]
    assert f"{dlarray(2.0):.2f}" == "2.00"
    with pytest.raises(TypeError):
        len(dlarray(1.0))


def test_numpy_conversions_of_untraced():
    x = dlarray([1.0, 2.0])
    assert np.asarray(x) is extractdata(x)
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    assert float(dlarray(2.5)) == 2.5 and int(dlarray(3.0)) == 3 and bool(dlarray(1.0))
    with pytest.raises(TypeError):
        extractdata(np.ones(2))
    with pytest.raises(TypeError, match="index"):
        [1, 2, 3][dlarray(1.0)]
    x[0] = 5.0       # item assignment rebinds x (tests/frontend/test_assignment.py)
    assert extractdata(x).tolist() == [5.0, 2.0]


@pytest.mark.parametrize("a_dtype, b, expected", [
    (np.float32, 2, np.float32), (np.float32, 2.5, np.float32), (np.float32, True, np.float32),
    (np.float64, 2, np.float64), (np.float32, np.ones(2, np.float64), np.float64),
    (np.float32, np.ones(2, np.float32), np.float32), (np.float32, np.ones(2, np.int64), np.float64),
    (np.float32, np.float64(2.0), np.float64), (np.float32, np.float32(2.0), np.float32),
    (np.float32, dlarray(np.ones(2)), np.float64),
])
def test_dtype_promotion(a_dtype, b, expected):
    a = dlarray(np.array([1.0, 2.0], a_dtype))
    for result in (a * b, b * a, a + b, a - b, b - a, a / b, a ** b, dl.maximum(a, b), a < b):
        assert result.dtype == expected


def test_eager_operators_match_numpy():
    a_np, b_np = np.array([[1.0, -2.0, 3.0]]), np.array([[0.5], [2.0]])
    a, b = dlarray(a_np), dlarray(b_np)
    cases = [(a + b, a_np + b_np), (a - b, a_np - b_np), (a * b, a_np * b_np), (a / b, a_np / b_np),
             (b ** a, b_np ** a_np), (-a, -a_np), (+a, a_np), (abs(a), np.abs(a_np)), (2 - a, 2 - a_np),
             (1 / b, 1 / b_np), (2 ** a, 2 ** a_np), (a @ a.T, a_np @ a_np.T),
             (np.ones((2, 1)) @ a, np.ones((2, 1)) @ a_np)]
    for cmp in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        cases.append((getattr(a, cmp)(b), getattr(a_np, cmp)(b_np).astype(float)))
    for got, want in cases:
        assert isdlarray(got)
        np.testing.assert_allclose(extractdata(got), want, rtol=1e-15)


def test_methods():
    x_np = np.arange(24.0).reshape(2, 3, 4)
    x = dlarray(x_np)
    np.testing.assert_array_equal(extractdata(x.sum(axis=1)), x_np.sum(axis=1))
    np.testing.assert_array_equal(extractdata(x.mean()), x_np.mean())
    np.testing.assert_array_equal(extractdata(x.max(axis=(0, 2), keepdims=True)), x_np.max(axis=(0, 2), keepdims=True))
    np.testing.assert_array_equal(extractdata(x.min(axis=-1)), x_np.min(axis=-1))
    np.testing.assert_array_equal(extractdata(x.prod(axis=0)), x_np.prod(axis=0))
    np.testing.assert_array_equal(extractdata(x.reshape(4, -1)), x_np.reshape(4, -1))
    np.testing.assert_array_equal(extractdata(x.reshape((6, 4))), x_np.reshape((6, 4)))
    np.testing.assert_array_equal(extractdata(x.transpose(2, 0, 1)), x_np.transpose(2, 0, 1))
    np.testing.assert_array_equal(extractdata(x.transpose()), x_np.transpose())
    np.testing.assert_array_equal(extractdata(x.permute((1, 2, 0))), x_np.transpose(1, 2, 0))


def test_import_does_not_import_sympy_or_the_code_generator():
    code = ("import sys, dlgrad; assert 'sympy' not in sys.modules, 'sympy imported'; "
            "assert not [m for m in sys.modules if m.startswith('dlgrad.codegen')], 'codegen imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_copies_and_pickles():
    import copy
    import pickle
    x = dlarray(np.arange(3.0))
    for y in (copy.copy(x), copy.deepcopy(x)):   # new objects (donation changes the donated one), same data
        assert y is not x and y._data is x._data
    np.testing.assert_array_equal(extractdata(pickle.loads(pickle.dumps(x))), [0.0, 1.0, 2.0])

    def f(x):
        y = copy.deepcopy({"x": x})["x"]
        assert y is not x and y._node is x._node
        with pytest.raises(dl.TraceError):
            pickle.dumps(x)
        return x
    dl.dlfeval(f, x)
