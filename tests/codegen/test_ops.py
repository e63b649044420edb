"""Every registered op: numpy reference vs generated C (float64 and float32), edge values,
and its VJP (reference interpreter and C) against central finite differences.

The checks of one kind are compiled together as one C program with many outputs.
"""
from __future__ import annotations

import numpy as np
import pytest

from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import ELEMENTWISE, OPS, REDUCE, apply
from dlgrad.graph.rewrite import simplify
from dlgrad.graph.verify import verify
from graph.support import Inputs, assert_close, check_grads

from .compiled import run
from .op_cases import (CASES, EDGE_CASES, ELEMENTWISE_ATTRS, GRAD_CASES, arity, check_set, known_bug,
                       ops_under_test, rng_for)

DTYPES = ("float64", "float32")
F32_VJP = {c.id for c in GRAD_CASES if OPS[c.op].kind in (ELEMENTWISE, REDUCE)}


def params(check, cases, dtypes=(None,)):
    """pytest params of (case, dtype), known bugs marked as strict xfails."""
    result = []
    for case in cases:
        for dtype in dtypes:
            reason = known_bug(check, dtype, case)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            result.append(pytest.param(case, dtype, id=case.id + (f"-{dtype}" if dtype else ""), marks=marks))
    return result


def test_every_op_has_cases():
    covered = {c.op for c in CASES}
    missing = [name for name in ops_under_test() if name not in covered]
    assert not missing, f"no example arguments for {missing}: add them to op_cases.py"


def test_arity_comes_from_the_scalar_form():
    assert arity(OPS["sin"]) == 1 and arity(OPS["atan2"]) == 2 and arity(OPS["where"]) == 3
    for name, op in OPS.items():
        if op.kind == ELEMENTWISE and name not in ELEMENTWISE_ATTRS:
            assert 1 <= arity(op) <= 3, name


@pytest.mark.parametrize("case, dtype", params("values", CASES, DTYPES))
def test_values(case, dtype):
    checks = check_set("values", dtype)
    (got,), (want,) = checks.compiled(case.id), checks.reference(case.id)
    assert got.dtype == want.dtype and got.shape == want.shape
    # the interpreter is the op's numpy reference for a graph of one op
    if case.prep is None:
        direct = np.asarray(OPS[case.op].numpy(*[a.astype(dtype) for a in case.arrays], **case.attrs))
        assert direct.shape == checks.records[case.id][2].shape, "the shape rule disagrees with numpy"
        np.testing.assert_array_equal(direct.astype(want.dtype), want)
    assert_close(got, want, got.dtype.name, what=case.id)


@pytest.mark.parametrize("case, dtype", params("edges", EDGE_CASES, DTYPES))
def test_edge_values(case, dtype):
    """0, -0, +-inf and NaN give what numpy gives (NaN where numpy has NaN)."""
    checks = check_set("edges", dtype)
    (got,), (want,) = checks.compiled(case.id), checks.reference(case.id)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{case.id}: NaN positions")
    np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want),
                                  err_msg=f"{case.id}: infinities")
    finite = np.isfinite(want)
    assert_close(got[finite], want[finite], got.dtype.name, what=case.id)


@pytest.mark.parametrize("case, dtype", params("vjp", GRAD_CASES, ["float64"]))
def test_vjp(case, dtype):
    """C gradient graph == interpreted gradient graph, and both agree with finite differences."""
    checks = check_set("vjp", "float64")
    gradient_graph = checks.records[case.id][4]
    verify(gradient_graph)
    verify(simplify(gradient_graph))
    got, want = checks.compiled(case.id), checks.reference(case.id)
    for g, w in zip(got, want):
        assert_close(g, w, "float64", rtol=1e-11, what=case.id)
    if not case.fd:
        return
    _, nodes, out, u, _ = checks.records[case.id]
    u_value = checks.inputs.arrays[u.attr("index")]
    arrays = [checks.inputs.arrays[n.attr("index")] for n in nodes]
    for vjp in (want, got):
        check_grads(checks.forward(case.id), arrays, u_value, vjp, rng_for("v" + case.id),
                    perturb=case.perturb, what=case.id)


@pytest.mark.parametrize("case, dtype", params("vjp", [c for c in GRAD_CASES if c.id in F32_VJP], ["float32"]))
def test_vjp_float32(case, dtype):
    """The float32 gradient graph in C agrees with the interpreter's float32 gradient."""
    checks = check_set("vjp", "float32")
    got, want = checks.compiled(case.id), checks.reference(case.id)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        assert_close(g, w, "float32", rtol=2e-5, what=case.id)


def test_nondifferentiable_ops_are_constants_to_the_gradient():
    """d sum(x0 * f(x)) / dx = (f(x), 0, ...) for every op that is not differentiable."""
    inputs = Inputs()
    for name, op in OPS.items():
        if op.kind != ELEMENTWISE or op.differentiable or name in ELEMENTWISE_ATTRS:
            continue
        xs = [inputs.add(np.linspace(-2.0, 2.0, 7) * (i + 1)) for i in range(arity(op))]
        fx = apply(name, *xs)
        grads = gradients(R.sum_(E.mul(xs[0], fx)), xs)
        values = evaluate(grads + [fx], inputs.arrays)
        np.testing.assert_array_equal(values[0], values[-1], err_msg=name)
        for g in values[1:-1]:
            np.testing.assert_array_equal(g, 0.0, err_msg=name)


def test_derivative_conventions():
    """relu'(0) = 0, abs'(0) = 0, and ties of maximum/minimum/max/min share the gradient equally,
    in the interpreter and in C alike."""
    inputs = Inputs()
    x = inputs.add(np.array([-1.0, 0.0, 2.0]))
    a = inputs.add(np.array([1.0, 2.0, 3.0]))
    b = inputs.add(np.array([3.0, 2.0, 1.0]))
    ties = inputs.add(np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]]))
    checks = {
        "relu": (gradients(R.sum_(E.unary("relu", x)), [x]), [[0.0, 0.0, 1.0]]),
        "abs": (gradients(R.sum_(E.unary("abs", x)), [x]), [[-1.0, 0.0, 1.0]]),
        "maximum": (gradients(R.sum_(E.maximum(a, b)), [a, b]), [[0.0, 0.5, 1.0], [1.0, 0.5, 0.0]]),
        "minimum": (gradients(R.sum_(E.minimum(a, b)), [a, b]), [[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]]),
        "max": (gradients(R.reduce("max", ties), [ties]), [[[0, 0, 0, 0], [0.25] * 4]]),
        "max-rows": (gradients(R.sum_(R.reduce("max", ties, 1)), [ties]), [[[0, 0.5, 0.5, 0], [0.25] * 4]]),
        "min-columns": (gradients(R.sum_(R.reduce("min", ties, 0)), [ties]),
                        [[[1, 1, 1, 1], [0, 0, 0, 0]]]),
        "sign": (gradients(R.sum_(E.unary("sign", x)), [x]), [[0.0, 0.0, 0.0]]),
    }
    outputs = [g for grads, _ in checks.values() for g in grads]
    compiled = run(outputs, inputs)
    interpreted = evaluate(outputs, inputs.arrays)
    position = 0
    for name, (grads, wanted) in checks.items():
        for want in wanted:
            np.testing.assert_array_equal(interpreted[position], want, err_msg=f"{name} (interpreter)")
            np.testing.assert_array_equal(compiled[position], want, err_msg=f"{name} (C)")
            position += 1
