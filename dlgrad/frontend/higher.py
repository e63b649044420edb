"""dljacobian, dldivergence and dllaplacian: derivatives of u along one axis of x, per observation.

MATLAB's meaning with dlgrad's 0-based axes: `dim` is the operation axis of x (length N);
every other axis indexes independent observations, and u has x's shape except along
`dim`, where it has M components. For x of shape (N, B) and u of shape (M, B):

    dljacobian(u, x, 0)    shape (M, N, B)   J[i, j, b] = d u[i, b] / d x[j, b]
    dldivergence(u, x, 0)  shape (1, B)      sum_i d u[i, b] / d x[i, b]        (M == N)
    dllaplacian(u, x, 0)   shape (M, B)      sum_j d^2 u[i, b] / d x[j, b]^2

In general the Jacobian puts the (M, N) pair where `dim` was. A 0-d u stands for one
component with no observations (x 1-D): its Jacobian is the gradient, its Laplacian and
divergence are 0-d. The results are traced like dlgradient's, differentiable again unless
enable_higher_derivatives=False (MATLAB's EnableHigherDerivatives, default true here as
in MATLAB). Differentiation sums u over the observations, so u at one observation must
not depend on x at another: that is checked on the graph, with an error when it fails.

The rows of a Jacobian come from one reverse sweep over a batched copy of u's graph
(`graph.batching.batch`) when every op on the way has a batching rule, else from one sweep per row.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GradientError, ShapeError
from ..graph.autodiff import gradients
from ..graph.batching import batch
from ..graph.layout import mismatch
from ..graph.ops import elementwise as E
from ..graph.ops import movement as M
from ..graph.ops import reduce as R
from ..graph.registry import const
from .dlarray import dlarray, wrap_traced
from .gradient import reaches_input
from .trace import current

_OPTIONS = {"enable_higher_derivatives": "enable_higher_derivatives",
            "EnableHigherDerivatives": "enable_higher_derivatives"}


def dljacobian(u: dlarray, x: dlarray, dim: int, *pairs: Any, **options: Any) -> dlarray:
    """Jacobian of u with respect to x along operation axis `dim`, per observation.

    For x of shape (..., N, ...) with N at `dim` and u of shape (..., M, ...), the result has
    shape (..., M, N, ...): entry [..., i, j, ...] is d u[..., i, ...] / d x[..., j, ...] at
    the same observation. For a 1-D x and a vector u this is the plain Jacobian; the Jacobian
    of a gradient (dlgradient(..., enable_higher_derivatives=True)) is a Hessian.
    """
    higher, trace, u_node, x_node, d = _arguments("dljacobian", u, x, dim, pairs, options)
    scalar = u_node.ndim == 0
    if scalar:
        u_node = M.reshape(u_node, (1,) * x_node.ndim)
    rows = _rows(u_node, x_node, d)
    if scalar:
        result = M.reshape(rows, x_node.shape)
    else:
        axes = list(range(1, d + 1)) + [0] + list(range(d + 1, x_node.ndim + 1))
        result = M.permute(rows, axes)
    return _result(result, trace, higher)


def dldivergence(u: dlarray, x: dlarray, dim: int, *pairs: Any, **options: Any) -> dlarray:
    """Divergence sum_i d u_i / d x_i along operation axis `dim`, per observation.

    u must have x's shape; the result has x's shape with length 1 along `dim`.
    """
    higher, trace, u_node, x_node, d = _arguments("dldivergence", u, x, dim, pairs, options)
    if u_node.shape != x_node.shape and not (u_node.ndim == 0 and x_node.size == 1):
        raise ShapeError(f"dldivergence: u must have the shape of x {x_node.shape} (one component "
                         f"of u per component of x along dim={d}), got shape {u_node.shape}")
    result = _divergence(M.reshape(u_node, x_node.shape), x_node, d)
    return _result(M.reshape(result, u_node.shape if u_node.ndim == 0 else result.shape), trace, higher)


def dllaplacian(u: dlarray, x: dlarray, dim: int, *pairs: Any, **options: Any) -> dlarray:
    """Laplacian sum_j d^2 u / d x_j^2 along operation axis `dim`, per observation and component.

    u has x's shape except along `dim` (any number M of components); the result has u's shape.
    """
    higher, trace, u_node, x_node, d = _arguments("dllaplacian", u, x, dim, pairs, options)
    scalar = u_node.ndim == 0
    node = M.reshape(u_node, (1,) * x_node.ndim) if scalar else u_node
    count = node.shape[d]
    parts = []
    for i in range(count):
        component = node if count == 1 else M.slice_(node, _index(node.shape, d, i))
        (g,) = gradients(R.sum_(component), [x_node])
        parts.append(_divergence(g, x_node, d))
    result = parts[0] if count == 1 else _join(parts, d, node.shape)
    return _result(M.reshape(result, u_node.shape), trace, higher)


# --- graph building ---------------------------------------------------------------------


def _index(shape: tuple[int, ...], axis: int, i: int) -> tuple[tuple[int, int, int], ...]:
    return tuple((i, i + 1, 1) if k == axis else (0, n, 1) for k, n in enumerate(shape))


def _join(parts: list[Any], axis: int, shape: tuple[int, ...]) -> Any:
    """Parts of length 1 along `axis` joined into `shape` (a sum of pads)."""
    total = None
    for i, part in enumerate(parts):
        padded = M.pad(part, shape, _index(shape, axis, i))
        total = padded if total is None else E.add(total, padded)
    return total


def _one_hot(count: int, shape: tuple[int, ...], axis: int, dtype: str) -> Any:
    """eq(i, k) over (count, *shape[1:]), k running along `axis` (built from two small constants)."""
    rows = const(np.arange(count).reshape((count,) + (1,) * (len(shape) - 1)), dtype)
    cols = np.ones(len(shape), dtype=np.int64)
    cols[axis] = count
    return E.eq(rows, const(np.arange(count).reshape(tuple(cols)), dtype))


def _rows(u: Any, x: Any, d: int) -> Any:
    """(M, *x.shape): row i is the gradient of u's component i (along d) summed over observations."""
    count = u.shape[d]
    if count > 1:
        batched = batch([u], x, count)
        if batched is not None:
            big, (copies,) = batched
            seed = _one_hot(count, copies.shape, d + 1, copies.dtype)
            (rows,) = gradients(R.sum_(E.mul(copies, seed)), [big])
            return rows
    rows = []
    for i in range(count):
        component = u if count == 1 else M.slice_(u, _index(u.shape, d, i))
        (g,) = gradients(R.sum_(component), [x])
        rows.append(M.reshape(g, (1,) + x.shape))
    return rows[0] if count == 1 else _join(rows, 0, (count,) + x.shape)


