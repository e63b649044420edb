"""sympy -> C for kernel bodies: dlgrad's helpers, cheap integer powers, float or double."""
from __future__ import annotations

from sympy.codegen.ast import float32, real
from sympy.printing.c import C99CodePrinter


class KernelPrinter(C99CodePrinter):
    """C99 printer for one dtype: float32 prints `sinf` and `1.0F` literals."""

    def __init__(self, dtype="float64"):
        settings = {"type_aliases": {real: float32}} if dtype == "float32" else {}
        settings["math_macros"] = {}   # M_PI and friends are not C99: print numbers instead
        super().__init__(settings)
        self.suffix = "f" if dtype == "float32" else ""

    def _print(self, expr, **kwargs):
        # dlgrad's own functions first: sympy would print e.g. `sign` with its own rule
        if getattr(type(expr), "c_name", None) is not None:
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    def _print_ComplexInfinity(self, expr):
        # sympy's exact algebra turns x/0 into zoo*x; INFINITY*x is IEEE's x/0 (NaN at x = 0)
        return "INFINITY"

    def _print_NumberSymbol(self, expr):
        import sympy
        return self._print(sympy.Float(expr.evalf(20), 20))

    _print_Pi = _print_Exp1 = _print_EulerGamma = _print_GoldenRatio = _print_NumberSymbol

    def _print_Function(self, expr):
        c_name = getattr(type(expr), "c_name", None)
        if type(expr).__name__ == "select":
            c, a, b = (self._print(arg) for arg in expr.args)
            return f"(({c}) != 0 ? ({a}) : ({b}))"
        if c_name is not None:
            args = ", ".join(self._print(arg) for arg in expr.args)
            return f"{c_name}{self.suffix}({args})"
        return super()._print_Function(expr)

    def _print_Float(self, flt):
        # sympy's own rule with the digits fixed: its Type.decimal_dig is computed symbolically
        # on each literal, about 10 ms apiece (most of a small program's compile)
        num = str(flt.evalf(9 if self.suffix else 17))
        if "e" not in num and "." not in num:
            num += ".0"
        parts = num.split("e")
        parts[0] = parts[0].rstrip("0")
        if parts[0].endswith("."):
            parts[0] += "0"
        return "e".join(parts) + ("F" if self.suffix else "")

    def _print_Integer(self, expr):
        # beyond 2^53 an integer literal may overflow C's integer types: print it as a float
        if abs(int(expr)) >= 2**53:
            import sympy
            return self._print(sympy.Float(expr, 17))
        return super()._print_Integer(expr)

    def _print_Pow(self, expr):
        base, exp = expr.args
        if exp.is_Integer and 2 <= abs(int(exp)) <= 4:
            product = "*".join([f"({self._print(base)})"] * abs(int(exp)))   # base always parenthesised
            return f"({product})" if exp > 0 else f"(1{self._one_suffix()}/({product}))"
        if exp == -1:
            return f"(1{self._one_suffix()}/({self._print(base)}))"
        return super()._print_Pow(expr)

    def _one_suffix(self):
        return ".0F" if self.suffix else ".0"
