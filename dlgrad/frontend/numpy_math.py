"""numpy's names for the functions of mathfuns, logical, arrays, linalg and sorting, with
numpy's semantics (numpy_api.py merges these tables into its own)."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from . import arrays as A
from . import linalg as L
from . import logical as G
from . import mathfuns as M
from . import sorting as S
from .dispatch import asdlarray

UFUNCS = {
    np.arcsinh: M.asinh, np.arccosh: M.acosh, np.arctanh: M.atanh, np.trunc: M.fix,
    np.isnan: G.isnan, np.isinf: G.isinf, np.isfinite: G.isfinite,
    np.logical_and: G.logical_and, np.logical_or: G.logical_or, np.logical_not: G.logical_not,
    np.logical_xor: G.logical_xor,
}


def _no(name, **options):
    given = [k for k, v in options.items() if v is not None]
    if given:
        raise UnsupportedOperationError(f"numpy.{name} on a dlarray does not support {', '.join(given)}")


def _flip(m, axis=None):
    m = asdlarray(m)
    return A.flip(m, tuple(range(m.ndim)) if axis is None else axis)


def _roll(a, shift, axis=None):
    a = asdlarray(a)
    if axis is None:   # numpy rolls the flattened array
        flat = a.reshape(-1)
        return (A.circshift(flat, int(shift), 0) if flat.size else flat).reshape(a.shape)
    if isinstance(shift, (int, np.integer)):
        shift = (shift,) * (1 if isinstance(axis, (int, np.integer)) else len(axis))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for s, ax in zip(shift, axes):
        a = A.circshift(a, int(s), ax)
    return a


def _cumprod(a, axis=None, dtype=None, out=None):
    _no("cumprod", dtype=dtype, out=out)
    return M.cumprod(a, axis)


def _norm(x, ord=None, axis=None, keepdims=False):
    x = asdlarray(x)
    if axis is None and not keepdims:
        if x.ndim <= 1:
            return L.norm(x, 2 if ord is None else ord)
        if x.ndim == 2 and (ord is None or ord in ("fro", 1, 2, np.inf)):
            return L.norm(x, "fro" if ord is None else ord)
        if ord is None:
            return L.vecnorm(x.reshape(-1), 2, 0)
    if axis is not None and (isinstance(axis, (int, np.integer)) or len(axis) == 1):
        return L.vecnorm(x, 2 if ord is None else ord, axis, keepdims)
    raise UnsupportedOperationError(f"numpy.linalg.norm on a dlarray with ord={ord!r}, axis={axis!r}, "
                                    f"keepdims={keepdims!r} (use dlgrad.norm or dlgrad.vecnorm)")


def _solve(a, b):
    """numpy.linalg.solve; untraced, a singular matrix raises numpy's LinAlgError as numpy does
    (compiled code cannot raise: there the solution holds Inf/NaN)."""
    x = L.solve(a, b)
    if x._node is None:
        from ..graph.ops.solve import lu_numpy
        factors = lu_numpy(asdlarray(a)._data)
        if (np.diagonal(factors, axis1=-2, axis2=-1) == 0).any():
            raise np.linalg.LinAlgError("Singular matrix")
    return x


def _tile(A_, reps):
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    return A._tile(asdlarray(A_), reps)


FUNCTIONS = {
    np.flip: _flip, np.fliplr: lambda m: A.flip(m, 1), np.flipud: lambda m: A.flip(m, 0),
    np.roll: _roll, np.tile: _tile, np.repeat: A.repeat, np.triu: A.triu, np.tril: A.tril,
    np.cumprod: _cumprod, np.sort: S.numpy_sort, np.argsort: S.numpy_argsort,
    np.linalg.norm: _norm, np.linalg.solve: _solve, np.fix: M.fix,
}
NAMES = "asinh acosh atanh sec csc cot sech csch coth asec acsc acot fix rescale cumprod interp1 " \
        "isnan isinf isfinite logical_and logical_or logical_not logical_xor flip circshift repmat " \
        "repelem triu tril ipermute squeeze norm vecnorm dot pagemtimes mldivide mrdivide sort onehotdecode svd cond"
