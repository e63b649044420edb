"""scan: a recurrence over the leading axis, traced once and compiled as one loop (never unrolled).

Inside dlfeval or an accelerated function the step is traced once on stand-ins for one
step's values; the loop's C and its compile time do not depend on the number of steps, and
its gradient is the reverse loop (backpropagation through time) over the carries stored on
the way forward (graph/ops/loop.py). Outside, the loop is traced and compiled the same way, once
per step function and signature (frontend/eager_loops.py); a step that cannot be traced (Python
control flow on its values) runs once per element in Python.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ShapeError
from ..graph.ops.loop import loop, make_body, placeholder, unpack
from ..graph.registry import const
from . import trace as tracing
from .dispatch import asdlarray, trace_of
from .dlarray import dlarray, to_data, wrap, wrap_traced
from .eager_loops import run_scan

Tree = Any   # a dlarray, or a tuple/list of them (None: nothing)


def _leaves(tree: Tree, what: str) -> tuple[list[Any], Callable[[list[Any]], Tree]]:
    """(the arrays of `tree`, a function rebuilding its structure from new arrays)."""
    if tree is None:
        return [], lambda values: None
    if isinstance(tree, (tuple, list)):
        kind = type(tree)
        for item in tree:
            if isinstance(item, (tuple, list)) or item is None:
                raise TypeError(f"scan: {what} must be an array or a flat tuple/list of arrays, got a "
                                f"nested {kind.__name__}")
        return list(tree), lambda values: kind(values)
    return [tree], lambda values: values[0]


def scan(step: Callable[[Tree, Tree], tuple[Tree, Tree]], init: Tree, xs: Tree = None, *,
         length: int | None = None, reverse: bool = False) -> tuple[Tree, Tree]:
    """(final carry, ys): carry = init; for t in range(T): carry, ys[t] = step(carry, xs[t]).

    `init` and `xs` are arrays or tuples/lists of arrays (xs: each with T along axis 0, or None
    with `length=T`); `step` returns the new carry, of the structure, shapes and dtypes of
    `init`, and y (arrays, a tuple/list of them, or None); ys stacks the ys along a new axis 0.
    With `reverse`, t runs from T-1 down to 0 and ys[t] still belongs to xs[t]. Data formats
    are not carried through (label the results with dlarray(..., fmt) where needed).
    """
    if not callable(step):
        raise TypeError(f"scan: step must be a function (carry, x) -> (carry, y), got {type(step).__name__}")
    carries, rebuild_carry = _leaves(init, "init")
    steps, rebuild_x = _leaves(xs, "xs")
    carries = [_array(c, f"init[{i}]" if isinstance(init, (tuple, list)) else "init") for i, c in enumerate(carries)]
    steps = [_array(x, f"xs[{i}]" if isinstance(xs, (tuple, list)) else "xs") for i, x in enumerate(steps)]
    for i, x in enumerate(steps):
        if x.ndim == 0:
            raise ShapeError(f"scan: xs[{i}] must have the steps along axis 0, got a 0-d array")
        if x._fmt is not None and x._fmt[0] != "T":   # a formatted sequence keeps T after C and B
            raise ShapeError(f"scan steps along axis 0, and xs[{i}] is formatted {x._fmt!r} (its axis 0 is "
                             f"{x._fmt[0]!r}, not 'T'): permute the steps to the front, e.g. "
                             f"dl.permute(dl.stripdims(X), ({x._fmt.index('T') if 'T' in x._fmt else 0}, ...))")
    lengths = {x.shape[0] for x in steps}
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ShapeError(f"scan: length must be a non-negative int, got {length!r}")
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ShapeError("scan: " + ("xs is None: give length=T" if not lengths else
                                     f"xs and length disagree on the number of steps: {sorted(lengths)}"))
    (T,) = lengths
    trace = trace_of([*carries, *steps]) or tracing.current()
    if trace is None:   # compiled once per step and signature, stepped in Python if it cannot be traced
        return run_scan(scan, step, rebuild_carry(carries), rebuild_x(steps), T, reverse,
                        lambda: _eager(step, carries, steps, T, reverse, rebuild_carry, rebuild_x))
    return _traced(step, trace, carries, steps, T, reverse, rebuild_carry, rebuild_x)


def _eager(step: Callable[..., Any], carries: list[Any], steps: list[Any], T: int, reverse: bool,
           rebuild_carry: Callable[[list[Any]], Tree], rebuild_x: Callable[[list[Any]], Tree]) -> tuple[Tree, Tree]:
    state: Tree = rebuild_carry(carries)
    ys: list[list[Any]] = []
    rebuild_y: Callable[[list[Any]], Tree] = _nothing
    shapes = None
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        state, y = _call(step, state, rebuild_x([x[t] for x in steps]))
        y_leaves, rebuild_y = _leaves(y, "the step's y")
        _check_carry(_leaves(state, "the step's carry")[0], carries)
        ys.append([asdlarray(v) for v in y_leaves])
        found = [(v.shape, v.dtype) for v in ys[-1]]
        if shapes is not None and found != shapes:
            raise ShapeError(f"scan: the step's y must be the same at every step; step {t} gave "
                             f"{found}, an earlier step {shapes}")
        shapes = found
    if reverse:
        ys.reverse()
    if not ys:   # no step: what one step would give, stacked zero times (as the compiled loop does)
        _, y = _call(step, rebuild_carry(carries), rebuild_x([np.zeros(x.shape[1:], x.dtype) for x in steps]))
        y_leaves, rebuild_y = _leaves(y, "the step's y")
        if y is None:
            return rebuild_carry(carries), None
        return rebuild_carry(carries), rebuild_y([wrap(np.zeros((0,) + asdlarray(v).shape, asdlarray(v).dtype))
                                                  for v in y_leaves])
    stacked = [wrap(np.stack([to_data(step_ys[k]) for step_ys in ys])) for k in range(len(ys[0]))]
    return state, rebuild_y(stacked)


def _array(value: Any, what: str) -> dlarray:
    """value as a dlarray, with an error naming `what` when it is not array data."""
    if isinstance(value, dict):
        raise TypeError(f"scan: {what} must be an array or a flat tuple/list of arrays, got a dict")
    try:
        return asdlarray(value)
    except TypeError as exc:
        raise TypeError(f"scan: {what} must be an array or a flat tuple/list of arrays: {exc}") from None


def _nothing(values: list[Any]) -> Tree:
    return None


def _call(step: Callable[..., Any], state: Tree, x: Tree) -> tuple[Tree, Tree]:
    result = step(state, x)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"scan: the step must return (carry, y), got {type(result).__name__}")
    return result


def _check_carry(new: list[Any], old: list[Any]) -> None:
    if len(new) != len(old):
        raise ShapeError(f"scan: the step returned {len(new)} carries for the {len(old)} of init")
    for i, (a, b) in enumerate(zip(new, old)):
        a = asdlarray(a)
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ShapeError(f"scan: the step must return carry {i} as init gave it, {b.dtype}"
                             f"{list(b.shape)}; it returned {a.dtype}{list(a.shape)}")


def _node(value: Any, trace: Any) -> Any:
    """The graph node standing for `value` in `trace` (an input it captures, or a constant)."""
    if isinstance(value, dlarray) and value._node is not None:
        return value._node
    node = trace.captures.node(value, trace) if trace.captures is not None else None
    if node is None:
        data = to_data(value)
        node = const(data, data.dtype.name)
    return node


def _traced(step: Callable[..., Any], trace: Any, carries: list[Any], steps: list[Any], T: int, reverse: bool,
            rebuild_carry: Callable[[list[Any]], Tree], rebuild_x: Callable[[list[Any]], Tree]) -> tuple[Tree, Tree]:
    init = [_node(c, trace) for c in carries]
    xs = [_node(x, trace) for x in steps]
    stand_ins = [placeholder(c.shape, c.dtype) for c in init] + [placeholder(x.shape[1:], x.dtype) for x in xs]
    proxies = [wrap_traced(p, trace) for p in stand_ins]
    new, y = _call(step, rebuild_carry(proxies[:len(init)]), rebuild_x(proxies[len(init):]))
    new_leaves, _ = _leaves(new, "the step's carry")
    _check_carry(new_leaves, carries)
    y_leaves, rebuild_y = _leaves(y, "the step's y")
    outputs = [_node(asdlarray(v), trace) for v in [*new_leaves, *y_leaves]]
    body, free = make_body(outputs, stand_ins, len(init))
    node = loop(init, xs, free, body, T, reverse)
    final, ys, _ = unpack(node)
    return (rebuild_carry([wrap_traced(c, trace) for c in final]),
            rebuild_y([wrap_traced(v, trace) for v in ys]) if y is not None else None)

