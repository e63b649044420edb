"""Logical dlarrays through type conversions, promotion, selection, assignment and checkpoints.

References (MATLAB's documented semantics): logical combined with single is single (the class
rules of arithmetic, concatenation and matrix products); max/min of two arrays of one class keep
that class, so max of logicals is logical; single(true)/double(true) are numbers; logical(X) is
true where X is nonzero; assigning into a logical array converts the value to logical.
"""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, extractdata, islogical
from dlgrad.frontend.parallel import load_checkpoint, save_checkpoint

MASK = np.array([True, False, True])
X32 = np.float32([1.5, -2.0, 3.0])


def _mixed(m, x):
    """Each way logical data meets float32 numbers."""
    return (m * x, x + m, m @ x, dl.where(x > 0, m, x), dl.maximum(m, x), dl.minimum(x, m),
            dl.concatenate([m, x]), dl.where(m, x, 0.0))


def test_logical_float64_with_single_numbers_gives_single():
    m = dlarray(MASK)   # logical stored as float64
    assert m.dtype == np.float64
    eager = _mixed(m, dlarray(X32))
    compiled = dl.dlfeval(_mixed, m, dlarray(X32))
    for got, want in zip(compiled, eager):
        assert got.dtype == np.float32 and want.dtype == np.float32
        assert not islogical(got) and not islogical(want)
        np.testing.assert_array_equal(extractdata(got), extractdata(want))
    np.testing.assert_array_equal(extractdata(eager[0]), X32 * MASK)
    np.testing.assert_array_equal(extractdata(eager[6]), np.concatenate([MASK, X32]).astype(np.float32))


def test_numpy_bool_operands_and_gradients_keep_single():
    x = dlarray(X32)
    assert (x * MASK).dtype == np.float32 and (MASK + x).dtype == np.float32

    def fn(x, m):
        y = dl.sum(x * x * m)
        return y, dl.dlgradient(y, x)
    y, g = dl.dlfeval(fn, x, dlarray(MASK))
    assert y.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(extractdata(g), 2 * X32 * MASK)


def test_logical_float32_with_double_numbers_gives_double():
    m = dlarray(X32) > 0   # logical stored as float32
    got = m * dlarray(np.array([1.0, 2.0, 3.0]))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(extractdata(got), [1.0, 0.0, 3.0])


def _selections(a, b):
    return (dl.maximum(a, b), dl.minimum(a, b), dl.max(a), dl.min(b, 0), dl.where(a, b, a),
            dl.maximum(a, True), dl.sort(a))


def test_max_min_where_of_logicals_are_logical():
    a, b = dlarray(np.array([True, False, True])), dlarray(np.array([False, False, True]))
    A, B = MASK, extractdata(b)
    want = (A | B, A & B, A.max(), B.min(0), np.where(A, B, A), np.ones(3, bool), np.sort(A))
    for results in (_selections(a, b), dl.dlfeval(_selections, a, b)):
        for got, expected in zip(results, want):
            assert islogical(got)
            np.testing.assert_array_equal(extractdata(got), expected)
    # with a number among the operands the result is numbers (MATLAB: max(true, 2) is 2)
    assert not islogical(dl.maximum(a, 2.0)) and not islogical(dl.where(a, b, 0.5))
    assert not islogical(dl.maximum(a, dlarray(np.ones(3))))


def test_conversions():
    x = dlarray(np.array([0.0, -2.5, np.nan]))
    m = dl.logical(x)
    assert islogical(m)
    np.testing.assert_array_equal(extractdata(m), [False, True, True])
    for converted, dtype in ((dl.single(m), np.float32), (dl.double(m), np.float64),
                             (dl.cast(m, "single"), np.float32), (dl.cast(m, np.float64), np.float64),
                             (m.astype(np.float32), np.float32), (m.astype("double"), np.float64)):
        assert not islogical(converted) and converted.dtype == dtype   # double(true) is the number 1
        np.testing.assert_array_equal(extractdata(converted), [0.0, 1.0, 1.0])
    assert islogical(x.astype(bool)) and islogical(dl.cast(x, "logical")) and islogical(dl.logical(m))
    assert islogical(dl.cast(x, like=m)) and dl.cast(m, like=dlarray(X32)).dtype == np.float32
    np.testing.assert_array_equal(extractdata(dl.single(x)), np.float32([0.0, -2.5, np.nan]))
    compiled = dl.dlfeval(lambda x: (dl.logical(x), dl.single(x > -1), x.astype(np.float32)), x)
    assert islogical(compiled[0]) and not islogical(compiled[1]) and compiled[1].dtype == np.float32
    np.testing.assert_array_equal(extractdata(compiled[1]), [1.0, 0.0, 0.0])


def test_conversion_gradient_and_bad_classes():
    g = dl.dlfeval(lambda x: dl.dlgradient(dl.sum(dl.single(x) ** 2), x), dlarray(np.array([1.0, 3.0])))
    assert g.dtype == np.float64
    np.testing.assert_allclose(extractdata(g), [2.0, 6.0])
    for bad in ("int8", np.int32, "char"):
        with pytest.raises(TypeError, match="cast: the new class must be 'double'.*got"):
            dl.cast(dlarray(1.0), bad)
    with pytest.raises(TypeError, match="astype: the new class"):
        dlarray(1.0).astype(np.int64)
    assert dl.cast(dlarray(1.0), "like", dlarray(np.float32(2.0))).dtype == np.float32
    with pytest.raises(TypeError, match="p is missing"):
        dl.cast(dlarray(1.0), "like")


def test_assignment_into_logical_stores_logical_values():
    m = dlarray(np.array([True, False, True]))
    m[1] = 5.0                       # MATLAB: converted to logical true
    m[0] = dlarray(np.float32(0.0))
    assert islogical(m) and m.dtype == np.float64
    np.testing.assert_array_equal(extractdata(m + 0), [0.0, 1.0, 1.0])   # numbers 0/1, never 5

    def fn(m, v):
        m[1:] = v
        return m
    got = dl.dlfeval(fn, dlarray(np.array([True, False, False])), dlarray(np.array([3.0, 0.0])))
    assert islogical(got)
    np.testing.assert_array_equal(extractdata(got), [True, True, False])


def test_checkpoint_keeps_logical(tmp_path):
    m = dlarray(np.array([[True, False]]), "CB")
    m32 = dlarray(np.float32([1.0, -1.0])) > 0
    save_checkpoint(tmp_path / "state.npz", {"mask": m, "mask32": m32, "numbers": dlarray(np.ones(2))})
    back = load_checkpoint(tmp_path / "state.npz")
    assert islogical(back["mask"]) and dl.dims(back["mask"]) == "CB"
    assert islogical(back["mask32"]) and back["mask32"].dtype == np.float32
    assert not islogical(back["numbers"])
    np.testing.assert_array_equal(extractdata(back["mask"]), [[True, False]])


def test_logical_meets_an_integer_index_argument():
    # an int64 argument used as numbers counts as float64 when the logical operand takes its dtype
    m = dlarray(X32) > 0
    got = dl.dlfeval(lambda m, i: (m * i, dl.where(m, i, m)), m, np.array([1, 2, 3]))
    for y in got:
        assert y.dtype == np.float64 and not islogical(y)
        np.testing.assert_array_equal(extractdata(y), [1.0, 0.0, 3.0])
