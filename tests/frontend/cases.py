"""Run many (dlgrad function, numpy reference) cases in one traced graph: values, gradients, eager."""
import numpy as np

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata

from .helpers import RNG, numeric_grad


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def check_cases(cases, arrays, dtype=np.float64, rtol=1e-10, grad_rtol=1e-6):
    """For each (label, f, reference): eager and traced f(*arrays) against reference, and the
    traced gradient of sum(f * u) (u random) against central differences of the reference."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    wants = [np.asarray(reference(*arrays), dtype=np.float64) for _, _, reference in cases]
    us = [RNG.standard_normal(w.shape) for w in wants]

    def objective(xs, us):
        results = []
        for (_, f, _), u in zip(cases, us):
            y = f(*xs)
            results.append((y, dlgradient(dl.sum(y * u), *xs)))
        return results

    inputs = [dlarray(a.astype(dtype)) for a in arrays]
    got = dlfeval(objective, inputs, [u.astype(dtype) for u in us])
    for (label, f, reference), want, u, (value, grads) in zip(cases, wants, us, got):
        eager = f(*inputs)
        for name, result in (("eager", eager), ("traced", value)):
            assert result.dtype == dtype, (label, name, result.dtype)
            assert result.shape == want.shape, (label, name, result.shape, want.shape)
            np.testing.assert_allclose(extractdata(result), want, rtol=rtol, atol=rtol,
                                       err_msg=f"{label} ({name})")
        for i, g in enumerate(_as_tuple(grads)):
            assert g.shape == arrays[i].shape and g.dtype == dtype, (label, i)

            def partial(xi, i=i):
                args = list(arrays)
                args[i] = xi
                return np.sum(np.asarray(reference(*args)) * u)
            np.testing.assert_allclose(extractdata(g), numeric_grad(partial, arrays[i]),
                                       rtol=grad_rtol, atol=grad_rtol, err_msg=f"d {label} / d x{i}")
