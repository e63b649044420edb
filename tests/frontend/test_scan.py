"""scan: a recurrence compiled as one loop — values and gradients against numpy loops and finite
differences, both dtypes, reverse, several carries, higher derivatives, C size independent of
the number of steps, and clear errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.errors import ShapeError

H, B, C = 3, 2, 4


def _data(T, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, C, B))
    W, R = rng.standard_normal((H, C)) * 0.6, rng.standard_normal((H, H)) * 0.5
    h0 = rng.standard_normal((H, B))
    return [a.astype(dtype) for a in (W, R, h0, X)]


def _rnn(W, R, h0, X, reverse=False):
    """The loss of an RNN over X and the hidden state after the last step (numpy)."""
    h, total = h0, 0.0
    for t in (range(len(X) - 1, -1, -1) if reverse else range(len(X))):
        h = np.tanh(W @ X[t] + R @ h)
        total = total + np.sum((2 * h) ** 2) * (t + 1)
    return total + np.sum(h), h


def _loss(W, R, h0, X, reverse=False):
    def step(h, x):
        h = dl.tanh(W @ x + R @ h)
        return h, h * 2
    hT, ys = dl.scan(step, h0, X, reverse=reverse)
    weights = np.arange(1, X.shape[0] + 1, dtype=X.dtype).reshape(-1, 1, 1)
    return dl.sum(ys ** 2 * weights) + dl.sum(hT), hT


def _value_and_grads(W, R, h0, X, reverse=False):
    loss, hT = _loss(W, R, h0, X, reverse)
    return loss, hT, dl.dlgradient(loss, W, R, h0, X)


def _fd(f, arrays, k, eps=1e-6):
    grad = np.zeros_like(arrays[k])
    for i in np.ndindex(arrays[k].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[k][i] += eps
        minus[k][i] -= eps
        grad[i] = (f(*plus) - f(*minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("reverse", [False, True])
def test_values_and_gradients_match_numpy_and_finite_differences(reverse):
    arrays = _data(6)
    loss, hT, grads = dl.dlfeval(_value_and_grads, *map(dl.dlarray, arrays), reverse)
    want, want_h = _rnn(*arrays, reverse=reverse)
    assert abs(float(loss) - want) < 1e-10 * abs(want)
    np.testing.assert_allclose(dl.extractdata(hT), want_h, rtol=1e-12)
    for k in range(4):
        fd = _fd(lambda *a: _rnn(*a, reverse=reverse)[0], arrays, k)
        np.testing.assert_allclose(dl.extractdata(grads[k]), fd, rtol=1e-6, atol=1e-6)


def test_float32_stays_float32_and_agrees_with_float64():
    arrays = _data(5)
    loss64, _, g64 = dl.dlfeval(_value_and_grads, *map(dl.dlarray, arrays))
    loss32, hT32, g32 = dl.dlfeval(_value_and_grads, *(dl.dlarray(a.astype(np.float32)) for a in arrays))
    assert hT32.dtype == np.float32 and g32[0].dtype == np.float32
    assert abs(float(loss32) - float(loss64)) < 1e-4 * abs(float(loss64))
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(dl.extractdata(a), dl.extractdata(b), rtol=2e-4, atol=2e-4)


def test_eager_scan_is_the_same_loop():
    arrays = _data(4)
    loss, hT = _loss(*map(dl.dlarray, arrays))
    want, want_h = _rnn(*arrays)
    assert abs(float(loss) - want) < 1e-12 * abs(want)
    np.testing.assert_allclose(dl.extractdata(hT), want_h, rtol=1e-13)


def test_several_carries_no_sequence_and_no_output():
    def f(a, b, c):
        def step(carry, _):
            x, y = carry
            return (x * y + c, dl.sin(x)), None
        (x, y), ys = dl.scan(step, (a, b), None, length=4)
        assert ys is None
        return dl.sum(x * x) + dl.sum(y), dl.dlgradient(dl.sum(x * x) + dl.sum(y), a, b, c)

    def ref(a, b, c):
        for _ in range(4):
            a, b = a * b + c, np.sin(a)
        return np.sum(a * a) + np.sum(b)
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, 3) for _ in range(3)]
    value, grads = dl.dlfeval(f, *map(dl.dlarray, arrays))
    assert abs(float(value) - ref(*arrays)) < 1e-12
    for k in range(3):
        np.testing.assert_allclose(dl.extractdata(grads[k]), _fd(ref, arrays, k), rtol=1e-6, atol=1e-7)


def test_second_derivative_through_the_loop():
    """d/dW of (dloss/dW . v): the loop's adjoint is a loop, differentiated again."""
    arrays = _data(3)
    v = np.random.default_rng(9).standard_normal((H, C))

    def f(W, R, h0, X):
        loss, _ = _loss(W, R, h0, X)
        gW = dl.dlgradient(loss, W, EnableHigherDerivatives=True)
        directional = dl.sum(gW * v)
        return directional, dl.dlgradient(directional, W)

    value, hvp = dl.dlfeval(f, *map(dl.dlarray, arrays))

    def directional(W, R, h0, X):
        return float(np.sum(_fd(lambda *a: _rnn(*a)[0], [W, R, h0, X], 0, 1e-5) * v))
    assert abs(float(value) - directional(*arrays)) < 1e-5 * (1 + abs(float(value)))
    np.testing.assert_allclose(dl.extractdata(hvp), _fd(directional, arrays, 0, 1e-4), rtol=1e-3, atol=1e-3)


def test_generated_c_does_not_grow_with_the_number_of_steps():
    def f(W, R, h0, X):   # no constant of T values (the weights of _loss are a table)
        def step(h, x):
            h = dl.tanh(W @ x + R @ h)
            return h, h * 2
        hT, ys = dl.scan(step, h0, X)
        loss = dl.sum(ys ** 2) + dl.sum(hT)
        return loss, dl.dlgradient(loss, W, R, h0, X)
    sizes = {}
    for T in (10, 1000):
        lowered = dl.lower(f, *map(dl.dlarray, _data(T)))
        sizes[T] = len(lowered.c_source)
    assert abs(sizes[1000] - sizes[10]) <= 0.1 * sizes[10], sizes


def test_loop_invariant_work_leaves_the_loop():
    """W @ W (no carry, no step input) is computed once, before the loop: the step reads it."""
    W, R, h0, X = _data(4)

    def f(W, h0, X):
        def step(h, x):
            return dl.tanh((W @ W.T) @ h + x[:H]), None
        return dl.scan(step, h0, X)[0]
    text = dl.lower(f, *map(dl.dlarray, (R, h0, X))).graph_text
    loop_line = next(line for line in text.splitlines() if " = loop " in line)
    body = loop_line.split("{", 1)[1]
    assert body.count("matmul") == 1, body   # the product with h only


def test_errors_name_what_is_wrong():
    W, R, h0, X = map(dl.dlarray, _data(3))
    with pytest.raises(ShapeError, match="carry 0"):
        dl.dlfeval(lambda h, X: dl.scan(lambda c, x: (dl.sum(c), None), h, X)[0], h0, X)
    with pytest.raises(ShapeError, match="disagree"):
        dl.dlfeval(lambda h, X: dl.scan(lambda c, x: (c, None), h, X, length=7)[0], h0, X)
    with pytest.raises(ShapeError, match="length=T"):
        dl.scan(lambda c, x: (c, None), h0, None)
    with pytest.raises(TypeError, match=r"\(carry, y\)"):
        dl.dlfeval(lambda h, X: dl.scan(lambda c, x: c, h, X)[0], h0, X)
    h32 = dl.dlarray(dl.extractdata(h0).astype(np.float32))
    with pytest.raises(ShapeError, match="carry 0"):   # a float32 carry turned float64
        dl.dlfeval(lambda h: dl.scan(lambda c, x: (c + np.ones(c.shape), None), h, None, length=2)[0], h32)


def test_one_element_constants_zero_steps_and_exported_c(tmp_path):
    X = dl.dlarray(np.arange(4.0).reshape(4, 1, 1))

    def f(X):   # the carry starts from a one-element constant (no buffer of its own)
        hT, ys = dl.scan(lambda h, x: (h * 0.5 + x + 1.0, h), np.zeros((1, 1)), X)
        return hT, ys
    hT, ys = dl.dlfeval(f, X)
    h, want = 0.0, []
    for x in range(4):
        want.append(h)
        h = h * 0.5 + x + 1.0
    assert dl.extractdata(hT).item() == h and dl.extractdata(ys).ravel().tolist() == want
    hT, ys = dl.dlfeval(lambda X: f(X[:0]), X)   # no step: the carry as it came, no ys
    assert dl.extractdata(hT).item() == 0.0 and ys.shape == (0, 1, 1)

    W, R, h0, Xs = map(dl.dlarray, _data(5))
    paths = dl.export_c(_value_and_grads, W, R, h0, Xs, name="rnn", directory=tmp_path, self_test=True)
    assert "_step" in open(paths["source"]).read()


