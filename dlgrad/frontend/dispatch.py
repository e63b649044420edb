"""`apply`: the one code path of every dlarray operation, traced (record a node) or eager (numpy).

Both take the graph's stable forms (graph/stable.py): a traced node is stabilized as it is
built, an eager op on results that remember their origin is evaluated through the same rules
(frontend/eager.py).

Both paths run the op's shape/dtype rule first, so they accept the same arguments and
raise the same errors (eager elementwise ops on operands of one shape, or 0-d, skip only
the rule's broadcast check, which cannot fail for them). Python numbers are weak (numpy's rule): they take the dtype of
the arrays they meet, so float32 stays float32; float32 with float64 gives float64.
"""
from __future__ import annotations

import numpy as np

from ..graph.node import INDEX_DTYPE
from ..graph.ops.take import TAKE
from ..graph.registry import ELEMENTWISE, OPS, const, result_dtype
from ..graph.registry import apply as apply_node
from ..graph.stable import stabilize
from . import eager, formats
from . import trace as tracing
from .dlarray import F32, F64, column_major, dlarray, float_dtype, rebox, to_data, wrap, wrap_traced
from .trace import check_usable

_DTYPE = {"float64": F64, "float32": F32}


def is_weak(value) -> bool:
    """A Python number (not a numpy scalar, which is strong as in numpy 2)."""
    return isinstance(value, (int, float)) and not isinstance(value, np.generic)


def asdlarray(value) -> dlarray:
    """value as a dlarray: dlarrays as they are, anything array-like converted (without copying)."""
    if isinstance(value, dlarray):
        return value
    return wrap(to_data(value))


def trace_of(args):
    """The trace recording any traced dlarray among args, or None (checking it is usable now)."""
    trace = None
    for a in args:
        if isinstance(a, dlarray) and a._node is not None:
            if a._trace is not trace:
                check_usable(a._trace)
                trace = a._trace
    return trace


def strong_dtype(*args):
    """The numpy result dtype of the non-weak args (float64 if any is float64), or None if all are weak."""
    dtype = None
    for a in args:
        if is_weak(a):
            continue
        d = a.dtype if isinstance(a, dlarray) else float_dtype(np.asarray(a).dtype)
        if d == F64:
            return F64
        dtype = d
    return dtype


def operand_dtype(*args):
    """The dtype operands combine in: the numeric operands' (strong_dtype), a logical operand's
    float storage counting only when all are logical; None if all are weak."""
    numeric = [a for a in args if not (isinstance(a, dlarray) and a._logical or _is_bool(a))]
    return _float(strong_dtype(*numeric) or strong_dtype(*args))


def _float(dtype):
    """dtype, with an int64 index argument's counting as float64 (it is used as numbers)."""
    return dtype if dtype is None or dtype in (F64, F32) else F64


def apply(name: str, *args, **attrs) -> dlarray:
    """Apply registry op `name` to dlarrays, numpy arrays, lists or Python numbers."""
    logicals = [isinstance(a, dlarray) and a._logical or _is_bool(a) for a in args]
    flagged = any(logicals)
    if flagged and not all(logicals) and OPS[name].kind != TAKE:
        args = _numeric_dtype(args, logicals)
    trace = trace_of(args)
    if trace is None and tracing.capturing:
        trace = _capturing_trace(args)
    out = _eager(name, args, attrs) if trace is None else _traced(name, trace, args, attrs)
    if name in COMPARISONS or flagged and _keeps_logical(name, logicals):
        out._logical = True
    for a in args:
        if isinstance(a, dlarray) and a._fmt is not None:
            out._fmt = formats.propagate(name, args, attrs, out)
            break
    return out


# comparisons make logical data; ops that move, select or repeat elements keep it (their first
# operand's), and so do ops that pick one of their operands' values when all of those are logical
# (MATLAB: max(A, B) of two logicals is logical); every other op gives numbers, as MATLAB's
# arithmetic on logicals does
COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
MOVEMENT = frozenset({"reshape", "permute", "broadcast_to", "slice", "gather", "take", "pad", "scatter",
                      "permute_along"})
SELECTION = {"maximum": slice(None), "minimum": slice(None), "max": slice(None), "min": slice(None),
             "where": slice(1, None)}   # the operands whose values the result takes


def _keeps_logical(name, logicals) -> bool:
    if name in MOVEMENT:
        return logicals[0]
    picked = SELECTION.get(name)
    return picked is not None and all(logicals[picked])


