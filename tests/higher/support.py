"""Central differences for checking derivatives in float64."""
import numpy as np


def numeric_jacobian(f, x, eps=1e-6):
    """d f(x) / d x by central differences: shape f(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    out = np.asarray(f(x), dtype=np.float64)
    jac = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        jac[(Ellipsis,) + i] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac
