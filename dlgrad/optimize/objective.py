"""objective(fn, *static): fn compiled for scipy.optimize, value and gradient in one native call.

Each derivative scipy may ask for is its own accelerated function of the flat parameter vector
x: value and gradient together (`obj(x)`, for jac=True), the value alone (for methods without
derivatives), a Hessian-vector product (`obj.hessp`) and the Hessian (`obj.hess`). Inside
each, x is cut into fn's parameters (layout.py), so the gradient comes out as scipy's vector.
Arrays among the static arguments are runtime inputs of these functions (passed on each call,
never frozen); other static values are fixed when the objective is made. After its first call a
method is the compiled program's native dispatcher in raw mode (runtime/c/fastcall.c: scipy's
numpy arrays in, a float and arrays out, one C frame); without the native call path, or when fn
captures values checked on each call, it boxes x as a dlarray without copying and calls the
accelerated function (benchmarks/bench_scipy.py measures both against the compiled function).

A fn that draws random numbers (dl.rand, dropout) is evaluated with common random numbers: its
draws use one key fixed for the objective (sampling.py), passed to every compiled function, so
scipy sees one deterministic function, whose value, gradient and Hessian agree; `resample()`
takes a new key. Until fn is seen to draw, no key is passed (a draw during the first trace
raises NeedsKey, and the call is traced again with the key).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ShapeError
from ..frontend import dlaccelerate, dlgradient, reshape
from ..frontend import sum as dlsum
from ..frontend.dlarray import dlarray
from ..frontend.higher import dljacobian
from ..frontend.random import NeedsKey, common_key
from ..frontend.sources import WRAPS
from ..frontend.tree import flatten, unflatten
from .layout import F64, Layout
from .sampling import Sample

_new = object.__new__
OUTPUT, TUPLE, FLOAT = 0, 2, 4   # result templates of the native dispatcher (runtime/c/fastcall.c)


class Fixed:
    """The static arguments: their structure and non-array values (fixed), and their arrays as
    dlarrays (runtime inputs of every compiled function, in order)."""

    __slots__ = ("treedef", "leaves", "arrays")

    def __init__(self, static: tuple):
        leaves, self.treedef = flatten(static)
        self.leaves = [None if _is_array(leaf) else leaf for leaf in leaves]
        self.arrays = tuple(leaf if type(leaf) is dlarray else dlarray(leaf) for leaf in leaves if _is_array(leaf))

    def rebuild(self, arrays) -> tuple:
        """The static arguments with the (traced) arrays in place of the array leaves."""
        arrays = iter(arrays)
        return unflatten(self.treedef, [next(arrays) if leaf is None else leaf for leaf in self.leaves])


def _is_array(leaf) -> bool:
    return isinstance(leaf, (dlarray, np.ndarray))


def _label(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def evaluated(fn, layout, fixed, x, arrays):
    """fn at the parameters x stands for and the static arrays; arrays begin with the random key
    its draws use when the caller passes one (one more array than the static ones)."""
    layout.check(x)
    key = arrays[0] if len(arrays) > len(fixed.arrays) else None
    with common_key(key):
        return fn(layout.traced(x), *fixed.rebuild(arrays[1:] if key is not None else arrays))


def scalar_value(fn, layout, fixed, x, arrays):
    """fn at the parameters x stands for, checked to be a scalar dlarray computed from them."""
    y = evaluated(fn, layout, fixed, x, arrays)
    if not isinstance(y, dlarray):
        raise TypeError(f"{_label(fn)} must return a scalar dlarray (the value to minimize), "
                        f"got {type(y).__name__}")
    if y.size != 1:
        raise ShapeError(f"{_label(fn)} must return a scalar (the value to minimize), got a dlarray of "
                         f"shape {tuple(y.shape)}; sum it or index one element")
    if y.dtype != F64:
        raise TypeError(f"{_label(fn)} returned a {y.dtype} value; scipy.optimize works in float64")
    return reshape(y, ())


def vector_value(fn, layout, fixed, x, arrays):
    """fn at the parameters x stands for as a vector (a constraint's values)."""
    c = evaluated(fn, layout, fixed, x, arrays)
    if not isinstance(c, dlarray):
        raise TypeError(f"constraint {_label(fn)} must return a dlarray (its values), got {type(c).__name__}")
    return reshape(c, (-1,))


def programs(fn: Callable, layout: Layout, fixed: Fixed) -> dict:
    """The accelerated functions of x (and the static arrays) that scipy's callbacks run.

    What fn reads from its closure and globals is guarded as in any accelerated function (the
    WRAPS mark sends the search for captured values to fn); their own closure is fixed."""

    def value_and_gradient(x, *arrays):
        y = scalar_value(fn, layout, fixed, x, arrays)
        return y, dlgradient(y, x)

    def value(x, *arrays):
        return scalar_value(fn, layout, fixed, x, arrays)

    def hessian_vector(x, p, *arrays):
        if p.shape != (layout.size,) or p.dtype != F64:
            raise ShapeError(f"p: expected a float64 vector of length {layout.size} (a direction in the "
                             f"parameters), got a {p.dtype} array of shape {tuple(p.shape)}")
        g = dlgradient(scalar_value(fn, layout, fixed, x, arrays), x, enable_higher_derivatives=True)
        return dlgradient(dlsum(g * p), x)

    def hessian(x, *arrays):
        g = dlgradient(scalar_value(fn, layout, fixed, x, arrays), x, enable_higher_derivatives=True)
        return dljacobian(g, x, 0)

    def constraint(x, *arrays):
        return vector_value(fn, layout, fixed, x, arrays)

    def constraint_jacobian(x, *arrays):
        return dljacobian(vector_value(fn, layout, fixed, x, arrays), x, 0)

    def constraint_hessian(x, v, *arrays):   # sum_i v_i times the Hessian of c_i
        c = vector_value(fn, layout, fixed, x, arrays)
        g = dlgradient(dlsum(c * v), x, enable_higher_derivatives=True)
        return dljacobian(g, x, 0)

    made = {}
    for f in (value_and_gradient, value, hessian_vector, hessian, constraint, constraint_jacobian,
              constraint_hessian):
        made[f.__name__] = f
        f.__dict__[WRAPS] = fn   # what fn reads is guarded; this closure never changes
        f.__qualname__ = f"{_label(fn)} ({f.__name__.replace('_', ' ')})"
    return made


class Compiled:
    """fn's compiled functions of scipy's flat vector x, made on first use; a Layout fixes x's
    length (from `like`, or from the first call)."""

    def __init__(self, fn: Callable, static: tuple = (), like: Any = None):
        if not callable(fn):
            raise TypeError(f"expected a function of the parameters, got {type(fn).__name__}")
        self.fn = fn
        self.fixed = Fixed(tuple(static))
        self.layout = None if like is None else Layout.of(like, "like")
        self.sample = Sample()   # the key of fn's random draws (minimize shares it with the constraints)
        self.draws = False       # whether fn was seen to draw: then its functions take the key
        self._made: dict = {}

    @property
    def inputs(self) -> tuple:
        """The arrays every compiled function takes after x (and p): the key once fn draws, then
        the static arrays."""
        return (self.sample.key, *self.fixed.arrays) if self.draws else self.fixed.arrays

    def _call(self, kind: str, x, *more):
        """kind's accelerated function at x (boxed), `more` and the inputs; a fn found to draw
        during the trace gets its key and is traced again with it."""
        accelerated = self._get(kind, x)
        try:
            return accelerated(self.box(x), *more, *self.inputs)
        except NeedsKey:
            self.draws = True
            self.sample.first()
            return accelerated(self.box(x), *more, *self.inputs)

    def resample(self) -> None:
        """Draw fn's random numbers afresh: a new key from the global stream (dl.rng) for every
        later evaluation (a new sample; between solves, never inside one)."""
        self.sample.resample()

    @property
    def random_key(self) -> "tuple[int, int] | None":
        """The (seed, counter) key fn's draws use, or None until fn is seen to draw."""
        key = self.sample.key
        return None if key is None else (int(key[0]), int(key[1]))

    def _get(self, kind: str, x):
        accelerated = self._made.get(kind)
        if accelerated is None:
            if self.layout is None:
                self.layout = Layout(None, [(np.shape(x)[0] if np.ndim(x) == 1 else -1,)])
                if np.ndim(x) != 1:
                    self.layout = None
                    raise ShapeError(f"x: expected a float64 vector (as scipy.optimize passes the parameters), "
                                     f"got an array of shape {np.shape(x)}; pass like=... for parameters of "
                                     f"another shape or structure")
            if not self._made:
                self._all = programs(self.fn, self.layout, self.fixed)
            accelerated = self._made[kind] = dlaccelerate(self._all[kind])
        return accelerated

    def _native(self, kind: str, template: tuple, slow: Callable):
        """kind's compiled program as a raw-mode native dispatcher taking scipy's arrays (fastcall.c),
        with the static arrays bound; None where there is none (no native call path, or fn
        captures values that must be checked on each call). Other arguments go to slow."""
        accelerated = self._made[kind]
        call = accelerated.entries.get(accelerated.last)
        run = getattr(call, "run", None)
        if call is None or call.native is None or call.guards or not hasattr(run, "native"):
            return None
        arrays = tuple(a if type(a) is np.ndarray else a._data for a in self.inputs)
        nin, nout = len(run.program.inputs), len(run.program.outputs)
        dispatcher = run.native(np.ndarray, (), (None,) * nin, (None,) * nout, template, None, slow, accelerated)
        if dispatcher is None or not arrays:
            return dispatcher
        if nin - len(arrays) == 1:
            return lambda x: dispatcher(x, *arrays)
        return lambda x, p: dispatcher(x, p, *arrays)

    def _install(self, kind: str, template: tuple, slow: Callable, name: str = "") -> None:
        """Make self.<name> kind's raw native dispatcher after its first call (see _native), or
        `slow` (the path that boxes; it also takes the calls the dispatcher does not)."""
        name = name or kind
        if name not in self.__dict__:
            self.__dict__[name] = self._native(kind, template, slow) or slow

    def box(self, x: Any, what: str = "x") -> dlarray:
        """x as a dlarray sharing its data when it is a C-contiguous float64 array (as scipy passes it)."""
        if type(x) is not np.ndarray or x.dtype is not F64 or not x.flags.c_contiguous:
            x = _vector(x, what)
        b = _new(dlarray)
        b._data = x
        b._node = b._trace = b._fmt = b._origin = None
        b._logical = False
        return b


def _vector(x, what) -> np.ndarray:
    if isinstance(x, dlarray):
        x = x._data
    try:
        data = np.asarray(x)
    except Exception as exc:   # noqa: BLE001 - reported as a TypeError naming the argument
        raise TypeError(f"{what}: expected a float64 vector, got {type(x).__name__} ({exc})") from None
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a float64 vector, got an array of dtype {data.dtype}")
    return np.ascontiguousarray(data, dtype=F64)


class Objective(Compiled):
    """A compiled objective for scipy.optimize: obj(x) -> (value, gradient) in one native call,
    for minimize(obj, x0, jac=True); obj.hessp(x, p), obj.hess(x), obj.value(x), obj.gradient(x).

    x is scipy's flat float64 vector; `obj.x0(params)` flattens parameters of the objective's
    layout into it and `obj.params(x)` gives them back. Calling it runs its `__call__` slot (as
    SignatureCache does). After the first call of each method, where the native call path is
    available and fn captures no values, the method is the compiled program's native dispatcher
    in raw mode (fastcall.c: numpy arrays in, the results as scipy wants them, in one C frame);
    any other x (a list, another dtype or shape) falls back to the first path, which converts
    it or says what is wrong."""

    __slots__ = ("__call__",)

    def __init__(self, fn: Callable, static: tuple = (), like: Any = None):
        super().__init__(fn, static, like)
        self.__call__ = self._evaluate

    def _evaluate(self, x, *_) -> tuple[float, np.ndarray]:
        y, g = self._call("value_and_gradient", x)
        if self.__call__ == self._evaluate:
            self.__call__ = (self._native("value_and_gradient", (TUPLE, ((FLOAT, 0), (OUTPUT, 1))), self._evaluate)
                             or _value_and_gradient(self._made["value_and_gradient"], self.inputs, self.box))
        return float(y._data), g._data

    # value, hessp and hess: after the first call, the instance attribute of that name is the fast
    # path; these methods forward to it for callers that took the method before (scipy does)
    def value(self, x: Any) -> float:
        """fn's value at x (one native call, no gradient: for methods without derivatives)."""
        fast = self.__dict__.get("value")
        return fast(x) if fast is not None else self._value(x)

    def _value(self, x, *_) -> float:
        y = float(self._call("value", x)._data)
        self._install("value", (FLOAT, 0), self._value)
        return y

    def gradient(self, x: Any) -> np.ndarray:
        """The gradient at x (a flat float64 vector)."""
        return self(x)[1]

    def hessp(self, x: Any, p: Any) -> np.ndarray:
        """The Hessian at x times the vector p (forward of reverse, one native call)."""
        fast = self.__dict__.get("hessp")
        return fast(x, p) if fast is not None else self._hessp(x, p)

    def _hessp(self, x, p, *_) -> np.ndarray:
        result = self._call("hessian_vector", x, self.box(p, "p"))._data
        self._install("hessian_vector", (OUTPUT, 0), self._hessp, "hessp")
        return result

    def hess(self, x: Any) -> np.ndarray:
        """The Hessian at x, an (n, n) float64 array."""
        fast = self.__dict__.get("hess")
        return fast(x) if fast is not None else self._hess(x)

    def _hess(self, x, *_) -> np.ndarray:
        result = self._call("hessian", x)._data
        self._install("hessian", (OUTPUT, 0), self._hess, "hess")
        return result

    def x0(self, params: Any) -> np.ndarray:
        """params (an array, or the structure given as `like`) as scipy's flat float64 vector."""
        if self.layout is None:
            self.layout = Layout.of(params)
        return self.layout.vector(params)

    def params(self, x: Any) -> Any:
        """scipy's vector x as the parameters fn takes (numpy arrays in the structure of `like`)."""
        if self.layout is None:
            return np.array(x, F64)
        return self.layout.values(x)

    def __repr__(self):
        size = "?" if self.layout is None else self.layout.size
        return f"<dlgrad.optimize objective {_label(self.fn)} of {size} parameters>"


def _value_and_gradient(accelerated, arrays, box):
    """obj(x) after its first call: x boxed without a copy when scipy passes a float64 array
    (anything else through box, which converts or raises), one call, the results unboxed. A
    strided x is refused by the compiled call's own check (scipy always passes a contiguous one)."""
    ndarray, new, D = np.ndarray, _new, dlarray

    def call(x):
        if x.__class__ is ndarray and x.dtype is F64:
            b = new(D)
            b._data = x
            b._node = b._trace = b._fmt = b._origin = None
            b._logical = False
        else:
            b = box(x)
        y, g = accelerated(b, *arrays)
        return float(y._data), g._data

    def call_alone(x):   # the same without static arrays (no star-call)
        if x.__class__ is ndarray and x.dtype is F64:
            b = new(D)
            b._data = x
            b._node = b._trace = b._fmt = b._origin = None
            b._logical = False
        else:
            b = box(x)
        y, g = accelerated(b)
        return float(y._data), g._data
    return call if arrays else call_alone


def objective(fn: Callable, *static: Any, like: Any = None) -> Objective:
    """fn(params, *static) compiled for scipy.optimize.minimize(obj, x0, jac=True).

    `obj(x)` returns (value, gradient) from one native call; `obj.hessp(x, p)` and `obj.hess(x)`
    are compiled second derivatives. fn takes a dlarray of x's shape, or, with `like` (an array
    or a dict/list/tuple of arrays), parameters of that shape or structure cut from scipy's flat
    vector x (obj.x0(params) flattens them). `static` values are passed to fn after the
    parameters: arrays among them are inputs of the compiled functions, other values are fixed.
    A fn that draws random numbers sees one sample of them on every evaluation (common random
    numbers, from the global stream's key at its first draw); `obj.resample()` draws a new one.
    """
    return Objective(fn, static, like)
