"""dlarray: float64/float32 numpy data outside dlfeval, a symbolic graph node inside it.

numpy semantics throughout: broadcasting, 0-based indexing, `*` elementwise, `@` matmul.
Every operation goes through `dispatch.apply`, which records a node when an operand is
traced and computes with the op's numpy reference otherwise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence

import numpy as np
import numpy.typing as npt

from .trace import control_flow_error, transfer_error

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
_DTYPES: dict[str, np.dtype[Any]] = {"float64": F64, "float32": F32,
                                   "int64": np.dtype(np.int64)}   # int64: traced index arguments

if TYPE_CHECKING:
    from .types import ArrayLike, Axis


def float_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """The dlarray dtype for numpy data of `dtype`: float32 stays, float64, bool and integers -> float64."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        return F64 if dtype.itemsize == 8 else F32
    if dtype.kind in "biu":
        return F64
    raise TypeError(f"dlarray data must be float64 or float32 (bool and integer data become float64), "
                    f"got data of dtype {dtype}")


def argument_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """The dtype a numpy array argument of dlfeval arrives in: integer arrays stay integers
    (int64, the index arrays of take/embed/indexcrossentropy), the rest as float_dtype says."""
    dtype = np.dtype(dtype)
    return np.dtype(np.int64) if dtype.kind in "iu" else float_dtype(dtype)


def column_major(data: npt.NDArray[Any]) -> bool:
    """Whether `data` is stored column-major (F-contiguous, MATLAB's memory layout) and not also
    row-major: a dlarray holds such data as it came, and compiled code reads it as the C array of
    its transpose."""
    return data.ndim > 1 and not data.flags.c_contiguous and data.flags.f_contiguous


def to_data(value: ArrayLike, copy: bool = False, what: str = "dlarray data") -> npt.NDArray[Any]:
    """`value` as a contiguous float64/float32 ndarray (copied if `copy`): F-contiguous data
    (numpy.asfortranarray, MATLAB's layout) stays F-contiguous, any other becomes C-contiguous.

    Masked arrays are refused: their mask would be dropped silently (MATLAB has none).
    """
    if isinstance(value, dlarray):
        if value._node is not None:
            value.__array__()   # raises the error that says a traced value cannot leave
        return value._data
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{what}: expected an array without a mask, got a numpy masked array (a dlarray "
                        f"cannot hold its mask); pass value.filled(fill) or value.compressed()")
    array = np.asarray(value)
    dtype = float_dtype(array.dtype)
    order: Literal["C", "F"] = "F" if column_major(array) else "C"
    if copy:
        return np.array(array, dtype=dtype, order=order, copy=True)
    return np.asarray(array, dtype=dtype, order=order)


