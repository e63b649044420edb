"""Gathers with runtime index arguments: take, take_along_axis, x[idx], embed, indexcrossentropy.

Values against numpy (np.take, np.take_along_axis, np.add.at for the adjoint), gradients against
finite differences, second derivatives, out-of-range errors (native call path, Python path, numpy
backend), one compiled program for new index values, and C whose size ignores the vocabulary."""
import numpy as np
import pytest

import dlgrad as dl

RNG = np.random.default_rng(11)
X = RNG.standard_normal((6, 5))
IDX = np.array([[4, 0, 2], [2, 2, 3]])          # repeats: the adjoint must accumulate
ALONG = np.array([[4, 0], [1, 1], [0, 4], [3, 3], [2, 0], [4, 1]])        # along axis 1 of X (6, 5)
U0 = RNG.standard_normal((2, 3, 5))   # cotangent weights of the three results
U1 = RNG.standard_normal((6, 2, 3))
U2 = RNG.standard_normal((6, 2))


def gathers(x, i, j):
    a, b, c = x[i], dl.take(x, i, axis=1), dl.take_along_axis(x, j, axis=1)
    loss = dl.sum(a * U0) + dl.sum(b * U1) + dl.sum(c * c * U2)
    return a, b, c, dl.dlgradient(loss, x)


def expected(x, i, j):
    grad = np.zeros_like(x)
    np.add.at(grad, i, U0)
    np.add.at(grad, (slice(None), i), U1)
    np.add.at(grad, (np.arange(6)[:, None], j), 2 * np.take_along_axis(x, j, 1) * U2)
    return x[i], np.take(x, i, 1), np.take_along_axis(x, j, 1), grad


ACCELERATED = dl.dlaccelerate(gathers)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_and_adjoints_against_numpy(dtype):
    got = ACCELERATED(dl.dlarray(X.astype(dtype)), IDX, ALONG)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    for g, want in zip(got, expected(X, IDX, ALONG)):
        assert g.dtype == dtype
        np.testing.assert_allclose(dl.extractdata(g), want, **tol)


def test_new_index_values_reuse_the_compiled_program():
    f = dl.dlaccelerate(gathers)
    rng = np.random.default_rng(3)
    for _ in range(4):
        i, j = rng.integers(0, 5, IDX.shape), rng.integers(0, 5, ALONG.shape)
        got = f(dl.dlarray(X), i, j)
        for g, want in zip(got, expected(X, i, j)):
            np.testing.assert_allclose(dl.extractdata(g), want, rtol=1e-12, atol=1e-12)
    assert f.misses == 1 and f.hits == 3
    # int32 indices are another signature (keyed by dtype), converted to int64 at the call
    f(dl.dlarray(X), IDX.astype(np.int32), ALONG.astype(np.int32))
    assert f.misses == 2


def test_gradient_against_finite_differences():
    direction = RNG.standard_normal(X.shape)

    def loss(x):   # eager: constant indices, numpy's take
        x = dl.dlarray(x)
        a, b, c = x[IDX], dl.take(x, IDX, axis=1), dl.take_along_axis(x, ALONG, axis=1)
        return float(dl.sum(a * U0) + dl.sum(b * U1) + dl.sum(c * c * U2))

    eps = 1e-6
    numeric = (loss(X + eps * direction) - loss(X - eps * direction)) / (2 * eps)
    grad = dl.extractdata(ACCELERATED(dl.dlarray(X), IDX, ALONG)[3])
    assert np.sum(grad * direction) == pytest.approx(numeric, rel=1e-7)


def _second(x, i):
    y = dl.sum(dl.take(x, i, axis=0) ** 3)
    g = dl.dlgradient(y, x, EnableHigherDerivatives=True)
    return dl.dlgradient(dl.sum(g * g), x), dl.dlgradient(y, i)


def test_second_derivative_and_no_gradient_for_indices():
    x = np.array([0.5, -1.5, 2.0, 0.25])
    i = np.array([2, 0, 2, 3])
    hess, di = dl.dlfeval(_second, dl.dlarray(x), i)
    count = np.bincount(i, minlength=4)
    # g = 3 count x^2, sum(g^2) = 9 count^2 x^4, derivative 36 count^2 x^3
    np.testing.assert_allclose(dl.extractdata(hess), 36 * count ** 2 * x ** 3, rtol=1e-12)
    assert dl.extractdata(di).tolist() == [0.0] * 4


