"""Every function on dlarrays: eager and traced values against numpy, gradients against
central differences. Cases of one kind share one compiled graph."""
import math

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import ShapeError, dlarray, extractdata

from .cases import check_cases
from .helpers import RNG

_erf = np.vectorize(math.erf)
UNARY = {
    "abs": np.abs, "sign": np.sign, "sqrt": lambda x: np.sqrt(x + 1), "exp": np.exp,
    "log": lambda x: np.log(x + 1), "log1p": np.log1p, "expm1": np.expm1, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "erf": _erf,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
    "softplus": lambda x: np.log1p(np.exp(x)), "floor": np.floor, "ceil": np.ceil, "round": np.round,
}
SHIFTED = {"sqrt", "log"}


def _unary_case(name):
    function = getattr(dl, name)
    return name, (lambda x: function(x + 1)) if name in SHIFTED else function, UNARY[name]


def _points(shape):
    """Values in (-0.9, 0.9) away from 0 and from +-0.5 (kinks and rounding ties)."""
    x = RNG.uniform(0.08, 0.42, shape) + RNG.choice([0.0, 0.5], shape)
    return x * RNG.choice([-1.0, 1.0], shape)


X = _points((2, 3))


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [(np.float64, 1e-12, 1e-6), (np.float32, 2e-6, 1e-3)])
def test_unary(dtype, rtol, grad_rtol):
    check_cases([_unary_case(name) for name in UNARY], [X], dtype, rtol, grad_rtol)


def test_unary_numpy_backend(backend):
    check_cases([_unary_case(name) for name in ("exp", "sigmoid", "relu", "erf", "round")], [X])


A, B = RNG.uniform(0.5, 2.0, (3, 1)), RNG.uniform(0.5, 2.0, (4,)) + 0.01
BINARY = [
    ("add", lambda a, b: a + b, np.add), ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply), ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a ** b, np.power), ("atan2", dl.atan2, np.arctan2),
    ("maximum", dl.maximum, np.maximum), ("minimum", dl.minimum, np.minimum),
    ("scalar", lambda a, b: 2 * a - b / 3 + 1, lambda a, b: 2 * a - b / 3 + 1),
    ("rscalar", lambda a, b: 2 ** a + 1 / b - (3 - a), lambda a, b: 2 ** a + 1 / b - (3 - a)),
    ("gt", lambda a, b: a > b, lambda a, b: (a > b) * 1.0), ("le", lambda a, b: a <= b, lambda a, b: (a <= b) * 1.0),
    ("eq", lambda a, b: a == b, lambda a, b: (a == b) * 1.0), ("ne", lambda a, b: a != b, lambda a, b: (a != b) * 1.0),
    ("where", lambda a, b: dl.where(a > b, a * b, b), lambda a, b: np.where(a > b, a * b, b)),
    ("where scalar", lambda a, b: dl.where(a < b, 0.0, a), lambda a, b: np.where(a < b, 0.0, a)),
]


@pytest.mark.parametrize("dtype, rtol, grad_rtol", [(np.float64, 1e-12, 1e-6), (np.float32, 2e-6, 1e-3)])
def test_binary_with_broadcasting(dtype, rtol, grad_rtol):
    check_cases(BINARY, [A, B], dtype, rtol, grad_rtol)


Y = RNG.uniform(0.5, 1.5, (2, 3, 4))
REDUCTIONS = [
    (f"{name} axis={axis} keepdims={keep}", (lambda x, n=name, a=axis, k=keep: getattr(dl, n)(x, axis=a, keepdims=k)),
     (lambda x, n=name, a=axis, k=keep: getattr(np, n)(x, axis=a, keepdims=k)))
    for name in ("sum", "mean", "prod", "max", "min")
    for axis, keep in ((None, False), (0, False), ((0, 2), False), (-1, True), ((), False), (None, True))
]


def test_reductions(backend):
    check_cases(REDUCTIONS, [Y])


CUMSUMS = [(f"cumsum axis={axis}", (lambda x, a=axis: dl.cumsum(x, a)), (lambda x, a=axis: np.cumsum(x, a)))
           for axis in (0, 1, -1, None)]


def test_cumsum(backend):
    """dl.cumsum and np.cumsum on dlarrays: numpy's values, gradients, the format kept, bad axes named."""
    check_cases(CUMSUMS, [Y])
    x = dlarray(Y[:, :, 0], "CB")
    assert dl.dims(dl.cumsum(x, 1)) == "CB" and dl.dims(np.cumsum(x, 0)) == "CB"
    np.testing.assert_array_equal(extractdata(np.cumsum(x, 1)), np.cumsum(Y[:, :, 0], 1))
    with pytest.raises(dl.ShapeError, match="axis 2 is out of range"):
        dl.cumsum(x, 2)
    with pytest.raises(TypeError, match="cumsum axis must be an int or None, got 1.5"):
        dl.cumsum(x, 1.5)


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((2, 1, 2, 3), (5, 3, 2)), ((3,), (4, 3, 2)), ((4, 2, 3), (3,))]


def test_matmul():
    arrays = [RNG.standard_normal(s) for pair in MATMUL_SHAPES for s in pair]
    cases = [(f"{sa} @ {sb}", (lambda *xs, i=i: xs[2 * i] @ xs[2 * i + 1]),
              (lambda *xs, i=i: xs[2 * i] @ xs[2 * i + 1])) for i, (sa, sb) in enumerate(MATMUL_SHAPES)]
    cases.append(("dl.matmul", lambda *xs: dl.matmul(xs[6], xs[7]), lambda *xs: np.matmul(xs[6], xs[7])))
    check_cases(cases, arrays, rtol=1e-12)