def test_scan_inside_a_scan_step():
    """A step that runs a loop of its own (over the columns of its input): values and gradient."""
    rng = np.random.default_rng(5)
    X, w = rng.standard_normal((3, 4)), rng.standard_normal(())

    def f(X, w):
        def outer(s, row):
            inner, _ = dl.scan(lambda a, x: (dl.sin(a * w + x), None), s, row)
            return inner, inner * s
        total, ys = dl.scan(outer, dl.dlarray(np.float64(0.5)) * w, X)
        loss = total + dl.sum(ys)
        return loss, dl.dlgradient(loss, X, w)

    def ref(X, w):
        s, total = 0.5 * w, 0.0
        for row in X:
            a = s
            for x in row:
                a = np.sin(a * w + x)
            total += a * s
            s = a
        return s + total
    value, (gX, gw) = dl.dlfeval(f, dl.dlarray(X), dl.dlarray(w))
    assert abs(float(value) - ref(X, w)) < 1e-12
    np.testing.assert_allclose(dl.extractdata(gX), _fd(ref, [X, w], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dl.extractdata(gw), _fd(ref, [X, w], 1), rtol=1e-6, atol=1e-8)


def test_adjoint_loop_reads_stored_products_and_hoisted_transposes():
    """The backward loop recomputes no matrix product of the forward step (they are stored once
    per step by the one forward loop), and R transposed is computed once, before it."""
    text = dl.lower(_value_and_grads, *map(dl.dlarray, _data(4))).graph_text
    loops = [line for line in text.splitlines() if " = loop " in line]
    assert len(loops) == 2, loops   # one forward, one backward
    backward = loops[1].split("{", 1)[1]
    assert backward.count("matmul") == 4, backward   # dh, dW, dR, dx: not R @ h again
    # dh = R' dz reads R' as an input of the loop (transposed once, before it), not a permute of R
    transposed = re.search(r"%(\d+)=inputindex=\d+:float64\[3,3\];", backward).group(1)
    assert re.search(rf"matmul%{transposed}%", backward), backward


def test_a_random_draw_in_a_step_is_refused_not_repeated():
    """The key does not advance between steps: a draw in the step would repeat silently."""
    h0, X = dl.dlarray(np.zeros(3)), dl.dlarray(np.ones((4, 3)))
    with pytest.raises(TypeError, match="same at every step"):
        dl.dlfeval(lambda h, X: dl.scan(lambda c, x: (c + x * dl.rand(1, 3)[0], None), h, X)[0], h0, X)
    masks = dl.dlarray(np.ones((4, 3)))   # drawn before the scan, one per step: fine
    out = dl.dlfeval(lambda h, X, M: dl.scan(lambda c, xm: (c + xm[0] * xm[1], None), h, (X, M))[0], h0, X, masks)
    assert dl.extractdata(out).tolist() == [4.0, 4.0, 4.0]


def test_hostile_inputs_get_clear_errors_and_zero_steps_agree():
    """From a hostile review: a dict init and a non-function step name the argument; formatted xs
    whose axis 0 is not T is refused (scan steps along axis 0); a y that changes between eager
    steps is named; with no step, eager scan gives empty ys as the compiled loop does."""
    h0, X = dl.dlarray(np.zeros(3)), dl.dlarray(np.ones((4, 3)))
    with pytest.raises(TypeError, match="init must be an array"):
        dl.scan(lambda c, x: (c, None), {"h": h0}, X)
    with pytest.raises(TypeError, match="step must be a function"):
        dl.scan(3, h0, X)
    with pytest.raises(ShapeError, match="formatted 'CT'"):
        dl.scan(lambda c, x: (c, None), dl.dlarray(np.zeros(4)), dl.dlarray(np.ones((3, 4)), "CT"))
    with pytest.raises(ShapeError, match="same at every step"):
        dl.scan(lambda c, x: (c, x[:1] if float(x[0]) > 0.5 else x), h0, dl.dlarray(np.eye(3)))
    step = lambda c, x: (c + x, c * 2)   # noqa: E731
    eager = dl.scan(step, h0, X[:0])
    traced = dl.dlfeval(lambda h, X: dl.scan(step, h, X[:0]), h0, X)
    assert eager[1].shape == traced[1].shape == (0, 3)


def test_adjoint_loop_computes_no_cotangent_nobody_reads():
    """Differentiating with respect to the weights only, the backward loop writes no cotangent of
    xs (no dx = W' dz per step) and reads no W': the final graph drops what no one reads. The
    values are those of the full gradient's."""
    W, R, h0, X = map(dl.dlarray, _data(5))

    def weights_only(W, R, h0, X):
        loss, _ = _loss(W, R, h0, X)
        return loss, dl.dlgradient(loss, W, R)
    text = dl.lower(weights_only, W, R, h0, X).graph_text
    backward = [line for line in text.splitlines() if " = loop " in line][1].split("{", 1)[1]
    assert backward.count("matmul") == 3, backward   # dh, dW, dR; no dx
    got = dl.dlfeval(dl.dlaccelerate(weights_only), W, R, h0, X)
    want = dl.dlfeval(_value_and_grads, W, R, h0, X)
    np.testing.assert_allclose(dl.extractdata(got[0]), dl.extractdata(want[0]), rtol=1e-13)
    for g, w in zip(got[1], want[2][:2]):
        np.testing.assert_allclose(dl.extractdata(g), dl.extractdata(w), rtol=1e-12, atol=1e-13)


def test_forward_loop_stores_the_fewest_bytes_the_backward_step_needs():
    """tanh(W x + R h): the backward step needs W x + R h, not the two products apart; the
    forward loop stores that one array per step (a minimum cut, by bytes), and the gradient is
    the same."""
    text = dl.lower(_value_and_grads, *map(dl.dlarray, _data(4))).graph_text
    forward = [line for line in text.splitlines() if " = loop " in line][0]
    body, returned = forward.split("return", 1)
    total = re.search(r"%(\d+)=add%\d+%\d+:float64\[3,2\]", body).group(1)
    stored = returned.split("}", 1)[0].split(",")
    assert stored[2:] == [f"%{total}"], forward   # h, 2 h, then W x + R h (not W x and R h)


def test_adjoint_loop_updates_its_accumulators_in_place():
    """The backward loop's carries (the cotangent of h, dW and dR summed over the steps) are
    updated in place in the final carry's memory, not alternated with a spare copy: each is
    read only where it is written (the GEMM epilogue dW + dz x')."""
    source = dl.lower(_value_and_grads, *map(dl.dlarray, _data(4))).c_source
    backward = source.split("loop over 4 steps in reverse")[1].split("\n}\n")[0]
    assert "spare" not in backward, backward


def test_dlgradient_inside_a_step_with_respect_to_its_carry_and_x():
    """A step that takes a gradient step on its own carry (or x): it raised a misleading "not
    traced" error (the stand-ins of carry and x were not counted as traced)."""
    rng = np.random.default_rng(6)
    h0, X = rng.uniform(0.5, 1.5, 2), rng.uniform(0.5, 1.5, (3, 2))

    def run(h, X, wrt, higher=False):
        def step(c, x):
            energy = dl.sum(dl.sin(c * x))
            g = dl.dlgradient(energy, c if wrt == "carry" else x, EnableHigherDerivatives=higher)
            return c - 0.1 * g, None
        return dl.scan(step, h, X)[0]

    def ref(h, X, wrt):
        for x in X:
            h = h - 0.1 * np.cos(h * x) * (x if wrt == "carry" else h)
        return h

    for wrt in ("carry", "x"):
        out = dl.dlfeval(lambda h, X: run(h, X, wrt), dl.dlarray(h0), dl.dlarray(X))
        np.testing.assert_allclose(dl.extractdata(out), ref(h0, X, wrt), rtol=1e-14)

    def loss(h, X):   # differentiated through the inner gradients (they keep their graph)
        value = dl.sum(run(h, X, "carry", higher=True))
        return value, dl.dlgradient(value, h, X)
    _, (gh, gX) = dl.dlfeval(loss, dl.dlarray(h0), dl.dlarray(X))
    total = lambda h, X: float(np.sum(ref(h, X, "carry")))   # noqa: E731
    np.testing.assert_allclose(dl.extractdata(gh), _fd(total, [h0, X], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dl.extractdata(gX), _fd(total, [h0, X], 1), rtol=1e-6, atol=1e-8)
    with pytest.raises(dl.GradientError, match="inside a function evaluated by dlfeval"):   # as MATLAB
        run(dl.dlarray(h0), dl.dlarray(X), "carry")
