"""Compile time linear in the graph, no recursion as deep as the graph: elementwise recurrences
(whose fused bodies used to double per step) and long chains compile, and their values and
gradients match the numpy reference and finite differences."""
import re

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata
from dlgrad.frontend.cache import clear_caches

X0 = np.linspace(0.1, 0.8, 8)


def run(fn, *args, backend="c", monkeypatch=None):
    """fn's outputs as numpy arrays, compiled or through the numpy reference backend."""
    if backend == "numpy":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    try:
        return [np.asarray(extractdata(v)) for v in dlfeval(fn, *[dlarray(a) for a in args])]
    finally:
        monkeypatch.delenv("DLGRAD_BACKEND", raising=False)
        clear_caches()


def central_difference(f, x, eps):
    """Gradient of scalar numpy function f at x by central differences."""
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        grad.flat[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def check(fn, numpy_fn, args, monkeypatch, eps=1e-6, fd_rtol=1e-6):
    """Value and gradients (one per argument) against the numpy backend and finite differences."""
    compiled = run(fn, *args, monkeypatch=monkeypatch)
    reference = run(fn, *args, backend="numpy", monkeypatch=monkeypatch)
    for got, want in zip(compiled, reference):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    assert compiled[0] == pytest.approx(numpy_fn(*args), rel=1e-12)
    for i, gradient in enumerate(compiled[1:]):
        def along(x, i=i):
            return numpy_fn(*args[:i], x, *args[i + 1:])
        np.testing.assert_allclose(gradient, central_difference(along, args[i], eps), rtol=fd_rtol, atol=1e-9)


# ---- explicit Euler: x <- x + h (-k x + sin x), each step reading x three times ---------------

def euler(steps):
    def f(x0, k):
        x = x0
        for _ in range(steps):
            x = x + 0.01 * (-k * x + dl.sin(x))
        y = dl.sum(x)
        return y, dlgradient(y, x0), dlgradient(y, k)
    return f


def euler_numpy(steps):
    def f(x, k):
        for _ in range(steps):
            x = x + 0.01 * (-k * x + np.sin(x))
        return np.sum(x)
    return f


def test_two_hundred_euler_steps_compile_with_their_gradient(monkeypatch):
    check(euler(200), euler_numpy(200), (X0, np.linspace(0.2, 0.9, 8)), monkeypatch)


# ---- the logistic map x <- r x (1 - x) and Newton's iteration for sqrt(a) ----------------------

def logistic(steps):
    def f(x0, r):
        x = x0
        for _ in range(steps):
            x = r * x * (1 - x)
        y = dl.sum(x)
        return y, dlgradient(y, x0), dlgradient(y, r)
    return f


def logistic_numpy(steps):
    def f(x, r):
        for _ in range(steps):
            x = r * x * (1 - x)
        return np.sum(x)
    return f


def test_logistic_map_recurrence_compiles_with_its_gradient(monkeypatch):
    check(logistic(25), logistic_numpy(25), (X0, np.linspace(2.6, 3.4, 8)), monkeypatch, eps=1e-7,
          fd_rtol=1e-5)


def newton(steps):
    def f(y0, a):
        y = y0
        for _ in range(steps):
            y = 0.5 * (y + a / y)
        s = dl.sum(y)
        return s, dlgradient(s, y0), dlgradient(s, a)
    return f


def newton_numpy(steps):
    def f(y, a):
        for _ in range(steps):
            y = 0.5 * (y + a / y)
        return np.sum(y)
    return f


def test_newton_iteration_for_sqrt_compiles_with_its_gradient(monkeypatch):
    a = np.linspace(1.0, 5.0, 8)
    check(newton(30), newton_numpy(30), (np.ones(8), a), monkeypatch)
    y, _, da = run(newton(30), np.ones(8), a, monkeypatch=monkeypatch)
    assert y == pytest.approx(np.sum(np.sqrt(a)), rel=1e-15)
    np.testing.assert_allclose(da, 0.5 / np.sqrt(a), rtol=1e-12)   # converged: d sqrt(a) / da


# ---- long chains: no recursion as deep as the graph on the compile path -------------------------

def chain(length):
    def f(y):
        z = y
        for _ in range(length):
            z = z * 1.0001
        s = dl.sum(z)
        return s, dlgradient(s, y)
    return f


@pytest.mark.parametrize("length", [250, 500, 10_000])
def test_long_chains_compile_with_value_and_gradient(monkeypatch, length):
    z, g = X0.copy(), np.ones(8)
    for _ in range(length):   # the same roundings, in the same order
        z, g = z * 1.0001, g * 1.0001
    value, gradient = run(chain(length), X0, monkeypatch=monkeypatch)
    assert value == pytest.approx(np.sum(z), rel=1e-13)
    np.testing.assert_allclose(gradient, g, rtol=1e-13)


def kernels(source):
    return re.findall(r"/\* kernel \d+: (\w+)", source)


def test_a_long_chain_is_cut_into_kernels_and_a_short_one_stays_fused():
    short = dl.lower(chain(20), dlarray(X0)).c_source
    long = dl.lower(chain(400), dlarray(X0)).c_source
    assert kernels(short).count("elementwise") + kernels(short).count("reduce") <= 2
    assert len(kernels(long)) > 4   # cut every few dozen levels: bodies sympy can print
    assert max(map(len, long.splitlines())) < 2000
