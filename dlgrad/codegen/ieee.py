"""Kernel-body expressions that sympy cannot rewrite: one node per floating-point operation.

sympy's automatic evaluation is real algebra: x/x -> 1, x - x -> 0, 0*x -> 0, x + oo -> oo,
2*x - x -> x, log(0) -> zoo, exp(log(x)) -> x, sqrt(x)**2 -> x. None of these holds in IEEE
arithmetic at 0, Inf or NaN, so C printed from such expressions returns numbers numpy does
not. Kernel bodies are therefore built from the classes here: binary +, -, *, /, negation,
powers and math-function calls with no `eval`, so no constructor, `xreplace` or `cse` rebuild
changes them. `cse` still shares repeated subtrees (a value and its gradient), and the C
printed performs the graph's operations in the graph's order, which the C compiler keeps
(no -ffast-math).

Standard sympy still gives each op's scalar form and, by `sympy.diff`, its partial
derivatives, over fresh symbols where nothing can cancel; `template` converts that form once
per op into these classes, in the order sympy's printers evaluate it (the order of the
reference interpreter's lambdified derivatives). Folding an identity that IEEE arithmetic
satisfies (x*1, x - 0, -(-x)) is the graph rewriter's job.
"""
from __future__ import annotations

import functools
import math
import struct

import sympy as sp
from sympy.codegen.ast import real

from ..graph.node import postorder as graph_postorder
from ..graph.registry import OPS

ADD, MUL, UNARY, ATOM = 1, 2, 3, 4   # C precedence levels used for parenthesising


class IEEEExpr(sp.Expr):
    """One floating-point operation on its arguments, printed as C by `_ccode`."""
    is_commutative = True
    prec = ATOM

    def __new__(cls, *args):
        return sp.Expr.__new__(cls, *args)

    def _eval_evalf(self, prec):   # never fold numbers in sympy's precision
        return None


def precedence(expr):
    if isinstance(expr, (IEEEExpr, Literal)):
        return expr.prec
    if expr.is_Number:
        if expr.is_Rational and not expr.is_Integer:
            return ADD      # printed p.0/q.0: always parenthesised as an operand
        return UNARY if expr.is_negative else ATOM
    return ATOM             # symbols and function calls


def _operand(printer, expr, level):
    text = printer._print(expr)
    return f"({text})" if precedence(expr) < level else text


class _Binary(IEEEExpr):
    symbol = None

    def _ccode(self, printer, **_):
        a, b = self.args
        # left-associative C: the right operand is parenthesised at equal precedence, and a
        # negated right operand always (x - -y reads badly, x--y would not parse)
        right = self.prec + 1 if precedence(b) != UNARY else ATOM
        return f"{_operand(printer, a, self.prec)}{self.symbol}{_operand(printer, b, right)}"


class IEEEAdd(_Binary):
    symbol, prec = " + ", ADD


class IEEESub(_Binary):
    symbol, prec = " - ", ADD


class IEEEMul(_Binary):
    symbol, prec = "*", MUL


class IEEEDiv(_Binary):
    symbol, prec = "/", MUL


class IEEENeg(IEEEExpr):
    prec = UNARY

    def _ccode(self, printer, **_):
        return f"-{_operand(printer, self.args[0], ATOM)}"


def _one(printer):
    return printer._print(sp.Float(1.0))


class IEEESqrt(IEEEExpr):
    def _ccode(self, printer, **_):
        return f"sqrt{printer._get_func_suffix(real)}({printer._print(self.args[0])})"