class dlarray:
    """A deep-learning array (MATLAB's dlarray) holding float64 or float32 data.

    dlarray(x) copies x (a numpy array, list or number; bool and integer data become float64);
    dlarray(y) of a dlarray y shares y's data, which no operation changes: dlaccelerate's
    donation overwrites an array only where no other dlarray (or numpy view) can see it.
    dlarray(x, fmt) labels x's axes with the data format fmt (letters S, C, B, T, U; C, B
    and T at most once) and permutes them into the canonical order S..., C, B, T, U...

    Logical data (MATLAB's logical class: comparisons, isnan..., logical_and..., and
    dlarray(x) of a numpy bool array) is stored as 0/1 floats of a float dtype, with `_logical`
    set: islogical(x) is true, underlyingType(x) is "logical", and extractdata(x) and
    np.asarray(x) give a numpy bool array. Arithmetic on it gives numbers (true + true is 2).
    """

    __slots__ = ("_data", "_node", "_trace", "_fmt", "_origin", "_logical")
    __hash__ = None  # type: ignore[assignment]  # == is elementwise, as in numpy
    _data: Any
    _node: Any
    _trace: Any
    _fmt: Any   # the data format (str), or None
    _origin: Any
    _logical: bool   # holds MATLAB logical data (0/1 values); set by every constructor

    def __init__(self, data: ArrayLike, fmt: str | None = None) -> None:
        self._origin = None   # eager: how the value was made (frontend/eager.py)
        if isinstance(data, dlarray):
            self._data, self._node, self._trace, self._fmt = data._data, data._node, data._trace, data._fmt
            self._origin = data._origin
            self._logical = data._logical
        else:
            self._logical = _is_bool(data)
            self._data = to_data(data, copy=True)
            self._node = self._trace = self._fmt = None
        if fmt is not None:
            y = formats.labelled(self, fmt)
            self._data, self._node, self._trace, self._fmt = y._data, y._node, y._trace, y._fmt

    # --- what it is --------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape if self._node is None else self._node.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._data.dtype if self._node is None else _DTYPES[self._node.dtype]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return self._data.size if self._node is None else self._node.size

    @property
    def T(self) -> "dlarray":
        return functions.transpose(self)

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d dlarray")
        return shape[0]

    def __iter__(self) -> Iterator[dlarray]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        if self._node is not None:
            state = "traced" if self._trace.active else "traced by a finished dlfeval"
            fmt = f", fmt={self._fmt!r}" if self._fmt else ""
            return f"dlarray(<{state}>, shape={self._node.shape}, dtype={self._node.dtype}{fmt})"
        data = self._data.astype(bool) if self._logical else self._data   # logical data shows as bools
        text = "dl" + repr(data).replace("\n", "\n  ")
        return text[:-1] + f", fmt={self._fmt!r})" if self._fmt else text

    def __format__(self, spec: str) -> str:
        if self._node is None and spec:
            return format(self._data.item() if self._data.size == 1 else self._data, spec)
        return repr(self)

    # --- leaving the array world: only for untraced values -------------------------
    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> npt.NDArray[Any]:
        if self._node is not None:
            raise control_flow_error("numpy conversion (np.asarray, np.array, a numpy function "
                                     "without a dlgrad counterpart)")
        data = self._data
        if self._logical:   # logical data leaves as numpy bools
            if copy is False and np.dtype(dtype or bool) != data.dtype:
                raise ValueError("a logical dlarray's data becomes a bool array only by copying")
            return data.astype(dtype or bool)
        if dtype is not None and np.dtype(dtype) != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __bool__(self) -> bool:
        if self._node is not None:
            raise control_flow_error("bool() (an `if`, `while`, `and`/`or` or `not`)")
        return bool(self._data)

    def __float__(self) -> float:
        if self._node is not None:
            raise control_flow_error("float()")
        return float(self._data)

    def __int__(self) -> int:
        if self._node is not None:
            raise control_flow_error("int()")
        return int(self._data)

    def __index__(self) -> int:
        if self._node is not None:
            raise control_flow_error("use as an index (__index__)")
        raise TypeError("a dlarray holds floats and cannot be used as an index; "
                        "use int(x) for a scalar or a numpy integer array")

    # dlarrays are immutable: copies share the data (a new object, since donation changes the
    # donated dlarray itself); pickles hold the data
    def __copy__(self) -> dlarray:
        return rebox(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dlarray:
        return rebox(self)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._node is not None:
            raise transfer_error("pickling")
        if self._logical:
            return (_logical, (self._data, self._fmt))
        return (dlarray, (self._data,)) if self._fmt is None else (_relabel, (self._data, self._fmt))

    def __setitem__(self, key: Any, value: ArrayLike) -> None:
        """X[key] = v rebinds X to the updated value, as MATLAB's X(idx) = v (frontend/assignment.py)."""
        assignment.setitem(self, key, value)

    # --- arithmetic ----------------------------------------------------------------
    def __add__(self, other: ArrayLike) -> dlarray: return dispatch.apply("add", self, other)
    def __radd__(self, other: ArrayLike) -> dlarray: return dispatch.apply("add", other, self)
    def __sub__(self, other: ArrayLike) -> dlarray: return dispatch.apply("sub", self, other)
    def __rsub__(self, other: ArrayLike) -> dlarray: return dispatch.apply("sub", other, self)
    def __mul__(self, other: ArrayLike) -> dlarray: return dispatch.apply("mul", self, other)
    def __rmul__(self, other: ArrayLike) -> dlarray: return dispatch.apply("mul", other, self)
    def __truediv__(self, other: ArrayLike) -> dlarray: return dispatch.apply("div", self, other)
    def __rtruediv__(self, other: ArrayLike) -> dlarray: return dispatch.apply("div", other, self)
    def __pow__(self, other: ArrayLike) -> dlarray: return dispatch.apply("pow", self, other)
    def __rpow__(self, other: ArrayLike) -> dlarray: return dispatch.apply("pow", other, self)
    def __matmul__(self, other: ArrayLike) -> dlarray: return functions.matmul(self, other)
    def __rmatmul__(self, other: ArrayLike) -> dlarray: return functions.matmul(other, self)
    def __neg__(self) -> dlarray: return dispatch.apply("neg", self)
    def __pos__(self) -> dlarray: return numeric(self)   # +true is the number 1, as in MATLAB
    def __abs__(self) -> dlarray: return dispatch.apply("abs", self)

    def __round__(self, ndigits: int | None = None) -> dlarray:
        if ndigits not in (None, 0):
            raise TypeError("round() of a dlarray supports no ndigits (it rounds halves to even)")
        return dispatch.apply("round", self)

    # comparisons give logical dlarrays: 0/1 masks of the operands' float dtype (not differentiable)
    def __lt__(self, other: ArrayLike) -> dlarray: return dispatch.apply("lt", self, other)
    def __le__(self, other: ArrayLike) -> dlarray: return dispatch.apply("le", self, other)
    def __gt__(self, other: ArrayLike) -> dlarray: return dispatch.apply("gt", self, other)
    def __ge__(self, other: ArrayLike) -> dlarray: return dispatch.apply("ge", self, other)
    def __eq__(self, other: object) -> dlarray: return dispatch.apply("eq", self, other)  # type: ignore[override]
    def __ne__(self, other: object) -> dlarray: return dispatch.apply("ne", self, other)  # type: ignore[override]

    # ~, &, |, ^ on logical data are MATLAB's ~, &, |, xor (numpy's on bool arrays); numbers refuse them
    def __invert__(self) -> dlarray: return _logic_operator("~", logical_not, self)
    def __and__(self, other: ArrayLike) -> dlarray: return _logic_operator("&", logical_and, self, other)
    def __rand__(self, other: ArrayLike) -> dlarray: return _logic_operator("&", logical_and, other, self)
    def __or__(self, other: ArrayLike) -> dlarray: return _logic_operator("|", logical_or, self, other)
    def __ror__(self, other: ArrayLike) -> dlarray: return _logic_operator("|", logical_or, other, self)
    def __xor__(self, other: ArrayLike) -> dlarray: return _logic_operator("^", logical_xor, self, other)
    def __rxor__(self, other: ArrayLike) -> dlarray: return _logic_operator("^", logical_xor, other, self)

    def __getitem__(self, key: Any) -> dlarray:
        return indexing.getitem(self, key)

    # --- methods (numpy names, plus MATLAB's permute) --------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> dlarray: return functions.sum(self, axis, keepdims)
    def mean(self, axis: Axis = None, keepdims: bool = False) -> dlarray: return functions.mean(self, axis, keepdims)
    def prod(self, axis: Axis = None, keepdims: bool = False) -> dlarray: return functions.prod(self, axis, keepdims)
    def max(self, axis: Axis = None, keepdims: bool = False) -> dlarray: return functions.max(self, axis, keepdims)
    def min(self, axis: Axis = None, keepdims: bool = False) -> dlarray: return functions.min(self, axis, keepdims)

    def reshape(self, *shape: Any) -> dlarray:
        return functions.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> dlarray:
        return functions.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def permute(self, order: Sequence[int]) -> dlarray:
        return functions.permute(self, order)

    def astype(self, dtype: Any) -> dlarray:
        """numpy's astype for float64, float32 (numbers) and bool (logical data)."""
        return conversion.astype(self, dtype)

    # --- numpy's protocols -----------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return numpy_api.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return numpy_api.array_function(func, types, args, kwargs)


_new = object.__new__


def wrap(data: np.ndarray) -> dlarray:
    """An untraced dlarray around `data`, which must already be a C-contiguous float ndarray."""
    x = _new(dlarray)
    x._data = data
    x._node = x._trace = x._fmt = x._origin = None
    x._logical = False
    return x


def rebox(x: dlarray) -> dlarray:
    """A new dlarray object holding x's value (its data shared, not copied).

    What an operation that changes nothing returns instead of x itself: dlaccelerate's donation
    makes the donated dlarray object hold the new values, which must not reach other results.
    """
    y = _new(dlarray)
    y._data, y._node, y._trace, y._fmt = x._data, x._node, x._trace, x._fmt
    y._origin = getattr(x, "_origin", None)   # unset on dlarrays the native call path builds
    y._logical = x._logical
    return y


def numeric(x: dlarray) -> dlarray:
    """A new dlarray sharing x's value, as numbers (not logical)."""
    y = rebox(x)
    y._logical = False
    return y


def logical(x: dlarray) -> dlarray:
    """x (a new dlarray of an operation's result, 0/1 valued) marked as holding logical data."""
    x._logical = True
    return x


def _is_bool(data: Any) -> bool:
    """Whether `data` (what dlarray() was given) is logical: a numpy bool array or a Python/numpy bool."""
    if isinstance(data, (bool, np.bool_)):
        return True
    return getattr(data, "dtype", None) == np.bool_

def wrap_traced(node: Any, trace: Any) -> dlarray:
    """A traced dlarray standing for graph node `node` of `trace`."""
    x = _new(dlarray)
    x._data = x._fmt = x._origin = None
    x._logical = False
    x._node = node
    x._trace = trace
    return x


def _relabel(data: npt.NDArray[Any], fmt: str) -> dlarray:
    """Unpickle a formatted dlarray (its data already in canonical order)."""
    x = dlarray(data)
    x._fmt = fmt
    return x


def _logical(data: npt.NDArray[Any], fmt: str | None) -> dlarray:
    """Unpickle a logical dlarray (its float data kept, so its dtype is too)."""
    x = dlarray(data)
    x._fmt, x._logical = fmt, True
    return x


def islogical(x: object) -> bool:
    """MATLAB's islogical: True if x holds logical data (a logical dlarray, a numpy bool array, a bool)."""
    if isinstance(x, dlarray):
        return x._logical
    return _is_bool(x)


def isdlarray(x: object) -> bool:
    """True if x is a dlarray."""
    return isinstance(x, dlarray)


from . import assignment, dispatch, formats, functions, indexing, numpy_api  # noqa: E402  (they use the class above)
from .logical import logical_and, logical_not, logical_or, logical_xor  # noqa: E402
from .logical import operator as _logic_operator  # noqa: E402
from . import conversion  # noqa: E402