def test_integer_argument_used_as_numbers():
    def f(x, i):
        return x * i + x[i]
    got = dl.dlfeval(f, dl.dlarray(np.array([1.0, 2.0, 3.0])), np.array([2, 0, 1]))
    assert dl.extractdata(got).tolist() == [5.0, 1.0, 5.0]
    def both(x, i):   # as numbers i is differentiable; as indices it contributes nothing
        return dl.dlgradient(dl.sum(x[i] * i), i)
    assert dl.extractdata(dl.dlfeval(both, dl.dlarray(np.array([1.0, 2.0, 3.0])), np.array([2, 0, 2]))
                          ).tolist() == [3.0, 1.0, 3.0]
    returned = dl.dlfeval(lambda i: i, np.array([2, 0, 1]))   # a dlarray holds floats
    assert dl.extractdata(returned).dtype == np.float64 and dl.extractdata(returned).tolist() == [2.0, 0.0, 1.0]


def _embed_step(w, x, t):
    e = dl.embed(dl.dlarray(x, "CB"), w)
    loss = dl.indexcrossentropy(dl.softmax(e), t)
    return loss, dl.dlgradient(loss, w)


EMBED = dl.dlaccelerate(_embed_step)
W = RNG.standard_normal((4, 7))


def _embed_reference(w, x, t):
    e = w[:, x[0]]
    p = np.exp(e - e.max(0)) / np.exp(e - e.max(0)).sum(0)
    loss = -np.log(p[t, np.arange(len(t))]).sum() / len(t)
    de = (p - np.eye(4)[:, t]) / len(t)
    grad = np.zeros_like(w)
    np.add.at(grad, (slice(None), x[0]), de)
    return loss, grad


def test_embed_and_indexcrossentropy_are_lookups():
    x, t = np.array([[6, 0, 6, 2, 3]]), np.array([3, 0, 1, 1, 2])
    loss, grad = EMBED(dl.dlarray(W), x, t)
    want_loss, want_grad = _embed_reference(W, x, t)
    assert float(loss) == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(dl.extractdata(grad), want_grad, rtol=1e-12, atol=1e-14)
    source = dl.lower(_embed_step, dl.dlarray(W), x, t).c_source
    assert "take" in source and "eq" not in dl.lower(_embed_step, dl.dlarray(W), x, t).graph_text


@pytest.mark.parametrize("x, t, message", [
    ([[6, 0, 7, 2, 3]], [3, 0, 1, 1, 2], r"embed: the indices X .*index 7 \(at flat position 2\) is out of "
                                         r"range; valid indices are 0 to 6 \(indices are 0-based"),
    ([[6, 0, 1, 2, 3]], [3, 0, 4, 1, 2], r"indexcrossentropy: the class indices T .*index 4 .* valid indices "
                                         r"are 0 to 3 \(indices are 0-based: a 1-based MATLAB"),
    ([[6, 0, -1, 2, 3]], [3, 0, 1, 1, 2], r"index -1 .*\(negative indices are not accepted\)"),
])
def test_out_of_range_indices_raise_before_running(x, t, message):
    with pytest.raises(dl.IndexOutOfRange, match=message):
        EMBED(dl.dlarray(W), np.array(x), np.array(t))
    assert issubclass(dl.IndexOutOfRange, IndexError)


def test_float_index_dlarrays_on_the_native_path():
    """dlarrays of whole numbers as indices: the native call path (all arguments dlarrays)."""
    f = dl.dlaccelerate(lambda w, x, t: _embed_step(w, x, t))
    x, t = np.array([[6.0, 0, 6, 2, 3]]), np.array([3.0, 0, 1, 1, 2])
    for _ in range(3):   # the third call runs through the promoted native dispatcher
        loss, _ = f(dl.dlarray(W), dl.dlarray(x), dl.dlarray(t))
    assert float(loss) == pytest.approx(_embed_reference(W, x.astype(int), t.astype(int))[0], rel=1e-12)
    with pytest.raises(dl.IndexOutOfRange, match=r"index 7 .*valid indices are 0 to 6"):
        f(dl.dlarray(W), dl.dlarray(np.array([[6.0, 0, 7, 2, 3]])), dl.dlarray(t))
    with pytest.raises(dl.IndexOutOfRange, match=r"index 1.5 .*is not a whole number"):
        f(dl.dlarray(W), dl.dlarray(x), dl.dlarray(np.array([3.0, 0, 1.5, 1, 2])))
    assert f.misses == 1


def test_numpy_backend_raises_the_same_error(monkeypatch):
    monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    f = dl.dlaccelerate(lambda w, x, t: _embed_step(w, x, t))
    loss, _ = f(dl.dlarray(W), np.array([[6, 0, 6, 2, 3]]), np.array([3, 0, 1, 1, 2]))
    assert float(loss) == pytest.approx(_embed_reference(W, np.array([[6, 0, 6, 2, 3]]),
                                                         np.array([3, 0, 1, 1, 2]))[0], rel=1e-12)
    with pytest.raises(dl.IndexOutOfRange, match=r"embed: the indices X .*index 7 .*0 to 6"):
        f(dl.dlarray(W), np.array([[6, 0, 7, 2, 3]]), np.array([3, 0, 1, 1, 2]))
    floats = (dl.dlarray(W), dl.dlarray(np.array([[6.0, 0, -1, 2, 3]])), dl.dlarray(np.array([3.0, 0, 1, 1, 2])))
    with pytest.raises(dl.IndexOutOfRange, match=r"index -1 .*valid indices are 0 to 6 \(negative"):
        f(*floats)


