"""Elementwise ops: each is its numpy reference plus its sympy scalar form.

The adjoint of an elementwise op comes from its scalar form: the cotangent of input i
is g * partial_i(op)(inputs), where `partial` is itself an elementwise op whose scalar
is `sympy.diff` of the op's (so higher derivatives need nothing more). The arithmetic
ops spell their adjoints in graph ops instead, which keeps gradient graphs readable
and lets the graph rewriter simplify them.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import batching, layout
from ..registry import (ELEMENTWISE, OPS, Op, apply, broadcast_shapes, const, const_value, register,
                        result_dtype)
from . import reduce as R


def lift(x, like):
    """A Node for x: Python numbers become constants of like's dtype (numpy's weak scalars)."""
    if hasattr(x, "op"):
        return x
    return const(x, like.dtype)


def _infer(inputs, **attrs):
    return broadcast_shapes(*(i.shape for i in inputs)), result_dtype(inputs)


def fit(g, x):
    """Cotangent g reduced to x's shape (undoing broadcasting) and cast to x's dtype."""
    g = R.unbroadcast(g, x.shape)
    return cast(g, x.dtype) if g.dtype != x.dtype else g


def _partial_vjp(g, out, inputs, **attrs):
    of, wrt = attrs.get("of", out.op), attrs.get("wrt", ())
    return [fit(mul(g, partial(of, wrt + (i,), inputs)), x) for i, x in enumerate(inputs)]


def _derivative_vjp(g, out, inputs, **attrs):
    return [fit(mul(g, OPS[out.op].derivative(out, inputs[0])), inputs[0])]


def elementwise(name, numpy, scalar, vjp=None, differentiable=True, cost=20, derivative=None):
    """Register an elementwise op; without `vjp` its adjoint comes from `derivative` (unary ops: the
    derivative in terms of the output and the input) or else from `scalar` by sympy.diff."""
    if vjp is None and differentiable:
        vjp = _partial_vjp if derivative is None else _derivative_vjp
    return register(Op(name, ELEMENTWISE, _infer, numpy, vjp, scalar, differentiable, cost=cost,
                       batch=batching.broadcasting, layout=layout.broadcasting, derivative=derivative))


def _erf_np(x):
    x = np.asarray(x)
    return np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else float])(x)


def _compare_np(ufunc):
    return lambda a, b: ufunc(a, b).astype(np.result_type(a, b))


# name: (numpy, scalar(S, *symbols))
_UNARY = {
    "abs": (np.abs, lambda S, x: S.absolute(x)),
    "sqrt": (np.sqrt, lambda S, x: S.sqrt(x)),
    "exp": (np.exp, lambda S, x: S.exp(x)),
    "log": (np.log, lambda S, x: S.log(x)),
    "log1p": (np.log1p, lambda S, x: S.log1p(x)),
    "expm1": (np.expm1, lambda S, x: S.expm1(x)),
    "sin": (np.sin, lambda S, x: S.sin(x)),
    "cos": (np.cos, lambda S, x: S.cos(x)),
    "tan": (np.tan, lambda S, x: S.tan(x)),
    "sinh": (np.sinh, lambda S, x: S.sinh(x)),
    "cosh": (np.cosh, lambda S, x: S.cosh(x)),
    "tanh": (np.tanh, lambda S, x: S.tanh(x)),
    "asin": (np.arcsin, lambda S, x: S.asin(x)),
    "acos": (np.arccos, lambda S, x: S.acos(x)),
    "atan": (np.arctan, lambda S, x: S.atan(x)),
    "asinh": (np.arcsinh, lambda S, x: S.asinh(x)),
    "acosh": (np.arccosh, lambda S, x: S.acosh(x)),
    "atanh": (np.arctanh, lambda S, x: S.atanh(x)),
    "erf": (_erf_np, lambda S, x: S.erf(x)),
    "sigmoid": (lambda x: _scalar_module().sigmoid.numpy(x), lambda S, x: S.sigmoid(x)),
    "softplus": (lambda x: _scalar_module().softplus.numpy(x), lambda S, x: S.softplus(x)),
    "relu": (lambda x: np.maximum(x, np.zeros((), np.asarray(x).dtype)), lambda S, x: S.relu(x)),
}
_BINARY = {
    "atan2": (np.arctan2, lambda S, a, b: S.atan2(a, b)),
    "maximum": (np.maximum, lambda S, a, b: S.maximum(a, b)),
    "minimum": (np.minimum, lambda S, a, b: S.minimum(a, b)),
}
_NONDIFF = {
    "sign": (np.sign, lambda S, x: S.sign(x)),
    "floor": (np.floor, lambda S, x: S.floor(x)),
    "ceil": (np.ceil, lambda S, x: S.ceil(x)),
    "round": (np.round, lambda S, x: S.round_half_even(x)),
    "gt": (_compare_np(np.greater), lambda S, a, b: S.gt(a, b)),
    "ge": (_compare_np(np.greater_equal), lambda S, a, b: S.ge(a, b)),
    "lt": (_compare_np(np.less), lambda S, a, b: S.lt(a, b)),
    "le": (_compare_np(np.less_equal), lambda S, a, b: S.le(a, b)),
    "eq": (_compare_np(np.equal), lambda S, a, b: S.eq(a, b)),
    "ne": (_compare_np(np.not_equal), lambda S, a, b: S.ne(a, b)),
}


# rough flops of one element where it differs from the default 20 (a call of a libm function)
_COST = {"relu": 1, "abs": 1, "maximum": 1, "minimum": 1, "gt": 1, "ge": 1, "lt": 1, "le": 1,
         "eq": 1, "ne": 1, "sign": 1, "sqrt": 4, "floor": 2, "ceil": 2, "round": 2}


def _scalar_module():
    from .. import scalar
    return scalar


# derivatives that reuse the op's output y. Only exact rewrites of the scalar form's derivative
# qualify: tanh' = 1 - y^2 and expm1' = y + 1 cancel where |y| nears 1 (docs/numerics.md).
_FROM_OUTPUT = {
    "exp": lambda y, x: y,
    "sqrt": lambda y, x: div(0.5, y),                          # 1/(2 sqrt x), scaled exactly
    "sigmoid": lambda y, x: mul(y, unary("sigmoid", neg(x))),   # s(x) s(-x), as scalar.sigmoid
    # the inverse hyperbolics, in forms that neither overflow nor cancel: 1 + x^2 is x^2 beyond
    # |x| = 1e8 (and overflows past 1e154), x^2 - 1 and 1 - x^2 lose x's digits near +-1
    "asinh": lambda y, x: where(gt(unary("abs", x), 1e8), div(1.0, unary("abs", x)),
                                div(1.0, unary("sqrt", add(1.0, mul(x, x))))),
    "acosh": lambda y, x: div(1.0, mul(unary("sqrt", sub(x, 1.0)), unary("sqrt", add(x, 1.0)))),
    "atanh": lambda y, x: div(1.0, mul(sub(1.0, x), add(1.0, x))),
}

for _name, (_np, _scalar) in _UNARY.items():
    elementwise(_name, _np, _scalar, cost=_COST.get(_name, 20), derivative=_FROM_OUTPUT.get(_name))
for _name, (_np, _scalar) in _BINARY.items():
    elementwise(_name, _np, _scalar, cost=_COST.get(_name, 20))
for _name, (_np, _scalar) in _NONDIFF.items():
    elementwise(_name, _np, _scalar, differentiable=False, cost=_COST.get(_name, 20))

elementwise("add", np.add, lambda S, a, b: a + b,
            vjp=lambda g, out, inputs: [fit(g, x) for x in inputs], cost=1)
elementwise("sub", np.subtract, lambda S, a, b: a - b,
            vjp=lambda g, out, inputs: [fit(g, inputs[0]), fit(neg(g), inputs[1])], cost=1)
elementwise("mul", np.multiply, lambda S, a, b: a * b,
            vjp=lambda g, out, inputs: [fit(mul(g, inputs[1]), inputs[0]),
                                        fit(mul(g, inputs[0]), inputs[1])], cost=1)
elementwise("div", np.divide, lambda S, a, b: a / b,
            vjp=lambda g, out, inputs: [fit(div(g, inputs[1]), inputs[0]),
                                        fit(neg(div(mul(g, out), inputs[1])), inputs[1])], cost=4)
elementwise("neg", np.negative, lambda S, x: -x, vjp=lambda g, out, inputs: [neg(g)], cost=0)


def _pow_vjp(g, out, inputs):
    """d/da = b a^(b-1) and d/db = a^b log(a), with the limits IEEE arithmetic misses:

    - d/da is 0 where b = 0 (a^0 = 1 for every a; b a^(b-1) is 0*inf = NaN at a = 0);
    - d/db is 0 where a = 0 < b (b -> 0^b is 0 there; 0*log(0) is NaN);
    - for an exponent that is not a constant, d/da is b (a^b / a) wherever a^b is a normal
      number, or is not 0 and b - 1 would round: b - 1 costs |log a| ulps (500 at a = 1e300)
      and, for a < 0 and |b| >= 2^53, the sign (b - 1 rounds to the even b). The division
      is by 1 where the other form is taken, so higher derivatives meet no 0/0 there.
    A constant exponent keeps b a^(b-1) with b - 1 folded (x**3 -> 3 x**2), unmasked unless
    it has zeros.
    """
    a, b = inputs
    b_value = const_value(b)
    if b_value is not None:
        da = mul(b, power(a, const(b_value - 1, b.dtype)))
        if (b_value == 0).any():
            da = where(eq(b, 0), 0, da)
    else:
        size = unary("abs", out)
        normal = mul(lt(size, math.inf), ge(size, float(np.finfo(out.dtype).tiny)))
        rounds = mul(ge(unary("abs", b), 2.0 ** (np.finfo(b.dtype).nmant + 1)), ne(out, 0))
        quotient = maximum(normal, rounds)
        da = where(quotient, mul(b, div(out, where(quotient, a, 1))), mul(b, power(a, sub(b, 1))))
        da = where(eq(b, 0), 0, da)
    db = where(mul(eq(a, 0), gt(b, 0)), 0, partial("pow", (1,), inputs))
    return [fit(mul(g, da), a), fit(mul(g, db), b)]


elementwise("pow", np.power, lambda S, a, b: a ** b, vjp=_pow_vjp, cost=2)
elementwise("where", lambda c, a, b: np.where(np.asarray(c) != 0, a, b).astype(np.result_type(a, b)),
            lambda S, c, a, b: S.select(c, a, b),
            vjp=lambda g, out, inputs: [None, fit(where(inputs[0], g, 0), inputs[1]),
                                        fit(where(inputs[0], 0, g), inputs[2])], cost=1)


def _cast_infer(inputs, dtype):
    if dtype not in ("float64", "float32"):
        raise TypeError(f"cast: the target dtype must be float64 or float32, got {dtype!r}")
    return inputs[0].shape, dtype


def _cast_vjp(g, out, inputs, dtype):
    # an int64 argument read as numbers is differentiated as the float64 numbers it holds (its
    # uses as indices contribute nothing: graph/ops/take.py)
    return [cast(g, "float64" if inputs[0].dtype == "int64" else inputs[0].dtype)]


register(Op("cast", ELEMENTWISE, _cast_infer, lambda x, dtype: np.asarray(x, dtype=dtype),
            _cast_vjp,
            lambda S, x, dtype: S.float32_round(x) if dtype == "float32" else x, cost=0,
            batch=batching.broadcasting, layout=layout.broadcasting))


register(Op("stop_gradient", ELEMENTWISE, _infer, lambda x, **_: np.array(x), None, lambda S, x, **_: x,
            differentiable=False, cost=0, batch=batching.broadcasting, layout=layout.broadcasting))


def stop_gradient(x):
    """x, as a constant to any later differentiation."""
    return x if x.op in ("const", "stop_gradient") else apply("stop_gradient", x)


@functools.lru_cache(maxsize=None)
def partial_scalar(of: str, wrt: tuple, arity: int):
    """(expression, symbols) of d^k op / d x_wrt[0] ... d x_wrt[-1], by sympy.diff."""
    import sympy as sp
    S = _scalar_module()
    symbols = sp.symbols(f"x0:{arity}", real=True)
    expr = OPS[of].scalar(S, *symbols)
    for i in wrt:
        expr = sp.diff(expr, symbols[i])
    return expr, symbols


@functools.lru_cache(maxsize=None)
def _partial_numpy_fn(of, wrt, arity):
    expr, symbols = partial_scalar(of, wrt, arity)
    return _scalar_module().numpy_function(expr, symbols)


def _partial_numpy(*arrays, of, wrt):
    dtype = np.result_type(*arrays)
    value = _partial_numpy_fn(of, wrt, len(arrays))(*arrays)
    return np.broadcast_to(np.asarray(value, dtype=dtype), np.broadcast_shapes(*(np.shape(a) for a in arrays)))


register(Op("partial", ELEMENTWISE, lambda inputs, of, wrt: _infer(inputs), _partial_numpy,
            _partial_vjp,
            lambda S, *xs, of, wrt: _partial_expr(S, xs, of, wrt),
            batch=batching.broadcasting, layout=layout.broadcasting))


def _partial_expr(S, xs, of, wrt):
    expr, symbols = partial_scalar(of, wrt, len(xs))
    return expr.xreplace(dict(zip(symbols, xs)))


def partial(of, wrt, inputs):
    """Node for the partial derivative of elementwise op `of` w.r.t. the inputs in `wrt`."""
    return apply("partial", *inputs, of=of, wrt=tuple(sorted(wrt)))


# builders: Nodes or Python numbers in, Node out
def _binary(name):
    def build(a, b):
        if not hasattr(a, "op"):
            a = lift(a, b)
        return apply(name, a, lift(b, a))
    build.__name__ = name
    return build


add, sub, mul, div, power, atan2, maximum, minimum = map(
    _binary, ("add", "sub", "mul", "div", "pow", "atan2", "maximum", "minimum"))
gt, ge, lt, le, eq, ne = map(_binary, ("gt", "ge", "lt", "le", "eq", "ne"))


def neg(x):
    return apply("neg", x)


def unary(name, x):
    return apply(name, x)


def cast(x, dtype):
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def where(c, a, b):
    like = c if not (hasattr(a, "op") or hasattr(b, "op")) else (a if hasattr(a, "op") else b)
    a, b = lift(a, like), lift(b, like)
    return apply("where", c, a, b)
