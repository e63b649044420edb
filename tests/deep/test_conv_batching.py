"""Batching rules of the convolution ops (graph/ops/conv.py, graph/batching.py): `size` copies of
conv, conv_transpose or conv_filter as one convolution, so dljacobian over a convolution takes one
reverse sweep for all its rows instead of one per row."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import conv as CV
from dlgrad.graph.registry import OPS, input_node

RNG = np.random.default_rng(17)
ATTRS = dict(stride=(2, 1), dilation=(1, 2), padding=((1, 0), (2, 1)), groups=2)
SIZE = 3
X_SHAPE, W_SHAPE = (7, 6, 4, 2), (3, 2, 2, 6)   # 4 channels, 6 filters, 2 groups


def _node(op, a, b):
    if op == "conv":
        return CV.conv(a, b, **ATTRS)
    if op == "conv_transpose":
        return CV.conv_transpose(a, b, size=X_SHAPE[:2], **ATTRS)
    return CV.conv_filter(a, b, kernel=W_SHAPE[:2], **ATTRS)


def _operand_shapes(op):
    y_shape = CV.conv(input_node(0, X_SHAPE, "float64"), input_node(1, W_SHAPE, "float64"), **ATTRS).shape
    return {"conv": (X_SHAPE, W_SHAPE), "conv_transpose": (y_shape, W_SHAPE), "conv_filter": (X_SHAPE, y_shape)}[op]


@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)], ids=["first", "second", "both"])
@pytest.mark.parametrize("op", ["conv", "conv_transpose", "conv_filter"])
def test_rule_gives_each_copy_its_own_convolution(op, batched):
    shapes = _operand_shapes(op)
    plain = [input_node(k, s, "float64") for k, s in enumerate(shapes)]
    node = _node(op, *plain)
    copies = [input_node(k, (SIZE,) + s if flag else s, "float64") for k, (s, flag) in enumerate(zip(shapes, batched))]
    rule = OPS[op].batch(node, copies, list(batched), SIZE)
    assert rule.shape == (SIZE,) + node.shape
    values = [RNG.standard_normal(c.shape) for c in copies]
    (got,) = evaluate([rule], values)
    attrs = dict(node.attrs)
    for s in range(SIZE):
        args = [v[s] if flag else v for v, flag in zip(values, batched)]
        np.testing.assert_allclose(got[s], OPS[op].numpy(*args, **attrs), rtol=1e-12, atol=1e-12)


W = RNG.standard_normal((3, 3, 2, 3))


def _net(x):
    """A 1-D x (the operation axis) through a 5x4x2 image, a 3x3 convolution and tanh, flattened."""
    image = dl.dlarray(dl.reshape(x, (5, 4, 2, 1)), "SSCB")
    return dl.reshape(dl.stripdims(dl.tanh(dl.dlconv(image, W, 0, Padding="same"))), (-1,))


def _jacobian_and_hessian(x):
    u = _net(x)
    loss = dl.sum(u * u)
    return dl.dljacobian(u, x, 0), dl.dljacobian(dl.dlgradient(loss, x, EnableHigherDerivatives=True), x, 0)


def test_dljacobian_over_a_convolution_is_one_batched_sweep():
    x = RNG.standard_normal(40)
    jacobian, hessian = (dl.extractdata(v) for v in dl.dlfeval(_jacobian_and_hessian, dl.dlarray(x)))
    eps = 1e-6

    def central(fn):   # column j: the central difference along coordinate j
        at = lambda z: dl.extractdata(dl.dlfeval(fn, dl.dlarray(z)))   # noqa: E731
        return np.stack([(at(x + eps * e) - at(x - eps * e)) / (2 * eps) for e in np.eye(40)], axis=1)

    numeric_j = central(_net)
    numeric_h = central(lambda v: dl.dlgradient(dl.sum(_net(v) ** 2), v))
    np.testing.assert_allclose(jacobian, numeric_j, atol=1e-7)
    np.testing.assert_allclose(hessian, numeric_h, atol=1e-6)
    # one sweep for all rows: a handful of conv, conv_transpose and conv_filter nodes (5), not
    # one or more per row of u and of the gradient (101 without the rules)
    assert dl.lower(_jacobian_and_hessian, dl.dlarray(x)).graph_text.count("= conv") < 12