def test_shape_functions(backend):
    p, q = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 4))
    cases = [
        ("T", lambda x, y: x.T, lambda x, y: x.T),
        ("transpose", lambda x, y: dl.transpose(x, (1, 0, 2)), lambda x, y: np.transpose(x, (1, 0, 2))),
        ("transpose negative", lambda x, y: dl.transpose(x, (-1, 0, 1)), lambda x, y: np.transpose(x, (2, 0, 1))),
        ("permute", lambda x, y: dl.permute(x, (2, 1, 0)), lambda x, y: np.transpose(x, (2, 1, 0))),
        ("reshape -1", lambda x, y: dl.reshape(x, (4, -1)), lambda x, y: x.reshape(4, -1)),
        ("reshape flat", lambda x, y: dl.reshape(x * y, -1), lambda x, y: (x * y).reshape(-1)),
        ("concatenate 0", lambda x, y: dl.concatenate([x, y], 0), lambda x, y: np.concatenate([x, y], 0)),
        ("concatenate -1", lambda x, y: dl.concatenate((x, y[..., :1], y), axis=-1),
         lambda x, y: np.concatenate((x, y[..., :1], y), axis=-1)),
        ("concatenate None", lambda x, y: dl.concatenate([x, y[0]], axis=None),
         lambda x, y: np.concatenate([x, y[0]], axis=None)),
        ("stack", lambda x, y: dl.stack([x, y, x]), lambda x, y: np.stack([x, y, x])),
        ("stack 2", lambda x, y: dl.stack([x, y], axis=2), lambda x, y: np.stack([x, y], axis=2)),
        ("stack -1", lambda x, y: dl.stack([x, y], axis=-1), lambda x, y: np.stack([x, y], axis=-1)),
    ]
    check_cases(cases, [p, q], rtol=1e-14)


def test_concatenate_mixed_dtypes_and_errors():
    a, b = dlarray(np.ones((2, 2), np.float32)), dlarray(np.zeros((1, 2)))
    assert dl.concatenate([a, a]).dtype == np.float32
    assert dl.concatenate([a, b]).dtype == np.float64
    with pytest.raises(ShapeError, match=r"\(2, 2\).*\(1, 3\)"):
        dl.concatenate([a, dlarray(np.ones((1, 3)))])
    with pytest.raises(ShapeError, match="same number of dimensions"):
        dl.concatenate([a, dlarray(np.ones(2))])
    with pytest.raises(ShapeError, match="same shape"):
        dl.stack([a, b])
    with pytest.raises(ShapeError, match="zero-dimensional"):
        dl.concatenate([dlarray(1.0), dlarray(2.0)])


def test_shape_errors_name_both_shapes():
    a, b = dlarray(np.ones((2, 3))), dlarray(np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(4, 5\)"):
        a @ b
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(4, 4\)"):
        dl.reshape(a, (4, 4))
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(4, -1\)"):
        dl.reshape(a, (4, -1))
    with pytest.raises(ShapeError, match="permutation"):
        dl.transpose(a, (0, 0))
    with pytest.raises(ShapeError):
        dl.sum(a, axis=2)
    with pytest.raises(ValueError, match="zero-size"):
        dl.max(dlarray(np.ones((0, 2))), axis=0)


def test_numpy_ufuncs_and_functions_dispatch():
    x_np = RNG.uniform(0.1, 0.9, (2, 3))
    x = dlarray(x_np)
    ufuncs = [np.sin, np.exp, np.log, np.sqrt, np.tanh, np.negative, np.abs, np.square, np.reciprocal,
              np.arcsin, np.floor, np.rint, np.sign]
    for ufunc in ufuncs:
        result = ufunc(x)
        assert isinstance(result, dlarray), ufunc
        np.testing.assert_allclose(extractdata(result), ufunc(x_np), rtol=1e-15)
    for ufunc in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum,
                  np.arctan2):
        for result in (ufunc(x, x_np[::-1]), ufunc(x_np, x), ufunc(x, 2.0)):
            assert isinstance(result, dlarray), ufunc
        np.testing.assert_allclose(extractdata(ufunc(x_np, x)), ufunc(x_np, x_np), rtol=1e-15)
    np.testing.assert_array_equal(extractdata(np.greater(x, 0.5)), (x_np > 0.5) * 1.0)
    np.testing.assert_allclose(extractdata(np.matmul(x, x.T)), x_np @ x_np.T, rtol=1e-15)
    np.testing.assert_allclose(extractdata(x_np @ x.T), x_np @ x_np.T, rtol=1e-15)
    functions = [
        (lambda a: np.sum(a, axis=0), None), (lambda a: np.mean(a, keepdims=True), None),
        (lambda a: np.prod(a, 1), None), (lambda a: np.max(a, axis=1), None), (lambda a: np.min(a), None),
        (lambda a: np.amax(a, 0), None), (lambda a: np.transpose(a), None),
        (lambda a: np.reshape(a, (3, 2)), None), (lambda a: np.reshape(a, -1), None),
        (lambda a: np.concatenate([a, a], axis=1), None), (lambda a: np.stack([a, a]), None),
        (lambda a: np.where(a > 0.5, a, 0.0), None), (lambda a: np.dot(a, a.T), None),
        (lambda a: np.round(a), None), (lambda a: np.squeeze(np.expand_dims(a, 0)), None),
        (lambda a: np.ravel(a), None), (lambda a: np.clip(a, 0.3, 0.6), None),
    ]
    for function, _ in functions:
        result = function(x)
        assert isinstance(result, dlarray)
        np.testing.assert_allclose(extractdata(result), function(x_np), rtol=1e-15)
    assert np.shape(x) == (2, 3) and np.ndim(x) == 2 and np.size(x) == 6
