"""The machinery of the mpmath check of every elementwise op (test_numerics_mpmath.py and
tests/stress/ulp_table.py): input sweeps, the compiled graphs, ulp errors and how one
element is judged (see the test module's docstring); the references at 200 bits are in
mpmath_references.py."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import dlgrad.graph.ops  # noqa: F401  (registers every op)
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import OPS, apply

from codegen.compiled import run
from graph.support import Inputs

from reliability.mpmath_references import (  # noqa: F401  (re-exported for the checks)
    DTYPES, FORMAT, INF, MP, NAN, NOT_NUMERIC, REFERENCES, SKIP, mpf, real, unary)


# --- sweeps -----------------------------------------------------------------------------
TINY = (5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-45, 1e-40, 1.1754943508222875e-38, 1e-30)
LARGE = (1e10, 1e20, 3.4028234663852886e38, 1e100, 1e300, 1.7976931348623157e308, INF)
MODERATE = (1e-20, 1e-10, 1e-8, 1e-5, 1e-3, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5,
            10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 300.0, 1e3, 1e4)
BINARY = (0.0, 5e-324, 1e-310, 1e-40, 1e-8, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 1e4, 1e20, 1e200, 1e300)
POW_BASES = (0.0, 5e-324, 1e-40, 1e-8, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 1e4, 1e300)
POW_EXPONENTS = (0.0, 5e-324, 1e-8, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 100.0, 1e4, 1e20)


def _signed(values):
    values = [float(v) for v in values]
    return values + [-v for v in values]


def _log_uniform(seed, count, low=1e-6, high=1e4):
    rng = np.random.default_rng(seed)
    return list(np.exp(rng.uniform(np.log(low), np.log(high), count)))


def _in_dtype(values, dtype, finite=False):
    """The sweep as exact values of the dtype (rounded once, duplicates and NaN dropped, -0 kept)."""
    with np.errstate(over="ignore"):
        cast = np.asarray(values, dtype=np.float64).astype(dtype)
    seen, out = set(), []
    for v in cast.tolist():
        key = (v, math.copysign(1, v))
        if not math.isnan(v) and not (finite and math.isinf(v)) and key not in seen:
            seen.add(key)
            out.append(v)
    return np.asarray(out, dtype=dtype)


def sweep(name, dtype, dense=False):
    """The argument arrays for op `name` in `dtype` (binary ops: a grid of pairs)."""
    ref = REFERENCES[name]
    count = 2000 if dense else 48
    if ref.arity == 1:
        points = _signed((0.0,) + TINY + MODERATE + LARGE + tuple(ref.extra)
                         + tuple(_log_uniform(len(name), count)))
        return [_in_dtype(points, dtype)]
    if ref.sweep == "pow":
        bases = POW_BASES + (8.0, 0.25) + tuple(_log_uniform(1, 40 if dense else 4, 1e-3, 1e3))
        exponents = POW_EXPONENTS + (2.5, 4.0, 0.25) + tuple(_log_uniform(2, 40 if dense else 4, 1e-3, 50))
        a = _in_dtype(_signed(bases), dtype, finite=True)
        b = _in_dtype(_signed(exponents), dtype, finite=True)
    else:
        values = BINARY + tuple(_log_uniform(3, 30 if dense else 2, 1e-3, 1e3))
        a = b = _in_dtype(_signed(values), dtype, finite=True)
    grid_a, grid_b = np.meshgrid(a, b, indexing="ij")
    return [grid_a.ravel().copy(), grid_b.ravel().copy()]


def op_attrs(name, dtype):
    attrs = dict(REFERENCES[name].attrs)
    if attrs.get("dtype") == "other":
        attrs["dtype"] = "float32" if dtype == "float64" else "float64"
    return attrs


# --- graphs, compiled once per dtype --------------------------------------------------------
def differentiable(name):
    return OPS[name].differentiable and bool(REFERENCES[name].grads)


def build(names, dtype, dense=False):
    """(Inputs, {op: (first output index, arity, differentiable)}, outputs) for all ops."""
    inputs, layout, outputs = Inputs(), {}, []
    for name in names:
        nodes = [inputs.add(a, dtype) for a in sweep(name, dtype, dense)]
        out = apply(name, *nodes, **op_attrs(name, dtype))
        layout[name] = (len(outputs), len(nodes), differentiable(name))
        outputs.append(out)
        if differentiable(name):
            outputs += gradients(R.sum_(out), nodes)
    return inputs, layout, outputs


def results(names, dtype, backend, dense=False):
    """{op: (args, value, grads)} computed by the compiled C or the numpy reference interpreter."""
    inputs, layout, outputs = build(names, dtype, dense)
    if backend == "c":
        values = run(outputs, inputs)
    else:
        values = evaluate(outputs, inputs.arrays)
    out, position = {}, 0
    for name in names:
        first, n, diff = layout[name]
        args = inputs.arrays[position:position + n]
        position += n
        out[name] = (args, np.asarray(values[first]), [np.asarray(g) for g in values[first + 1:first + 1 + n]]
                     if diff else [])
    return out


# --- ulp errors -------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def limits(dtype):
    """(smallest normal, subnormal spacing, |x| from which rounding gives inf) of the dtype."""
    p, emin, emax = FORMAT[dtype]
    largest = MP.ldexp(2 - MP.ldexp(1, 1 - p), emax)
    return MP.ldexp(1, emin), MP.ldexp(1, emin - p + 1), largest + MP.ldexp(1, emax - p) / 2


def ulp(value, dtype):
    """The spacing of `dtype` at the exact value (the subnormal spacing below the normals)."""
    p, emin, _ = FORMAT[dtype]
    if value == 0:
        return limits(dtype)[1]
    _, e = MP.frexp(value)
    return MP.ldexp(1, max(e - 1, emin) - p + 1)


def expectation(want, dtype, gradient=False):
    """What one result must be: ("any",) | ("nan",) | ("exactly", float) | ("near", mpf, ulp, tiny)."""
    if isinstance(want, str):                                  # SKIP
        return ("any",)
    if isinstance(want, float):
        if math.isnan(want):
            return ("nan",)
        if math.isinf(want) or want == 0:
            return ("exactly", want)
        want = mpf(want)
    if MP.isnan(want):
        return ("nan",)
    tiny, _, overflow = limits(dtype)
    if MP.isinf(want) or abs(want) >= overflow:
        return ("exactly", INF if want > 0 else -INF)
    # gradients below the smallest normal number may come out as anything below it
    return ("near", want, ulp(want, dtype), tiny if gradient else None)


def judge(got, expected):
    """The error of one result in ulps (0 when exactly right), or a string saying what is wrong."""
    kind = expected[0]
    if kind == "any":
        return 0.0
    if kind == "nan":
        return 0.0 if math.isnan(got) else f"{got!r} where the value is undefined (NaN)"
    if kind == "exactly":
        want = expected[1]
        if got == want and (want != 0 or math.copysign(1, got) == math.copysign(1, want)):
            return 0.0
        return f"{got!r} instead of {want!r}"
    _, want, spacing, tiny = expected
    if not math.isfinite(got):
        return f"{got!r} where the value is {MP.nstr(want, 17)}"
    if tiny is not None and abs(want) < tiny and abs(got) < tiny:
        return 0.0
    return float(abs(mpf(got) - want) / spacing)


@dataclass(frozen=True)
class Exclusion:
    """Points of one check ("value", "d0", "d1") that the bounds do not cover, and why."""
    op: str
    check: str
    where: Callable          # (dtype, *args) -> bool
    reason: str
    name: str = ""


def _squares_leave_range(dtype, a, b):
    """a^2 + b^2 is not a finite normal number of the dtype (but a, b are not both 0)."""
    tiny, _, overflow = limits(dtype)
    s = mpf(a) ** 2 + mpf(b) ** 2
    return s != 0 and not tiny <= s < overflow


def _pow_base_subnormal(dtype, a, b):
    return a != 0 and abs(mpf(a)) < limits(dtype)[0]


def _quotient_subnormal(dtype, a, b):
    return b != 0 and 0 < abs(mpf(a) / mpf(b)) < limits(dtype)[0]


# Documented limits of an op's formula (docs/numerics.md): excluded from the bounds.
LIMITATIONS = [
    Exclusion("pow", "d0", _pow_base_subnormal,
              "d/da a^b for a subnormal base a: a^b / a and a^(b-1) overflow although b a^(b-1) "
              "may be finite (a = 1e-40, b = 1e-8 in float32: inf instead of 1e32)"),
    Exclusion("div", "d1", _quotient_subnormal,
              "d(a/b)/db = -(a/b)/b: a subnormal quotient a/b has lost digits before the second "
              "division (9 ulp at a = 1e-310, b = 0.05)"),
]

# Bugs whose fix is outside the op's module (a C helper or the kernel-body printer): excluded
# from the bounds, and checked by a strict xfail so that the fix is noticed.
KNOWN_BUGS: list = []   # none open: atan2's gradient, the last one, is scaled through hypot
EXCLUSIONS = LIMITATIONS + KNOWN_BUGS


@functools.lru_cache(maxsize=None)
def expectations(name, dtype, dense=False):
    """(args, {check: [(expectation, exclusions that apply)] per point}) of one op's sweep."""
    ref = REFERENCES[name]
    args = sweep(name, dtype, dense)
    out_dtype = op_attrs(name, dtype).get("dtype", dtype)
    checks = [("value", ref.value, out_dtype, False)]
    if differentiable(name):
        checks += [(f"d{k}", g, dtype, True) for k, g in enumerate(ref.grads)]
    points = [tuple(float(a[i]) for a in args) for i in range(args[0].size)]
    table = {}
    for what, reference, in_dtype, gradient in checks:
        mine = [e for e in EXCLUSIONS if e.op == name and e.check == what]
        table[what] = [(expectation(reference(*xs), in_dtype, gradient),
                        tuple(e for e in mine if e.where(dtype, *xs))) for xs in points]
    return args, table


@dataclass
class Worst:
    """The worst element of one check: error in ulps and where, and what is plainly wrong."""
    error: float = 0.0
    args: tuple = ()
    failures: list = field(default_factory=list)
    skipped: int = 0
    count: int = 0

    def add(self, error, args):
        self.count += 1
        if isinstance(error, str):
            self.failures.append((args, error))
        elif error > self.error or not self.args:
            self.error, self.args = error, args


def check(name, dtype, value, grads, dense=False, only=None):
    """{"value": Worst, "d0": Worst, ...} of one op's results against mpmath.

    Points of a limitation or known bug are skipped (counted); with `only` (one of them),
    just its points are checked.
    """
    args, table = expectations(name, dtype, dense)
    worst = {}
    for what, got in zip(table, [value, *grads]):
        w = worst[what] = Worst()
        for i, (expected, exclusions) in enumerate(table[what]):
            if only is not None and only not in exclusions:
                continue
            if only is None and exclusions:
                w.skipped += 1
                continue
            w.add(judge(float(got[i]), expected), tuple(float(a[i]) for a in args))
    return worst
