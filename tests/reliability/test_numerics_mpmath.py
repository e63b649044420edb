"""Every elementwise primitive against mpmath: values and gradients in ulps, at the extremes.

The ops come from the registry (kind elementwise); each needs an entry in REFERENCES (its
value and partial derivatives in mpmath at 200 bits, with the IEEE special values where the
mathematical value is infinite or undefined) or in NOT_NUMERIC with the reason it has none,
so a new op fails `test_every_elementwise_op_has_a_reference` until it is covered.

Inputs sweep the extremes: +-0, subnormals of both dtypes, the smallest normals, magnitudes
up to 1e300 and the largest double, +-inf, and each op's domain edges (log at 0 and just above,
log1p at -1, asin at +-1, sqrt at 0, division by +-0, pow with zero and negative bases...).
All ops of one dtype are compiled as one C program with many outputs (value and gradient of
sum(op(x)) for every op), built once per session; the numpy reference interpreter runs the same
graphs. docs/numerics.md has the conventions and the table from the denser sweep of
tests/stress/ulp_table.py, which reuses this module and mpmath_sweep.py beside it.

How an element is judged (`judge`):
- the expected value is NaN (undefined): the result must be NaN;
- the expected value is +-inf (a pole or an overflow of the correctly rounded value): the
  result must be that infinity;
- otherwise the result must be finite (never NaN) and within the op's bound in ulps of the
  expected value (ulps of the dtype at the exact value; in the subnormal range the subnormal
  spacing). Gradients whose exact value is below the smallest normal number may come out as
  any value of magnitude below it (the closed forms underflow early);
- an expected signed zero (odd functions at -0) must have that sign.
"""

import functools
import math

import numpy as np
import pytest

import dlgrad as dl
import dlgrad.graph.ops  # noqa: F401  (registers every op)
from dlgrad.graph.registry import ELEMENTWISE, OPS
from reliability.mpmath_sweep import (
    DTYPES, INF, KNOWN_BUGS, NOT_NUMERIC, REFERENCES, check, expectations, judge, mpf,
    results, sweep, ulp)


# --- the CI checks ----------------------------------------------------------------------
def elementwise_ops():
    return sorted(name for name, op in OPS.items() if op.kind == ELEMENTWISE)


CHECKED = [name for name in elementwise_ops() if name in REFERENCES]

# Allowed worst errors in ulps, {op: (value, gradient)} or {op: {dtype: (value, gradient)}}:
# the worst of tests/stress/ulp_table.py over both dtypes, the compiled C with and without
# glibc's vector math and the numpy reference (docs/numerics.md), rounded up to a whole ulp,
# plus one for the vector math variants of other CPUs. Correctly rounded operations get 0.5.
DEFAULT_BOUND = (1.0, 2.0)
BOUNDS = {
    "add": (0.5, 0.0), "sub": (0.5, 0.0), "mul": (0.5, 0.0), "div": (0.5, 3.0), "sqrt": (0.5, 3.0),
    "cast": (0.5, 0.0), "pow": (2.0, 5.0),
    "exp": (4.0, 4.0), "expm1": (4.0, 4.0), "log": (3.0, 2.0), "log1p": (3.0, 3.0),
    "sin": (4.0, 5.0), "cos": (5.0, 4.0), "tan": (4.0, 5.0),
    "sinh": (3.0, 3.0), "cosh": (3.0, 3.0), "tanh": (3.0, 5.0),
    "asin": (4.0, 3.0), "acos": (3.0, 3.0), "atan": (3.0, 3.0), "atan2": (3.0, 3.0),
    "sigmoid": (4.0, 5.0), "softplus": (4.0, 5.0),
    # erf' = 2/sqrt(pi) exp(-x^2): the rounding of x^2 costs up to x^2 ulps before erf'
    # underflows (|x| < 27.3 in float64, 10.1 in float32)
    "erf": {"float64": (5.0, 750.0), "float32": (5.0, 110.0)},
}


def bound(name, dtype):
    """(value, gradient) ulp bounds of op `name` (the same for the C and the numpy reference)."""
    if REFERENCES[name].exact:
        return (0.0, 0.0)
    entry = BOUNDS.get(name, DEFAULT_BOUND)
    return entry[dtype] if isinstance(entry, dict) else entry


