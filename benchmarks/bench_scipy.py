"""dlgrad.optimize from scipy's side: what an evaluation costs scipy, against the compiled function itself.

  S1  10-D Rosenbrock value and gradient at one x. Floor: the compiled value-and-gradient
      function called directly (dlaccelerate of a function returning (y, dlgradient(y, x)),
      a dlarray in, dlarrays out: the native hit path). Rows: objective(rosen)(x) as scipy calls
      it (numpy in, (float, ndarray) out; target within 2x of the floor), and scipy's own
      numpy rosen + rosen_der for scale.
  S2  the Hessian-vector product at the same x: obj.hessp (the method taken before the first call,
      as scipy takes it) against the compiled HVP called directly, and scipy's rosen_hess_prod.
  S3  a whole L-BFGS-B solve of the extended Rosenbrock, n = 10 and n = 1000, from x = 0:
      scipy.optimize.minimize(objective(rosen), x0, jac=True) against the same solve with
      scipy's rosen/rosen_der (numpy). The note gives the evaluations and time per evaluation.

Times are medians of 3 runs (each as many calls as fill 0.2 s), one thread.

Run: python benchmarks/bench_scipy.py [--quick]
"""
from __future__ import annotations

import os
import sys

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # this checkout's dlgrad, installed or not

import argparse
import platform

import numpy as np
from rows import SETTINGS, Row, attempt, just, table

import dlgrad as dl
from dlgrad.optimize import objective


def rosen(x):
    return dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def value_grad(x):   # self-contained (reads no function of ours), as a user would write it
    y = dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return y, dl.dlgradient(y, x)


def hvp(x, p):
    y = dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = dl.dlgradient(y, x, enable_higher_derivatives=True)
    return dl.dlgradient(dl.sum(g * p), x)


def check_value_grad(so, x):
    def check(result):
        value, grad = result
        value = dl.extractdata(value) if dl.isdlarray(value) else value
        grad = dl.extractdata(grad) if dl.isdlarray(grad) else grad
        np.testing.assert_allclose(value, so.rosen(x), rtol=1e-12)
        np.testing.assert_allclose(grad, so.rosen_der(x), rtol=1e-12, atol=1e-12)
    return check


def s1_s2(rows, so):
    x = np.random.default_rng(0).uniform(-2, 2, 10)
    p = np.random.default_rng(1).standard_normal(10)
    obj = objective(rosen)
    check = check_value_grad(so, x)
    attempt(rows, "S1", "compiled function called directly", just(dl.dlaccelerate(value_grad), dl.dlarray(x)),
            check, floor=True)
    attempt(rows, "S1", "objective(rosen)(x), as scipy calls it", just(obj, x), check, target=("x", 2.0))
    attempt(rows, "S1", "scipy rosen + rosen_der (numpy)", lambda: lambda: (so.rosen(x), so.rosen_der(x)), check)

    def check_hvp(result):
        result = dl.extractdata(result) if dl.isdlarray(result) else result
        np.testing.assert_allclose(result, so.rosen_hess_prod(x, p), rtol=1e-12, atol=1e-10)
    attempt(rows, "S2", "compiled HVP called directly", just(dl.dlaccelerate(hvp), dl.dlarray(x), dl.dlarray(p)),
            check_hvp, floor=True)
    attempt(rows, "S2", "obj.hessp(x, p), as scipy holds it", just(obj.hessp, x, p), check_hvp, target=("x", 2.0))
    attempt(rows, "S2", "scipy rosen_hess_prod (numpy)", just(so.rosen_hess_prod, x, p), check_hvp)


def s3(rows, so, n):
    workload = f"S3 n = {n}"
    x0 = np.zeros(n)
    obj = objective(rosen)
    counts = {}

    def solve(fun, **derivatives):
        def run():
            result = so.minimize(fun, x0, method="L-BFGS-B", options={"maxiter": 10_000}, **derivatives)
            counts[fun] = result.nfev
            return result
        return run

    def check(result):
        assert result.success, result.message
        np.testing.assert_allclose(result.x, np.ones(n), atol=1e-3)

    attempt(rows, workload, "scipy rosen/rosen_der (numpy)", lambda: solve(so.rosen, jac=so.rosen_der), check,
            floor=True)
    attempt(rows, workload, "dlgrad objective(rosen), jac=True", lambda: solve(obj, jac=True), check)
    for row, fun in zip(rows[-2:], (so.rosen, obj)):
        if row.value and counts.get(fun):
            row.note = f"{counts[fun]} evaluations, {1e6 * row.value / counts[fun]:.1f} us each"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 10 only in S3, 1 repeat")
    args = parser.parse_args()
    import scipy
    import scipy.optimize as so
    SETTINGS.quick = args.quick
    SETTINGS.repeats = 1 if args.quick else 3
    rows: list[Row] = []
    s1_s2(rows, so)
    for n in (10,) if args.quick else (10, 1000):
        s3(rows, so, n)
    print(f"dlgrad {dl.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}")
    print(table(rows))


if __name__ == "__main__":
    main()
