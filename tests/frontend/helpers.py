"""Shared test helpers: random data and central finite differences."""
import numpy as np

RNG = np.random.default_rng(0)


def numeric_grad(f, x, eps=1e-6):
    """Central differences of scalar f at float64 array x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
