"""numpy's protocols on dlarray: ufuncs and array functions mapped to dlgrad's functions.

Anything without a dlgrad counterpart raises UnsupportedOperationError, traced or not, so
code that runs eagerly also traces.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from . import functions as F
from . import join
from .dispatch import apply, asdlarray
from .dlarray import dlarray

FUNCTIONS = ("abs sign sqrt exp log log1p expm1 sin cos tan sinh cosh tanh asin acos atan atan2 "
             "sigmoid relu softplus erf maximum minimum where floor ceil round sum mean prod max min cumsum "
             "matmul transpose permute reshape concatenate stack").split()


def unsupported(what: str) -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"{what} is not supported on a dlarray. dlgrad provides: {', '.join(FUNCTIONS)} (as dlgrad.<name>), "
        "the operators + - * / ** @ < <= > >= == !=, and indexing; write other functions from these, "
        "or call numpy on extractdata(x) outside dlfeval")


_UFUNCS = {
    np.add: F.add, np.subtract: F.subtract, np.multiply: F.multiply, np.true_divide: F.divide,
    np.power: F.power, np.negative: F.negative, np.positive: asdlarray,
    np.absolute: F.abs, np.fabs: F.abs, np.sign: F.sign, np.sqrt: F.sqrt,
    np.square: lambda x: apply("mul", x, x), np.reciprocal: lambda x: apply("div", 1.0, x),
    np.exp: F.exp, np.log: F.log, np.log1p: F.log1p, np.expm1: F.expm1,
    np.sin: F.sin, np.cos: F.cos, np.tan: F.tan, np.sinh: F.sinh, np.cosh: F.cosh, np.tanh: F.tanh,
    np.arcsin: F.asin, np.arccos: F.acos, np.arctan: F.atan, np.arctan2: F.atan2,
    np.maximum: F.maximum, np.minimum: F.minimum,
    np.floor: F.floor, np.ceil: F.ceil, np.rint: lambda x: apply("round", x),
    np.greater: F.greater, np.greater_equal: F.greater_equal, np.less: F.less,
    np.less_equal: F.less_equal, np.equal: F.equal, np.not_equal: F.not_equal,
    np.matmul: F.matmul,
}


def array_ufunc(ufunc, method, inputs, kwargs):
    """np.sin(x), np.add(x, y), ... on dlarrays."""
    function = _UFUNCS.get(ufunc)
    if method != "__call__" or function is None:
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise unsupported(name)
    if kwargs:
        raise UnsupportedOperationError(f"numpy.{ufunc.__name__} on a dlarray takes no keyword arguments "
                                        f"(got {', '.join(kwargs)}); dlarray results are always new arrays")
    return function(*inputs)


def _reject(name, **options):
    given = [k for k, v in options.items() if v is not None and v is not np._NoValue]
    if given:
        raise UnsupportedOperationError(f"numpy.{name} on a dlarray does not support {', '.join(given)}")


def _sum_like(function, name):
    def adapter(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        _reject(name, dtype=dtype, out=out, initial=initial, where=where)
        return function(a, axis, keepdims is not np._NoValue and bool(keepdims))
    return adapter


def _max_like(function, name):
    def adapter(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        _reject(name, out=out, initial=initial, where=where)
        return function(a, axis, keepdims is not np._NoValue and bool(keepdims))
    return adapter


def _cumsum(a, axis=None, dtype=None, out=None):
    _reject("cumsum", dtype=dtype, out=out)
    return F.cumsum(a, axis)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise UnsupportedOperationError("numpy.reshape on a dlarray supports only order='C'")
    return F.reshape(a, newshape if shape is None else shape)


def _join(function, name):
    def adapter(arrays, axis=0, out=None, *, dtype=None, casting=None):
        _reject(name, out=out, dtype=dtype)
        return function(arrays, axis)
    return adapter


def _where(condition, *values):
    if len(values) != 2:
        raise unsupported("numpy.where with one argument (data-dependent shape)")
    return F.where(condition, *values)


def _dot(a, b, out=None):
    _reject("dot", out=out)
    a, b = asdlarray(a), asdlarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return apply("mul", a, b)
    if a.ndim > 2 or b.ndim > 2:
        raise unsupported("numpy.dot of arrays with more than 2 dimensions (use matmul)")
    return F.matmul(a, b)


def _round(a, decimals=0, out=None):
    _reject("round", out=out)
    if decimals != 0:
        raise UnsupportedOperationError("numpy.round on a dlarray supports only decimals=0")
    return apply("round", a)   # numpy's halves-to-even (dlgrad.round is MATLAB's halves away)


def _squeeze(a, axis=None):
    a = asdlarray(a)
    axes = range(a.ndim) if axis is None else [x % a.ndim for x in np.atleast_1d(axis)]
    if axis is not None and any(a.shape[x] != 1 for x in axes):
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return F.reshape(a, tuple(d for i, d in enumerate(a.shape) if not (i in axes and d == 1)))


def _expand_dims(a, axis):
    a = asdlarray(a)
    shape = list(a.shape)
    for x in sorted(x % (a.ndim + 1) for x in np.atleast_1d(axis)):
        shape.insert(int(x), 1)
    return F.reshape(a, tuple(shape))


def _ravel(a, order="C"):
    if order != "C":
        raise UnsupportedOperationError("numpy.ravel on a dlarray supports only order='C'")
    return F.reshape(a, (-1,))


def _clip(a, a_min=None, a_max=None, out=None, **extra):
    _reject("clip", out=out, **extra)
    if a_min is not None:
        a = F.maximum(a, a_min)
    return asdlarray(a) if a_max is None else F.minimum(a, a_max)


_FUNCTIONS = {
    np.sum: _sum_like(F.sum, "sum"), np.prod: _sum_like(F.prod, "prod"),
    np.mean: _sum_like(F.mean, "mean"), np.cumsum: _cumsum,
    np.max: _max_like(F.max, "max"), np.min: _max_like(F.min, "min"),
    np.amax: _max_like(F.max, "amax"), np.amin: _max_like(F.min, "amin"),
    np.transpose: F.transpose, np.reshape: _reshape, np.ravel: _ravel,
    np.squeeze: _squeeze, np.expand_dims: _expand_dims,
    np.concatenate: _join(join.concatenate, "concatenate"), np.stack: _join(join.stack, "stack"),
    np.where: _where, np.dot: _dot, np.round: _round, np.around: _round, np.clip: _clip,
    np.shape: lambda a: asdlarray(a).shape, np.ndim: lambda a: asdlarray(a).ndim,
    np.size: lambda a, axis=None: asdlarray(a).size if axis is None else asdlarray(a).shape[axis],
}


def array_function(func, types, args, kwargs):
    """np.sum(x), np.concatenate([x, y]), ... on dlarrays."""
    function = _FUNCTIONS.get(func)
    if function is None:
        module = getattr(func, "__module__", None) or "numpy"
        raise unsupported(f"{module if module.startswith('numpy.') else 'numpy'}.{func.__name__}")
    if not all(issubclass(t, (dlarray, np.ndarray)) for t in types):
        return NotImplemented
    return function(*args, **kwargs)


from . import numpy_math  # noqa: E402  (the functions of mathfuns, arrays, linalg, logical, sorting)
_UFUNCS.update(numpy_math.UFUNCS)
_FUNCTIONS.update(numpy_math.FUNCTIONS)
FUNCTIONS += numpy_math.NAMES.split()
