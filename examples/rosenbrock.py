"""The Rosenbrock example of MATLAB's "Use Automatic Differentiation In Deep Learning Toolbox".

Value and gradient at x0 = [-1, 2] (104 and [396, 200]), then plain gradient descent
from there: the objective is traced and compiled on the first dlfeval; every later
call is one native call.
"""
import time

import numpy as np

from dlgrad import dlarray, dlfeval, dlgradient, extractdata, lower


def rosenbrock(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dlgradient(y, x)


def main():
    x0 = dlarray(np.array([-1.0, 2.0]))
    start = time.perf_counter()
    fval, g = dlfeval(rosenbrock, x0)
    print(f"first call (trace + compile, or disk cache): {1e3 * (time.perf_counter() - start):.1f} ms")
    print("fval =", fval)
    print("gradient =", g)

    x, learn_rate = x0, 1e-3
    start = time.perf_counter()
    for _ in range(20000):
        fval, g = dlfeval(rosenbrock, x)
        x = x - learn_rate * g
    elapsed = time.perf_counter() - start
    print(f"20000 descent steps: {1e3 * elapsed:.0f} ms; x = {extractdata(x)}, f = {float(extractdata(fval)):.3g}")

    print("\nThe compiled graph (one line per node):")
    print(lower(rosenbrock, x0).graph_text)


if __name__ == "__main__":
    main()