@functools.lru_cache(maxsize=None)
def session_results(dtype, backend):
    return results(CHECKED, dtype, backend)


def problems(worst, name, dtype):
    value_bound, grad_bound = bound(name, dtype)
    lines = []
    for what, w in worst.items():
        limit = value_bound if what == "value" else grad_bound
        lines += [f"{name} {what} at {args}: {text}" for args, text in w.failures[:8]]
        if len(w.failures) > 8:
            lines.append(f"... {len(w.failures)} in all")
        if w.error > limit:
            lines.append(f"{name} {what}: {w.error:.3g} ulp > {limit} at {w.args}")
    return lines


def test_every_elementwise_op_has_a_reference():
    missing = [n for n in elementwise_ops() if n not in REFERENCES and n not in NOT_NUMERIC]
    assert not missing, f"elementwise ops with no mpmath reference (add them to REFERENCES): {missing}"
    assert not set(REFERENCES) - set(OPS), "references of ops that are not registered"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CHECKED)
def test_value_and_gradient_against_mpmath(backend, name, dtype):
    _, value, grads = session_results(dtype, backend)[name]
    worst = check(name, dtype, value, grads)
    found = problems(worst, name, dtype)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bug", [
    pytest.param(b, id=b.name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=b.reason))
    for b in KNOWN_BUGS])
def test_known_bug(backend, bug, dtype):
    _, value, grads = session_results(dtype, backend)[bug.op]
    worst = check(bug.op, dtype, value, grads, only=bug)
    if not worst[bug.check].count:
        raise LookupError(f"the sweep has no point of {bug.name}")
    found = problems(worst, bug.op, dtype)
    assert not found, "\n".join(found)


