"""The peers and hand-written baselines of benchmarks/run.py: each make_*() returns a call
whose result run.py checks and times. JAX, PyTorch, numba and CasADi are imported only when
their row is built, after run.py has set every library to one thread."""
from __future__ import annotations

import numpy as np

import bench_training as training
from bench_core import build_cffi


def cffi_call(ffi, kernel, x, *extra, allocate=True):
    """kernel(x, f, g, *extra) through cffi, numpy arrays in and out; fresh outputs per call
    when `allocate`, as a compiled function must return them."""
    f0, g0, buf, empty, n = np.empty(()), np.empty(x.size), ffi.from_buffer, np.empty, x.size

    def call():
        f, g = (empty(()), empty(n)) if allocate else (f0, g0)
        kernel(buf("double[]", x), buf("double[]", f), buf("double[]", g), *extra)
        return f, g
    return call


def jax_modules():
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy


def torch_module():
    import torch
    torch.set_num_threads(1)
    return torch


def make_jax(objective, x):
    jax, jnp = jax_modules()
    value_grad = jax.jit(jax.value_and_grad(lambda v: objective(jnp, v)))

    def call():
        value, grad = value_grad(x)
        return float(value), np.asarray(grad)
    return call


def make_torch(objective, x, compiled=False):
    torch = torch_module()

    def f(v):
        return objective(torch, v)
    if compiled:
        f = torch.compile(f, dynamic=False)

    def call():
        xt = torch.from_numpy(x).requires_grad_()
        y = f(xt)
        (g,) = torch.autograd.grad(y, xt)
        return y.item(), g.numpy()
    return call


def make_numba_rosenbrock(x):
    import numba

    @numba.njit(cache=False)
    def value_grad(x):
        g, acc = np.zeros(x.size), 0.0
        for i in range(x.size - 1):
            t, u = x[i + 1] - x[i] * x[i], 1 - x[i]
            acc += 100 * t * t + u * u
            g[i] += -400 * t * x[i] - 2 * u
            g[i + 1] += 200 * t
        return acc, g
    return lambda: value_grad(x)


def make_casadi_rosenbrock(x, workdir):
    """CasADi's generated C for the Rosenbrock value and gradient, compiled with cffi."""
    import casadi as ca
    s = ca.SX.sym("x", 2)
    f = 100 * (s[1] - s[0] ** 2) ** 2 + (1 - s[0]) ** 2
    fn = ca.Function("rosen", [s], [f, ca.gradient(f, s)])
    gen = ca.CodeGenerator("rosen_casadi", {"with_header": False})
    gen.add(fn)
    wrapper = (f"\nvoid rosen_call(const double *x, double *f, double *g) {{\n"
               f"    const casadi_real *arg[{max(fn.sz_arg(), 1)}] = {{x}};\n"
               f"    casadi_real *res[{max(fn.sz_res(), 2)}] = {{f, g}};\n"
               f"    casadi_int iw[{fn.sz_iw() + 1}]; casadi_real w[{fn.sz_w() + 1}];\n"
               f"    rosen(arg, res, iw, w, 0);\n}}\n")
    ffi, lib = build_cffi("_dlgrad_bench_casadi", "void rosen_call(const double *x, double *f, double *g);",
                          gen.dump() + wrapper, workdir)
    return cffi_call(ffi, lib.rosen_call, x)


def jax_batch(x, t):
    jnp = jax_modules()[1]
    return jnp.asarray(x), jnp.asarray(t)


def make_jax_mlp(params, x, t):
    jax, jnp = jax_modules()
    value_grad = jax.jit(jax.value_and_grad(training.jax_loss))
    ps, xs, ts = [jnp.asarray(p) for p in params], jnp.asarray(x), jnp.asarray(t)
    return lambda: jax.block_until_ready(value_grad(ps, xs, ts))


def make_torch_mlp(x, t, compiled=False):
    torch = torch_module()
    model, loss = training.torch_loss(compiled)
    weights, (xt, labels) = list(model.parameters()), training.torch_batch(x, t)

    def call():
        value = loss(xt, labels)
        return value, torch.autograd.grad(value, weights)
    return call