class IEEEPow(IEEEExpr):
    """base**exponent. Integer exponents 2..4 print as products and -1..-4 as reciprocals of
    products, 0.5 as sqrt: what numpy's power does for 2, -1 and 0.5, and the same 0, Inf and
    NaN results as pow() for the others."""

    @property
    def prec(self):
        kind = self._kind()
        return MUL if kind in ("product", "reciprocal") else ATOM

    def _kind(self):
        e = self.args[1]
        if e.is_Number and e.is_finite:
            value = float(e)
            if value.is_integer() and 2 <= abs(value) <= 4:
                return "product" if value > 0 else "reciprocal"
            if value == -1:
                return "reciprocal"
            if value == 0.5:
                return "sqrt"
        return "pow"

    def _ccode(self, printer, **_):
        base, e = self.args
        kind = self._kind()
        if kind == "sqrt":
            return IEEESqrt(base)._ccode(printer)
        if kind == "pow":
            suffix = printer._get_func_suffix(real)
            return f"pow{suffix}({printer._print(base)}, {printer._print(e)})"
        factor = _operand(printer, base, ATOM)
        product = "*".join([factor] * int(abs(float(e))))
        if kind == "product":
            return product
        return f"{_one(printer)}/{product if abs(float(e)) == 1 else f'({product})'}"


class Call(IEEEExpr):
    """A C math function (exp, log, atan2, erf, log1p, ...) on IEEE arguments; one subclass per
    sympy function, printed by the printer's own rule for it (`expf` in float kernels)."""
    function = None

    def _ccode(self, printer, **_):
        return printer._print(self.function(*self.args, evaluate=False))


@functools.lru_cache(maxsize=None)
def _call_class(function):
    return type(f"ieee_{function.__name__}", (Call,), {"function": function})


def call(function, *args):
    return _call_class(function)(*args)


class Literal(sp.AtomicExpr):
    """-0.0, +-Inf and NaN as C literals (sympy has no signed zero and folds oo and nan)."""
    is_commutative = True

    def __new__(cls, value: float):
        obj = sp.AtomicExpr.__new__(cls)
        obj.value = float(value)
        return obj

    def _hashable_content(self):
        return (struct.pack("<d", self.value),)

    def __getnewargs__(self):
        return (self.value,)

    @property
    def prec(self):
        return UNARY if math.copysign(1.0, self.value) < 0 and not math.isnan(self.value) else ATOM

    def _sympystr(self, printer):
        return repr(self.value)

    def _ccode(self, printer, **_):
        if math.isnan(self.value):
            return "NAN"
        if math.isinf(self.value):
            return "INFINITY" if self.value > 0 else "-INFINITY"
        return f"-{printer._print(sp.Float(0.0))}"


def number(value: float):
    """A constant of a kernel body, always a floating literal (1/2 is integer division in C):
    a sympy Float when finite (printed exactly), else a Literal, as is -0.0."""
    if not math.isfinite(value) or (value == 0 and math.copysign(1.0, value) < 0):
        return Literal(value)
    return sp.Float(value)


# ---- standard sympy -> IEEE nodes -------------------------------------------------------------

def from_sympy(expr):
    """The IEEE tree evaluating `expr` (over symbols) as sympy's printers would print it."""
    if isinstance(expr, (IEEEExpr, Literal)) or expr.is_Symbol:
        return expr
    if expr is sp.S.ComplexInfinity:
        raise TypeError("no IEEE value for complex infinity (zoo)")
    if expr.is_Number or isinstance(expr, sp.NumberSymbol):
        return number(float(expr))   # as the lambdified reference: the double nearest, once
    if expr.is_Add:
        return _sum(expr.as_ordered_terms())
    if expr.is_Mul:
        return _product(expr)
    if expr.is_Pow:
        base, e = expr.args
        if e == sp.S.Half:
            return IEEESqrt(from_sympy(base))
        if e.is_Number and e.is_negative:
            return IEEEDiv(number(1.0), from_sympy(base ** -e))
        return IEEEPow(from_sympy(base), from_sympy(e))
    if isinstance(expr, sp.Function):
        args = [from_sympy(a) for a in expr.args]
        if getattr(type(expr), "c_name", None) is not None:   # dlgrad's own functions: no eval
            return expr.func(*args)
        return call(expr.func, *args)
    raise TypeError(f"no IEEE form for {type(expr).__name__}: {expr}")


def _sum(terms):
    # a positive term first: 1 - t rather than -t + 1 (the same number)
    terms = sorted(terms, key=lambda t: t.could_extract_minus_sign())
    first = terms[0]
    total = IEEENeg(from_sympy(-first)) if first.could_extract_minus_sign() else from_sympy(first)
    for term in terms[1:]:
        total = IEEESub(total, from_sympy(-term)) if term.could_extract_minus_sign() else IEEEAdd(total, from_sympy(term))
    return total