def test_eager_and_constant_indices_are_checked():
    with pytest.raises(dl.IndexOutOfRange, match="index 7"):
        dl.embed(dl.dlarray(np.array([[7.0]]), "CB"), W)
    with pytest.raises(dl.IndexOutOfRange, match="index 5"):
        dl.indexcrossentropy(dl.dlarray(np.full((4, 1), 0.25), "CB"), np.array([5]))
    with pytest.raises(dl.IndexOutOfRange, match="index 7"):
        dl.dlfeval(lambda w: dl.embed(dl.dlarray(np.array([[7.0]]), "CB"), w), dl.dlarray(W))


def test_indices_computed_inside_are_refused():
    with pytest.raises(TypeError, match="computed inside a traced function"):
        dl.dlfeval(lambda x, i: x[i * 2], dl.dlarray(X), np.array([0, 1]))


def _lookup(w, x):
    return dl.sum(dl.embed(dl.dlarray(x, "CB"), w) ** 2)


def test_c_size_does_not_depend_on_the_vocabulary():
    x = np.arange(16).reshape(1, 16)
    small = dl.lower(_lookup, dl.dlarray(np.ones((8, 1000))), x).c_source
    large = dl.lower(_lookup, dl.dlarray(np.ones((8, 50000))), x).c_source
    assert abs(len(large) - len(small)) < 50   # only the numbers differ


def _sgd(w, x, t):
    loss = dl.indexcrossentropy(dl.softmax(dl.embed(dl.dlarray(x, "CB"), w)), t)
    return w - 0.5 * dl.dlgradient(loss, w), loss


def test_sgd_update_writes_the_scatter_into_the_donated_table():
    """W - lr * dW with dW a scatter-add becomes index_add(W, -lr * g): in place when W is
    donated, so the step costs what the looked-up columns cost (values as the dense update)."""
    from dlgrad.codegen.lower import lower
    from dlgrad.frontend.capture import capture
    x, t = np.array([[6, 0, 6, 2, 3]]), np.array([3, 0, 1, 1, 2])
    captured = capture(_sgd, (dl.dlarray(W), x, t))
    program = lower(captured.outputs, captured.specs, donate=((0, 0),))
    assert program.aliases == ((0, 0),)
    assert "index_add %0" in program.graph_text and "out0[i] = in0[i]" not in program.source   # no copy
    step = dl.dlaccelerate(_sgd, donate=(0,))
    w = dl.dlarray(W)
    for _ in range(2):
        before = w._data.ctypes.data
        w, loss = step(w, x, t)
    assert w._data.ctypes.data == before   # written in place
    want = W.copy()
    for _ in range(2):
        want = want - 0.5 * _embed_reference(want, x, t)[1]
    np.testing.assert_allclose(dl.extractdata(w), want, rtol=1e-12, atol=1e-14)


def _columns(w, x, u):
    y = dl.take(w, x, axis=1)   # a column lookup of a row-major table: one value per row and index
    return y, dl.dlgradient(dl.sum(y * u), w), w - dl.dlgradient(dl.sum(y * u), w)


@pytest.mark.parametrize("dtype, count", [(np.float64, 37), (np.float32, 70)])
def test_column_lookups_run_in_blocks_of_a_cache_line(dtype, count):
    """W[:, idx] and its scatters go through the indices a cache line of them at a time (8
    doubles, 16 floats), all rows per block, then the partial block: the values and the order
    of the sums at repeated indices stay numpy's (np.add.at's, in increasing index position)."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((5, 23)).astype(dtype)
    x = rng.integers(0, 23, count)
    x[[3, 11, 30]] = 7   # a repeated index across blocks and within the last one
    u = rng.standard_normal((5, count)).astype(dtype)
    source = dl.lower(_columns, dl.dlarray(w), x, dl.dlarray(u)).c_source
    width = 64 // np.dtype(dtype).itemsize
    assert f"jb < {count - count % width}; jb += {width}" in source   # row-major order before
    y, grad, updated = dl.dlaccelerate(_columns)(dl.dlarray(w), x, dl.dlarray(u))
    want = np.zeros_like(w)
    np.add.at(want, (slice(None), x), u)
    assert np.array_equal(dl.extractdata(y), w[:, x])
    assert np.array_equal(dl.extractdata(grad), want)
    np.testing.assert_allclose(dl.extractdata(updated), w - want, rtol=1e-6, atol=1e-6)