def _is_bool(x) -> bool:
    return isinstance(x, (bool, np.bool_)) or isinstance(x, np.ndarray) and x.dtype == np.bool_


def _numeric_dtype(args, logicals):
    """args with logical arrays stored in another float dtype than the numeric operands cast to
    theirs: MATLAB's logical combined with single is single (0/1 converts exactly)."""
    dtype = _float(strong_dtype(*(a for a, flag in zip(args, logicals) if not flag)))
    if dtype is None:
        return args
    return tuple(cast(asdlarray(a), dtype) if flag and not is_weak(a) and _dtype(a) != dtype else a
                 for a, flag in zip(args, logicals))


def _dtype(x):
    return x.dtype if isinstance(x, dlarray) else float_dtype(np.asarray(x).dtype)


def _capturing_trace(args):
    """The running trace if an operand is an array it captures (read from outside it), else None:
    an operation on such an array inside dlfeval is recorded, with the array as an input."""
    trace = tracing.current()
    if trace is not None and trace.captures is not None:
        for a in args:
            if trace.captures.has(a):
                return trace
    return None


def _eager(name, args, attrs):
    values, weak, f64 = [], [], False
    for a in args:
        kind = type(a)
        if kind is float or kind is int or kind is bool or is_weak(a):
            weak.append(len(values))
            values.append(a)
            continue
        value = a._data if isinstance(a, dlarray) else to_data(a)
        f64 = f64 or value.dtype == F64
        values.append(value)
    if weak:
        scalar = (F64 if f64 or len(weak) == len(values) else F32).type
        for i in weak:
            values[i] = scalar(values[i])
    op = OPS[name]
    stable = eager.stable_value(name, args, attrs, dlarray, to_data) if name in eager.ROOTS else None
    shape = _common_shape(values) if op.kind == ELEMENTWISE and not attrs else None
    if shape is None:
        shape, dtype = op.infer(values, **attrs)
    else:
        dtype = result_dtype(values)
    dtype = _DTYPE.get(dtype, dtype)
    out = op.numpy(*values, **attrs) if stable is None else stable
    if type(out) is not np.ndarray or out.dtype != dtype:
        out = np.asarray(out, dtype=dtype)
    if out.shape != shape:
        out = out.reshape(shape)
    if not out.flags.c_contiguous and not (column_major(out) and any(
            type(v) is np.ndarray and column_major(v) for v in values)):
        out = np.ascontiguousarray(out)   # F results of F operands stay F (MATLAB's layout kept)
    result = wrap(out)
    if name in eager.INNER:
        eager.remember(result, name, args, attrs, dlarray, wrap)
    return result


def _common_shape(values):
    """The shape of values that are all 0-d or of one shape (broadcasting is trivial), else None."""
    shape = ()
    for v in values:
        s = v.shape
        if s != shape:
            if shape:
                if s:
                    return None
            else:
                shape = s
    return shape


def _traced(name, trace, args, attrs):
    nodes, weak, captures = [], False, trace.captures
    indexed = OPS[name].kind == TAKE
    for k, a in enumerate(args):
        if isinstance(a, dlarray) and a._node is not None:
            node = a._node
            if node.dtype == INDEX_DTYPE and not (indexed and k == 1):
                node = apply_node("cast", node, dtype="float64")   # an index argument used as numbers
            nodes.append(node)
        elif is_weak(a):
            nodes.append(a)
            weak = True
        else:   # an untraced array: an input if the trace captures it, else a constant
            node = captures.node(a, trace) if captures is not None else None
            if node is None:
                data = a._data if isinstance(a, dlarray) else to_data(a)
                node = const(data, data.dtype.name)
            nodes.append(node)
    if weak:
        strong = [n for n in nodes if not is_weak(n)]
        dtype = "float32" if strong and all(n.dtype == "float32" for n in strong) else "float64"
        nodes = [const(n, dtype) if is_weak(n) else n for n in nodes]
    return wrap_traced(stabilize(apply_node(name, *nodes, **attrs)), trace)


def cast(x: dlarray, dtype) -> dlarray:
    """x converted to float64 or float32 (differentiable)."""
    dtype = np.dtype(dtype)
    if dtype not in (F64, F32):
        raise TypeError(f"dlarray dtype must be float64 or float32, got {dtype}")
    x = asdlarray(x)
    return rebox(x) if x.dtype == dtype else apply("cast", x, dtype=dtype.name)
