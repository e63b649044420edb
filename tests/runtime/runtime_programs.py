"""Hand-written C programs in the shape codegen hands to the runtime, for the runtime tests."""
import uuid
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Program:
    source: str
    entry: str
    inputs: tuple
    outputs: tuple
    work_bytes: int = 0
    aliases: tuple = ()


def fresh() -> str:
    """A comment that makes a source new to every cache."""
    return f"/* {uuid.uuid4().hex} */\n"


ROSENBROCK = r"""
int rosenbrock(const void *const *in, void *const *out, void *work) {
    const double *x = (const double *)in[0];
    double *f = (double *)out[0], *g = (double *)out[1];
    double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
    (void)work;
    *f = a * a + 100.0 * b * b;
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    return 0;
}
"""


def rosenbrock(salt: str = "") -> Program:
    """Value and gradient of the Rosenbrock function: 104 and [396, 200] at [-1, 2]."""
    return Program(salt + ROSENBROCK, "rosenbrock", (((2,), "float64"),),
                   (((), "float64"), ((2,), "float64")))


def affine_f32() -> Program:
    """y = 2x + 1 on a float32 (3, 4) array."""
    src = r"""
int affine(const void *const *in, void *const *out, void *work) {
    const float *x = (const float *)in[0];
    float *y = (float *)out[0];
    (void)work;
    for (int i = 0; i < 12; i++) y[i] = 2.0f * x[i] + 1.0f;
    return 0;
}
"""
    return Program(src, "affine", (((3, 4), "float32"),), (((3, 4), "float32"),))


def smooth(n: int = 2048, steps: int = 100) -> Program:
    """`steps` passes of a 3-point average, ping-ponging between two halves of the workspace."""
    src = f"""
int smooth(const void *const *in, void *const *out, void *work) {{
    const double *x = (const double *)in[0];
    double *y = (double *)out[0], *total = (double *)out[1];
    double *a = (double *)work, *b = a + {n}, *t;
    for (int i = 0; i < {n}; i++) a[i] = x[i];
    for (int s = 0; s < {steps}; s++) {{
        b[0] = a[0];
        b[{n - 1}] = a[{n - 1}];
        for (int i = 1; i < {n - 1}; i++) b[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0;
        t = a; a = b; b = t;
    }}
    *total = 0.0;
    for (int i = 0; i < {n}; i++) {{ y[i] = a[i]; *total += a[i]; }}
    return 0;
}}
"""
    return Program(src, "smooth", (((n,), "float64"),), (((n,), "float64"), ((), "float64")),
                   work_bytes=2 * n * 8)


def smooth_reference(x: np.ndarray, steps: int = 100):
    a = x.copy()
    for _ in range(steps):
        b = a.copy()
        b[1:-1] = (a[:-2] + a[1:-1] + a[2:]) / 3.0
        a = b
    return a, a.sum()


def many_inputs(k: int) -> Program:
    """The sum of `k` scalar inputs: more pointers than the trampoline takes as arguments."""
    src = f"""
int sum_all(const void *const *in, void *const *out, void *work) {{
    double s = 0.0;
    (void)work;
    for (int i = 0; i < {k}; i++) s += *(const double *)in[i];
    *(double *)out[0] = s;
    return 0;
}}
"""
    return Program(src, "sum_all", tuple(((), "float64") for _ in range(k)), (((), "float64"),))


def empty_arrays() -> Program:
    """Copies a (0,) array and sums it."""
    src = r"""
int empty(const void *const *in, void *const *out, void *work) {
    (void)in; (void)work;
    *(double *)out[1] = 0.0;
    (void)out[0];
    return 0;
}
"""
    return Program(src, "empty", (((0,), "float64"),), (((0,), "float64"), ((), "float64")))


def failing() -> Program:
    src = "int fails(const void *const *in, void *const *out, void *work)\n" \
          "{ (void)in; (void)out; (void)work; return 3; }\n"
    return Program(src, "fails", (((1,), "float64"),), (((1,), "float64"),))
