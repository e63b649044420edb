"""dlgradient and extractdata: what gradients are taken of, and what they do not flow through."""
from __future__ import annotations

from typing import Any

from ..errors import GradientError
from ..graph.autodiff import gradients
from ..graph.ops.elementwise import stop_gradient
from . import tree
from .dlarray import dlarray, wrap_traced
from .trace import check_usable, current, in_accelerated, in_eager_step

_OPTIONS = {"retain_data": "retain_data", "RetainData": "retain_data",
            "enable_higher_derivatives": "enable_higher_derivatives",
            "EnableHigherDerivatives": "enable_higher_derivatives"}


def _not_traced(what: str) -> GradientError:
    return GradientError(
        f"{what} is not traced by this dlfeval: dlgradient differentiates only dlarrays that are "
        "arguments of the function dlfeval evaluates, or values computed from them (a dlarray "
        "created inside the function, or one from another dlfeval, is not traced)")


def dlgradient(y: dlarray, *xs: Any, **options: Any) -> Any:
    """Gradients of scalar y with respect to each x (same shape and dtype; nested structures allowed).

    Options, as keywords or MATLAB name-value pairs after the x's (dlgradient(y, x,
    "EnableHigherDerivatives", True)): retain_data (accepted; graphs are static, so data are
    always retained) and enable_higher_derivatives: whether the gradients can be differentiated
    again. Its default is MATLAB's: true inside a function accelerated by dlaccelerate, false
    elsewhere; differentiating a gradient taken without it raises an error.
    """
    xs, options = _split_pairs(xs, options)
    settings = {"retain_data": False, "enable_higher_derivatives": in_accelerated()}
    for name, value in options.items():
        if name not in _OPTIONS:
            raise TypeError(f"dlgradient got an unknown option {name!r}; valid options are "
                            f"{', '.join(_OPTIONS)}")
        settings[_OPTIONS[name]] = bool(value)
    trace = current()
    if trace is None or in_eager_step():
        raise GradientError("dlgradient must be called inside a function evaluated by dlfeval "
                            "(dlfeval(fn, x) with dlgradient(y, x) in fn)")
    if not xs:
        raise TypeError("dlgradient(y, x1, ..., xk) needs at least one x to differentiate with respect to")
    if not isinstance(y, dlarray) or y._node is None or y._trace is not trace:
        raise _not_traced("the value to differentiate (y)")
    if y.size != 1:
        raise GradientError(f"Value to differentiate is non-scalar: y has shape {y.shape}; dlgradient "
                            "needs a scalar (sum it, or index one element)")
    if not reaches_input(y._node):
        raise GradientError(
            "dlgradient: the value to differentiate is not traced: y depends on the traced inputs only "
            "through values gradients do not flow through. A gradient computed with "
            "EnableHigherDerivatives=false cannot be differentiated again (pass "
            "enable_higher_derivatives=True, or 'EnableHigherDerivatives', true, to the dlgradient "
            "that computes it), and the result of extractdata is a constant.")
    structures, nodes = [], []
    for number, x in enumerate(xs, 1):
        leaves, treedef = tree.flatten(x)
        for leaf in leaves:
            if not isinstance(leaf, dlarray) or leaf._node is None or leaf._trace is not trace:
                where = f"argument {number + 1}" + ("" if treedef is tree.LEAF else " (a leaf of its structure)")
                raise _not_traced(f"dlgradient {where}")
            nodes.append(leaf._node)
        structures.append((treedef, len(leaves)))
    grads = gradients(y._node, nodes)
    if not settings["enable_higher_derivatives"]:
        grads = [stop_gradient(g) for g in grads]
    fmts = [leaf._fmt for x in xs for leaf in tree.flatten(x)[0]]
    grads = iter(_formatted(wrap_traced(g, trace), f) for g, f in zip(grads, fmts))
    results = tuple(tree.unflatten(treedef, [next(grads) for _ in range(count)])
                    for treedef, count in structures)
    return results[0] if len(results) == 1 else results


def _split_pairs(xs: tuple[Any, ...], options: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(xs, options) with MATLAB's trailing name-value pairs moved from xs into options."""
    for i, x in enumerate(xs):
        if isinstance(x, str):
            pairs = xs[i:]
            if len(pairs) % 2:
                raise TypeError(f"dlgradient: name-value options come in pairs; {pairs[-1]!r} has no value")
            for name, value in zip(pairs[::2], pairs[1::2]):
                if not isinstance(name, str) or name not in _OPTIONS:
                    raise TypeError(f"dlgradient got an unknown option {name!r}; valid options are "
                                    f"{', '.join(_OPTIONS)}")
                if name in options:
                    raise TypeError(f"dlgradient got the option {name!r} twice")
                options = {**options, name: value}
            return xs[:i], options
    return xs, options


def reaches_input(node: Any) -> bool:
    """Whether a path from node to a runtime input (or a scan step's carry or x, a placeholder
    while the step is traced) avoids stop_gradient (extractdata, and the gradients taken without
    EnableHigherDerivatives)."""
    seen, todo = {id(node)}, [node]
    while todo:
        n = todo.pop()
        if n.op in ("input", "placeholder"):
            return True
        if n.op == "stop_gradient":
            continue
        for i in n.inputs:
            if id(i) not in seen:
                seen.add(id(i))
                todo.append(i)
    return False


def _formatted(x: dlarray, fmt: str | None) -> dlarray:
    x._fmt = fmt  # a gradient has the data format of its variable
    return x


def extractdata(x: dlarray) -> Any:
    """The data of x: an ndarray outside dlfeval (a bool array for logical x); inside, a value that
    gradients do not flow through."""
    if not isinstance(x, dlarray):
        raise TypeError(f"extractdata needs a dlarray, got {type(x).__name__}")
    if x._node is None:
        return x._data.astype(bool) if x._logical else x._data
    check_usable(x._trace)
    y = wrap_traced(stop_gradient(x._node), x._trace)
    y._logical = x._logical
    return y