def _product(expr):
    coefficient, rest = expr.as_coeff_Mul()
    numerator, denominator = [], []
    for factor in sp.Mul.make_args(rest):
        if factor.is_Pow and factor.exp.is_Number and factor.exp.is_negative:
            denominator.append(from_sympy(factor.base ** -factor.exp))
        else:
            numerator.append(from_sympy(factor))
    if coefficient not in (1, -1):
        numerator.insert(0, number(abs(float(coefficient))))
    result = functools.reduce(IEEEMul, numerator) if numerator else number(1.0)
    if denominator:
        result = IEEEDiv(result, functools.reduce(IEEEMul, denominator))
    return IEEENeg(result) if coefficient.is_negative else result


@functools.lru_cache(maxsize=None)
def template(op: str, attrs: tuple, arity: int):
    """(IEEE tree, symbols) of elementwise op `op` applied to `arity` fresh symbols."""
    from ..graph import scalar as S
    symbols = sp.symbols(f"_x0:{arity}", real=True)
    return from_sympy(sp.sympify(OPS[op].scalar(S, *symbols, **dict(attrs)))), symbols


def apply(op: str, attrs: tuple, args):
    """Elementwise op `op` on argument expressions: its template with the arguments put in."""
    if op in _DIRECT:
        return _DIRECT[op](*args)
    expr, symbols = template(op, attrs, len(args))
    return expr.xreplace(dict(zip(symbols, args)))


@functools.lru_cache(maxsize=None)
def op_depth(op: str, attrs: tuple, arity: int):
    """How many levels applying elementwise op `op` adds to a body's nesting."""
    if op == "stop_gradient":
        return 0
    if op in _DIRECT:
        return 1
    return depth(template(op, attrs, arity)[0])


# ---- whole bodies, as DAGs: each distinct subexpression visited once, without recursion ----

def postorder(exprs):
    """Every distinct (by identity) subexpression of `exprs`, arguments before their users."""
    return graph_postorder(list(exprs), _arguments)


def _arguments(expr):
    return getattr(expr, "args", ())


def free_symbols(exprs):
    """The symbols `exprs` read (sympy's free_symbols walks a DAG as a tree: exponential)."""
    return {e for e in postorder(exprs) if getattr(e, "is_Symbol", False)}


def hoist(expr, invariant, declare):
    """expr with each largest compound part that reads symbols, all of them in `invariant`,
    replaced by declare(part) (a symbol computed before the loop), in printing order."""
    variant, reads = {}, {}
    for e in postorder([expr]):
        if e.is_Atom:
            reads[id(e)] = bool(e.is_Symbol)
            variant[id(e)] = reads[id(e)] and e not in invariant
        else:
            reads[id(e)] = any(reads[id(a)] for a in e.args)
            variant[id(e)] = any(variant[id(a)] for a in e.args)

    def settled(e):   # hoist(e) when found without looking inside e, else None
        if e.is_Atom:
            return e
        return declare(e) if reads[id(e)] and not variant[id(e)] else None
    result = settled(expr)
    stack = [(expr, [])] if result is None else []
    while stack:
        e, args = stack[-1]
        if len(args) < len(e.args):
            arg = e.args[len(args)]
            value = settled(arg)
            if value is None:
                stack.append((arg, []))
            else:
                args.append(value)
            continue
        stack.pop()
        result = e.func(*args)
        if stack:
            stack[-1][1].append(result)
    return result


def depth(expr):
    """Nesting depth of `expr` (0 for an atom)."""
    levels = {}
    for e in postorder([expr]):
        levels[id(e)] = 1 + max((levels[id(a)] for a in e.args), default=-1) if getattr(e, "args", ()) else 0
    return levels[id(expr)]


_DIRECT = {"add": IEEEAdd, "sub": IEEESub, "mul": IEEEMul, "div": IEEEDiv, "neg": IEEENeg, "pow": IEEEPow,
           "stop_gradient": lambda x: x}
