"""Second-order benchmarks on the extended Rosenbrock f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2).

  - the exact Hessian at n = 100: dljacobian of dlgradient(..., enable_higher_derivatives=True)
    (one reverse sweep over a batched copy of the gradient graph), against jax.jit(jax.hessian(f));
  - a Hessian-vector product at n = 10 000: dlgradient of sum(g * v), against
    jax.jit of jax.jvp of jax.grad(f) (forward over reverse);
  - both against a hand-written numpy formula (the Hessian is tridiagonal), for scale.

Times are medians per call, numpy arrays in and out (dlgrad returns numpy-backed dlarrays;
JAX is timed both with numpy in/out and, its best case, with device arrays and
block_until_ready). First calls (trace + compile, cold cache) are reported separately.
JAX is skipped when it is not installed.

Run: python benchmarks/bench_hessian.py
"""
from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
import timeit

import numpy as np


def per_call(fn, number, repeat=7):
    """Median seconds per call over `repeat` runs of `number` calls."""
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number


def first_call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- dlgrad -------------------------------------------------------------------------------

def rosenbrock(x):
    import dlgrad as dl
    return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def hessian(x):
    import dlgrad as dl
    g = dl.dlgradient(rosenbrock(x), x, enable_higher_derivatives=True)
    return dl.dljacobian(g, x, 0)


def hvp(x, v):
    import dlgrad as dl
    g = dl.dlgradient(rosenbrock(x), x, enable_higher_derivatives=True)
    return dl.dlgradient(dl.sum(g * v), x)


# --- baselines ----------------------------------------------------------------------------

def numpy_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    h[np.arange(n), np.arange(n)] = d
    h[np.arange(n - 1), np.arange(1, n)] = off
    h[np.arange(1, n), np.arange(n - 1)] = off
    return h


def numpy_hvp(x, v):
    out = np.zeros_like(x)
    out[:-1] += (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    out[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    return out


def jax_functions():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def f(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    hess = jax.jit(jax.hessian(f))
    hvp_ = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
    return jax, hess, hvp_


def main():
    workdir = tempfile.mkdtemp(prefix="dlgrad-bench-")
    os.environ["DLGRAD_CACHE_DIR"] = os.path.join(workdir, "cache")   # cold caches
    import dlgrad as dl

    rng = np.random.default_rng(0)
    rows = []

    def row(name, seconds, base, note=""):
        rows.append((name, seconds, seconds / base if base else float("nan"), note))

    jax_parts = jax_functions()
    for label, n, dl_fn, np_fn, jax_index in (("Hessian, n = 100", 100, hessian, numpy_hessian, 1),
                                             ("HVP, n = 10000", 10000, hvp, numpy_hvp, 2)):
        x = rng.uniform(-1, 1, n)
        args = (x,) if dl_fn is hessian else (x, rng.standard_normal(n))
        dl_args = tuple(dl.dlarray(a) for a in args)
        compile_s = first_call(lambda: dl.dlfeval(dl_fn, *dl_args))
        nodes = dl.lower(dl_fn, *dl_args).graph_text.splitlines()[0].lstrip("/ ")
        ours = dl.extractdata(dl.dlfeval(dl_fn, *dl_args))
        np.testing.assert_allclose(ours, np_fn(*args), rtol=1e-12, atol=1e-9)
        number = 2000 if n <= 100 else 1000
        base = per_call(lambda: dl.dlfeval(dl_fn, *dl_args), number)
        rows.append((f"{label}", None, None, ""))
        row("  dlgrad dlfeval", base, base, f"first call {compile_s:.2f} s; {nodes}")
        row("  numpy, hand-written formula", per_call(lambda: np_fn(*args), number), base)
        if jax_parts is None:
            rows.append(("  JAX not installed: skipped", None, None, ""))
            continue
        jax, fn = jax_parts[0], jax_parts[jax_index]
        compile_j = first_call(lambda: np.asarray(fn(*args)))
        np.testing.assert_allclose(np.asarray(fn(*args)), ours, rtol=1e-12, atol=1e-9)
        row("  JAX jit, numpy in/out", per_call(lambda: np.asarray(fn(*args)), number), base,
            f"first call {compile_j:.2f} s")
        device = [jax.device_put(a) for a in args]
        row("  JAX jit, device arrays", per_call(lambda: fn(*device).block_until_ready(), number), base)

    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
          f"JAX {jax_parts[0].__version__ if jax_parts else 'absent'}, {platform.machine()}")
    print(f"{'workload':40s} {'time':>12s} {'ratio':>8s}  note")
    for name, seconds, ratio, note in rows:
        if seconds is None:
            print(name)
        else:
            print(f"{name:40s} {1e6 * seconds:9.2f} us {ratio:7.2f}x  {note}")


if __name__ == "__main__":
    main()