# Named points: the conventions at kinks (the numpy reference, the C and docs/numerics.md agree),
# and regressions of the bugs this sweep found. expected: the exact result, or None for "within
# the op's bound of mpmath".
NAMED_POINTS = [
    ("relu-kink", "relu", "d0", (0.0,), 0.0, "relu'(0) = 0"),
    ("relu-kink-neg0", "relu", "d0", (-0.0,), 0.0, "relu'(-0) = 0"),
    ("abs-kink", "abs", "d0", (0.0,), 0.0, "abs'(0) = 0"),
    ("abs-kink-neg0", "abs", "d0", (-0.0,), 0.0, "abs'(-0) = 0"),
    ("maximum-tie-a", "maximum", "d0", (1.5, 1.5), 0.5, "a tie of maximum gives each argument 1/2"),
    ("maximum-tie-b", "maximum", "d1", (1.5, 1.5), 0.5, "a tie of maximum gives each argument 1/2"),
    ("maximum-tie-signed-zeros", "maximum", "d0", (0.0, -0.0), 0.5, "+0 and -0 tie"),
    ("minimum-tie-a", "minimum", "d0", (-3.0, -3.0), 0.5, "a tie of minimum gives each argument 1/2"),
    ("minimum-tie-b", "minimum", "d1", (-3.0, -3.0), 0.5, "a tie of minimum gives each argument 1/2"),
    ("sqrt-grad-at-0", "sqrt", "d0", (0.0,), INF, "sqrt'(0) = inf, the limit from the right"),
    ("log-grad-at-0", "log", "d0", (0.0,), INF, "log'(0) = inf, the limit from the right"),
    ("pow-da-zero-exponent", "pow", "d0", (0.0, 0.0), 0.0, "d/da a^0 = 0 also at a = 0 (was NaN)"),
    ("pow-db-zero-base", "pow", "d1", (0.0, 2.0), 0.0, "d/db 0^b = 0 for b > 0 (was NaN)"),
    ("pow-da-huge-exponent-sign", "pow", "d0", (-1.0, 1e20), -1e20, "d/da (-1)^1e20 = -1e20 (was +1e20)"),
    ("pow-da-large-base", "pow", "d0", (1e300, 1e-8), None, "d/da at a = 1e300 (was 600 ulp off)"),
    ("sigmoid-grad-cancellation", "sigmoid", "d0", (37.0,), None, "sigmoid'(37) (s (1 - s) cancelled)"),
    ("sigmoid-grad-far", "sigmoid", "d0", (1e4,), 0.0, "sigmoid'(1e4) = 0, not NaN"),
    ("softplus-grad-far", "softplus", "d0", (-1e4,), 0.0, "softplus'(-1e4) = 0, not NaN"),
    ("tanh-grad-cancellation", "tanh", "d0", (20.0,), None, "tanh'(20) (1 - tanh^2 gave 0)"),
    ("tanh-grad-far", "tanh", "d0", (1e300,), 0.0, "tanh'(1e300) = 0, not NaN"),
    ("asin-grad-near-1", "asin", "d0", (1 - 1e-8,), None, "asin'(1 - 1e-8) (was 2e6 ulp off)"),
    ("acos-grad-near-1", "acos", "d0", (1 - 1e-8,), None, "acos'(1 - 1e-8) (was 2e6 ulp off)"),
    ("asinh-grad-far", "asinh", "d0", (1e200,), None, "asinh'(1e200) = 1e-200 (1/sqrt(1 + x^2) gives 0)"),
    ("acosh-grad-near-1", "acosh", "d0", (1 + 1e-8,), None, "acosh'(1 + 1e-8) (x^2 - 1 loses x's digits)"),
    ("acosh-grad-at-1", "acosh", "d0", (1.0,), INF, "acosh'(1) = inf"),
    ("atanh-grad-near-1", "atanh", "d0", (1 - 1e-8,), None, "atanh'(1 - 1e-8) (1 - x^2 loses x's digits)"),
    ("atanh-grad-at-1", "atanh", "d0", (1.0,), INF, "atanh'(1) = inf"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, what, xs, expected, label", [p[1:] for p in NAMED_POINTS],
                         ids=[p[0] for p in NAMED_POINTS])
def test_named_point(backend, name, what, xs, expected, label, dtype):
    args, table = expectations(name, dtype)
    with np.errstate(over="ignore"):
        point = tuple(float(np.asarray(x, dtype=dtype)) for x in xs)
    if any(math.isinf(x) for x in point):
        pytest.skip(f"{xs} is not finite in {dtype}")
    found = [i for i in range(args[0].size) if all(
        a[i] == x and math.copysign(1, a[i]) == math.copysign(1, x) for a, x in zip(args, point))]
    assert found, f"{point} is not in the sweep of {name}"
    _, value, grads = session_results(dtype, backend)[name]
    got = float(({"value": value} | {f"d{k}": g for k, g in enumerate(grads)})[what][found[0]])
    if expected is not None:
        assert got == float(np.asarray(expected, dtype=dtype)), f"{label}: got {got!r}"
    error = judge(got, table[what][found[0]][0])
    limit = bound(name, dtype)[0 if what == "value" else 1]
    assert not isinstance(error, str) and error <= limit, f"{label}: {error}"


@pytest.mark.parametrize("point", [(0.3, -1.7), (2.0, 0.5), (1e200, 3e199), (3e-170, -1e-170)])
def test_atan2_second_derivatives_against_mpmath(point):
    """The scaled first derivatives differentiate again without overflow (d/da, d/db of both)."""
    a, b = point

    def hessian(a, b):
        y = dl.sum(dl.atan2(a, b))
        ga, gb = dl.dlgradient(y, [a, b], EnableHigherDerivatives=True)
        return (*dl.dlgradient(dl.sum(ga), [a, b]), *dl.dlgradient(dl.sum(gb), [a, b]))
    got = [float(dl.extractdata(h)[0]) for h in dl.dlfeval(hessian, dl.dlarray(np.array([a])),
                                                                dl.dlarray(np.array([b])))]
    A, B = mpf(a), mpf(b)
    s = A * A + B * B
    want = [-2 * A * B / s ** 2, (A * A - B * B) / s ** 2, (A * A - B * B) / s ** 2, 2 * A * B / s ** 2]
    for g, w in zip(got, want):
        assert g == pytest.approx(float(w), rel=1e-13, abs=0.0)
