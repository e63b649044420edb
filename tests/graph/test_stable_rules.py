"""The stable-form rules (graph/stable.py): each fires on its pattern, produces the stable form,
and eager and compiled evaluation agree on the extreme inputs where the naive form overflows."""
from __future__ import annotations

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import const, input_node
from dlgrad.graph.rewrite import RULES, simplify
from dlgrad.graph.stable import STABLE

X = np.array([[1000.0, -1000.0], [0.0, 0.0], [-5.0, 800.0]])


def x_node():
    return input_node(0, X.shape, "float64")


def _softmax(x):
    e = E.unary("exp", x)
    return E.div(e, R.sum_(e, (0,), keepdims=True))


# name: (graph builder, exact numpy reference)
CASES = {
    "log_of_exp": (lambda x: E.unary("log", E.unary("exp", x)), lambda v: v),
    "log_softmax": (lambda x: E.unary("log", _softmax(x)),
                    lambda v: v - (v.max(0) + np.log(np.exp(v - v.max(0)).sum(0)))),
    "log_sigmoid": (lambda x: E.unary("log", E.unary("sigmoid", x)), lambda v: -np.logaddexp(0, -v)),
    "log_one_minus_sigmoid": (lambda x: E.unary("log", E.sub(1.0, E.unary("sigmoid", x))),
                              lambda v: -np.logaddexp(0, v)),
    "log_of_clamped_probability": (
        lambda x: E.unary("log", E.maximum(E.unary("sigmoid", x), float(np.finfo(float).tiny))),
        lambda v: -np.logaddexp(0, -v)),
    "logsumexp": (lambda x: E.unary("log", R.sum_(E.unary("exp", x), (0,))),
                  lambda v: np.logaddexp.reduce(v, axis=0)),
    "log_one_plus": (lambda x: E.unary("log", E.add(1.0, E.mul(x, 1e-300))), lambda v: np.log1p(v * 1e-300)),
    "log_plus_one": (lambda x: E.unary("log", E.add(E.mul(x, 1e-300), 1.0)), lambda v: np.log1p(v * 1e-300)),
    "softplus": (lambda x: E.unary("log1p", E.unary("exp", x)), lambda v: np.logaddexp(0, v)),
    "expm1": (lambda x: E.sub(E.unary("exp", E.mul(x, 1e-300)), 1.0), lambda v: np.expm1(v * 1e-300)),
}


def test_every_stable_rule_has_a_case():
    assert {rule.name for rule in STABLE.rules} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires_and_is_exact_where_the_naive_form_fails(name):
    build, reference = CASES[name]
    x = x_node()
    naive = build(x)
    fired = []
    (stable,) = simplify([naive], fired=fired, rules=RULES)
    assert name in fired
    want = reference(X)
    got = evaluate([stable], [X])[0]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    with np.errstate(all="ignore"):
        naive_value = evaluate([naive], [X])[0]
    assert not np.allclose(naive_value, want, rtol=1e-12, atol=0, equal_nan=False), \
        "the case must be one where the naive form is wrong"


def test_stabilize_rewrites_only_new_nodes():
    x = x_node()
    fired = []
    assert simplify([E.unary("log", E.unary("exp", x))], fired=fired, rules=RULES)[0] is x and fired == ["log_of_exp"]


# eager (op by op through numpy) and compiled must agree on the extreme logits
Z = np.array([[1000.0, -1000.0], [0.0, 0.0], [-5.0, 800.0]])
T = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])


def _losses(z, t):
    return (dl.crossentropy(dl.softmax(z), t),
            dl.crossentropy(dl.sigmoid(z), t, ClassificationMode="multilabel"),
            dl.log(dl.sigmoid(z)), dl.log(dl.softmax(z)), dl.log(1 - dl.sigmoid(z)),
            dl.log(dl.sum(dl.exp(z), 0)), dl.log(dl.exp(z)))


def _exact():
    shifted = Z - Z.max(0)
    log_softmax = shifted - np.log(np.exp(shifted).sum(0))
    log_sig, log_1m = -np.logaddexp(0, -Z), -np.logaddexp(0, Z)
    return (-(T * log_softmax).sum() / 2, -(T * log_sig + (1 - T) * log_1m).sum() / 2,
            log_sig, log_softmax, log_1m, np.logaddexp.reduce(Z, axis=0), Z)


def test_eager_and_compiled_agree_and_are_exact():
    eager = _losses(dl.dlarray(Z, "CB"), dl.dlarray(T, "CB"))
    compiled = dl.dlfeval(_losses, dl.dlarray(Z, "CB"), dl.dlarray(T, "CB"))
    assert float(eager[0]) == pytest.approx(1400.0, rel=1e-12)
    for e, c, want in zip(eager, compiled, _exact()):
        e, c = dl.extractdata(e), dl.extractdata(c)
        assert np.all(np.isfinite(e)) and np.all(np.isfinite(c))
        np.testing.assert_allclose(e, want, rtol=1e-12, atol=0)
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=0)


def test_eager_history_is_bounded():
    x = dl.dlarray(np.array([0.5]))
    for _ in range(50):
        x = dl.exp(x * 0.01)
    depth, origin = 0, x._origin
    while origin is not None:
        depth += 1
        origin = next((a._origin for a in origin.args if getattr(a, "_origin", None) is not None), None)
    assert depth <= 4
    assert float(dl.log(x)[0]) == pytest.approx(np.log(dl.extractdata(x)[0]), rel=1e-14)