def _divergence(u: Any, x: Any, d: int) -> Any:
    """sum_i d u_i / d x_i along d (u of x's shape): x's shape with length 1 at d."""
    rows = _rows(u, x, d)
    if x.shape[d] == 1:
        return M.reshape(rows, x.shape)
    diagonal = E.mul(rows, _one_hot(x.shape[d], rows.shape, d + 1, rows.dtype))
    kept = x.shape[:d] + (1,) + x.shape[d + 1:]
    return M.reshape(R.sum_(diagonal, (0, d + 1), keepdims=True), kept)


def _result(node: Any, trace: Any, higher: bool) -> dlarray:
    return wrap_traced(node if higher else E.stop_gradient(node), trace)


# --- arguments ---------------------------------------------------------------------------


def _arguments(name: str, u: dlarray, x: dlarray, dim: int, pairs: tuple[Any, ...],
               options: dict[str, Any]) -> tuple[bool, Any, Any, Any, int]:
    """(enable_higher_derivatives, trace, u node, x node, dim), or a clear error. Options come as
    keywords or as MATLAB name-value pairs."""
    if len(pairs) % 2:
        raise TypeError(f"{name}: name-value options come in pairs; {pairs[-1]!r} has no value")
    for key, value in zip(pairs[::2], pairs[1::2]):
        if not isinstance(key, str) or key in options:
            raise TypeError(f"{name}: option names are strings, each given once; got {key!r}")
        options = {**options, key: value}
    higher = True
    for key, value in options.items():
        if key not in _OPTIONS:
            raise TypeError(f"{name} got an unknown option {key!r}; valid options are "
                            f"{', '.join(_OPTIONS)}")
        higher = bool(value)
    trace = current()
    if trace is None:
        raise GradientError(f"{name} must be called inside a function evaluated by dlfeval "
                            f"(dlfeval(fn, x) with {name}(u, x, dim) in fn)")
    for label, value in (("u", u), ("x", x)):
        if not isinstance(value, dlarray) or value._node is None or value._trace is not trace:
            raise GradientError(
                f"{name}: {label} is not traced by this dlfeval: {label} must be an argument of the "
                "function dlfeval evaluates, or a value computed from one (x: the data to "
                "differentiate by; u: the output computed from it)")
    u_node, x_node = u._node, x._node
    if not reaches_input(u_node):
        raise GradientError(f"{name}: u is not traced: it depends on x only through values gradients do not "
                            "flow through (a gradient computed with EnableHigherDerivatives=false, or "
                            "the result of extractdata)")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int (the 0-based operation axis of x), got {dim!r}")
    if x_node.ndim == 0 or not -x_node.ndim <= dim < x_node.ndim:
        raise ShapeError(f"{name}: dim={dim} is out of range for x of shape {x_node.shape} "
                         f"({x_node.ndim} axes; dim is a 0-based axis of x)")
    d = int(dim) % x_node.ndim
    if u_node.ndim != 0:
        expected = ", ".join(map(str, x_node.shape[:d] + ("M",) + x_node.shape[d + 1:]))
        if u_node.ndim != x_node.ndim or any(a != b for k, (a, b) in enumerate(zip(u_node.shape, x_node.shape))
                                             if k != d):
            raise ShapeError(f"{name}: u must have x's shape except along dim={d}, that is "
                             f"({expected}) with any M, got u of shape {u_node.shape} for x of "
                             f"shape {x_node.shape}")
    reason = mismatch(u_node if u_node.ndim else M.reshape(u_node, (1,) * x_node.ndim), x_node, d)
    if reason is not None:
        raise GradientError(
            f"{name}: u depends on x across observations ({reason}). Every axis of x except "
            f"dim={d} holds independent observations, so u at one observation may depend only "
            "on x at the same observation; choose dim as the axis the derivatives are taken "
            "along, or compute u observation by observation")
    return higher, trace, u_node, x_node, d
