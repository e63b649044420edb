"""Registry op cases whose arrays are given outright or built per family: random draws, cumprod at
zeros, sorts with ties, LU and pivoted-QR solves and SVDs (singular ones included), runtime-index takes and convolutions.
op_cases.py imports them into its table (BY_KIND, named_cases)."""
from __future__ import annotations

import numpy as np

from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import linalg as A
from dlgrad.graph.ops import pivoted as P
from dlgrad.graph.ops.loop import Body
from dlgrad.graph.ops import solve as L
from dlgrad.graph.ops import sort as S
from dlgrad.graph.ops.take import to_index
from dlgrad.graph.registry import input_node

from .op_cases import INF, NAN, Case, _magnitudes, rng_for


# cases whose arrays are given outright (exact zeros, ties, several inputs): op -> [(id, arrays, attrs, prep)]
_KEY = [True, False]   # finite differences move the values, not the sort key
_SQUARE = np.array([[0.0, 2.0, 1.0, -0.5], [1.5, 0.3, -1.0, 0.8], [-0.7, 1.1, 2.2, 0.4], [0.9, -1.3, 0.2, 1.7]])
_SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
_FACTORED = lambda a, b: (a, L.lu(a), b)   # noqa: E731
_QRP = lambda a, b: (a, P.qrp(a), b)   # noqa: E731
_TALL = np.array([[0.5, -1.2, 0.3], [1.1, 0.4, -0.7], [-0.6, 0.9, 1.3], [0.2, -0.3, 0.8], [1.4, 0.6, -0.2],
                  [-0.9, 1.0, 0.5]])
_WIDE = np.array([[0.4, -1.1, 0.7, 0.2, 1.3], [1.2, 0.3, -0.5, 0.9, -0.4], [-0.8, 0.6, 1.0, -1.2, 0.1]])
_DEFICIENT = _TALL * np.array([1.0, 1.0, 0.0]) + np.outer(_TALL[:, 0] * 2 + _TALL[:, 1] * 0.5, [0.0, 0.0, 1.0])
_TIES = np.array([[3.0, 1.0, 2.0, NAN, 1.0], [0.0, -0.0, 5.0, 5.0, -1.0], [NAN, NAN, 1.0, INF, -INF],
                  [9.0, 8.0, 8.0, 6.0, 5.0]])
_ZEROS = np.array([[0.9, 0.0, 1.3, -0.7, 0.0, 1.1], [1.2, -0.8, 0.0, 1.4, 0.6, 0.0], [0.0, 0.0, 1.5, -1.1, 0.7, 0.9]])
_KEY_INDEX = lambda k: to_index(k, "key", 2 ** 31)  # noqa: E731
_KEYS = np.array([7.0, 3.0])   # (seed, counter): the key of a random draw, an int64 input


def _rnn_body():
    """An RNN step h' = tanh(W x + R h) giving y = 2 h' (one carry, one sequence, two consts)."""
    h, x, W, R = (input_node(i, s, "float64") for i, s in enumerate([(3, 2), (4, 2), (3, 4), (3, 3)]))
    new = E.unary("tanh", E.add(A.matmul(W, x), A.matmul(R, h)))
    return Body([new, E.mul(new, 2.0)], [(n.shape, n.dtype) for n in (h, x, W, R)], (1, 1, 2))


def _two_carries():
    """A step with two carries, no sequence and no y: (a, b) -> (a*b + c, sin(a))."""
    a, b, c = (input_node(i, (2,), "float64") for i in range(3))
    return Body([E.add(E.mul(a, b), c), E.unary("sin", a)], [((2,), "float64")] * 3, (2, 0, 1))


_F64 = lambda *nodes: tuple(E.cast(n, "float64") for n in nodes)   # noqa: E731  (the bodies are float64)

EXPLICIT = {
    # random draws (graph/ops/random.py): the key read at run time, two sizes and offsets, both dtypes
    "random_uniform": [("5x7,f64,offset=3", [_KEYS], {"shape": (5, 7), "dtype": "float64", "offset": 3}, _KEY_INDEX),
                       ("1000,f32", [_KEYS], {"shape": (1000,), "dtype": "float32", "offset": 0}, _KEY_INDEX)],
    "random_normal": [("5x7,f64,offset=3", [_KEYS], {"shape": (5, 7), "dtype": "float64", "offset": 3}, _KEY_INDEX),
                      ("1000,f32", [_KEYS], {"shape": (1000,), "dtype": "float32", "offset": 0}, _KEY_INDEX)],
    # zeros along the axis (first, later, twice): the gradient's exact form at zeros
    # a loop over time (scan): forwards, in reverse, and carries without a sequence
    "loop": [("rnn(T=5)", [_magnitudes(rng_for(f"loop{i}"), s) for i, s in enumerate([(3, 2), (5, 4, 2), (3, 4),
                                                                                      (3, 3)])],
              {"body": _rnn_body(), "length": 5, "reverse": False, "keep": (True,)}, _F64),
             ("rnn(T=4),reverse", [_magnitudes(rng_for(f"loopr{i}"), s) for i, s in enumerate([(3, 2), (4, 4, 2),
                                                                                              (3, 4), (3, 3)])],
              {"body": _rnn_body(), "length": 4, "reverse": True, "keep": (True,)}, _F64),
             ("rnn(T=3),keep none", [_magnitudes(rng_for(f"loopk{i}"), s) for i, s in enumerate([(3, 2), (3, 4, 2),
                                                                                               (3, 4), (3, 3)])],
              {"body": _rnn_body(), "length": 3, "reverse": False, "keep": (False,)}, _F64),
             ("two carries(T=3)", [_magnitudes(rng_for(f"loopc{i}"), (2,)) for i in range(3)],
              {"body": _two_carries(), "length": 3, "reverse": False, "keep": (True, False)}, _F64)],
    "cumprod": [("zeros(3x6),axis=1", [_ZEROS], {"axis": 1}, None),
                ("zeros(6x3),axis=0", [_ZEROS.T.copy()], {"axis": 0}, None)],
    # ties (0 and -0 among them) keep their order, NaN sorts last ascending and first descending
    "argsort": [("ties(4x5),axis=1", [_TIES], {"axis": 1, "descend": False}, None),
                ("ties(4x5),axis=0,descend", [_TIES], {"axis": 0, "descend": True}, None),
                ("ties(4x5),axis=1,descend", [_TIES], {"axis": 1, "descend": True}, None),
                ("exp(3x4x2),axis=1", [_magnitudes(rng_for("argsort3"), (3, 4, 2))],
                 {"axis": 1, "descend": False}, lambda a: E.unary("exp", a)),
                ("33", [_magnitudes(rng_for("argsort33"), (33,))], {"axis": 0, "descend": True}, None)],
    "permute_along": [("4x5,axis=1", [_magnitudes(rng_for("pa"), (4, 5)), _TIES], {"axis": 1},
                       lambda v, k: (v, S.argsort(k, 1, True)), _KEY),
                      ("T(5x4),axis=0", [_magnitudes(rng_for("pa0"), (5, 4)), _TIES], {"axis": 0},
                       lambda v, k: (M.permute(v, (1, 0)), S.argsort(k, 0)), _KEY)],
    "unpermute_along": [("4x5,axis=1", [_magnitudes(rng_for("ua"), (4, 5)), _TIES], {"axis": 1},
                         lambda v, k: (v, S.argsort(k, 1)), _KEY),
                        ("4x5,axis=0", [_magnitudes(rng_for("ua0"), (4, 5)), _TIES], {"axis": 0},
                         lambda v, k: (v, S.argsort(k, 0, True)), _KEY)],
    # pivoting (a zero leading entry), a batch, and a singular matrix (Inf/NaN, as MATLAB's \)
    "lu": [("4x4", [_SQUARE], {}, None), ("2x3x3", [_magnitudes(rng_for("lu2"), (2, 3, 3))], {}, None),
           ("singular", [_SINGULAR], {}, None)],
    # column pivoting (tall, wide, a batch), a rank-deficient matrix (a basic solution) and NaN
    "qrp": [("6x3", [_TALL], {}, None), ("3x5", [_WIDE], {}, None),
            ("2x4x2", [_magnitudes(rng_for("qrp2"), (2, 4, 2))], {}, None),
            ("rank 2", [_DEFICIENT], {}, None), ("NaN", [np.array([[1.0, NAN, 2.0]])], {}, None)],
    "qrp_solve": [("6x3\\6x2", [_TALL, _magnitudes(rng_for("qps"), (6, 2))], {}, _QRP),
                  ("3x5\\3x1", [_WIDE, _magnitudes(rng_for("qpw"), (3, 1))], {}, _QRP),
                  ("2x4x2\\2x4x1", [_magnitudes(rng_for("qps2"), (2, 4, 2)), _magnitudes(rng_for("qps2b"), (2, 4, 1))],
                   {}, _QRP),
                  ("rank 2\\6x2", [_DEFICIENT, _magnitudes(rng_for("qpd"), (6, 2))], {}, _QRP, [False, True]),
                  ("singular NaN\\1x1", [np.array([[1.0, NAN, 2.0]]), np.array([[1.0]])], {}, _QRP)],
    "qrp_gram": [("6x3,3x2", [_TALL, _magnitudes(rng_for("qpg"), (3, 2))], {}, _QRP),
                 ("3x5,5x2", [_WIDE, _magnitudes(rng_for("qpgw"), (5, 2))], {}, _QRP),
                 ("rank 2,3x1", [_DEFICIENT, _magnitudes(rng_for("qpgd"), (3, 1))], {}, _QRP, [False, True])],
    # the thin SVD: tall, square, a batch, and a zero column (a zero singular value: U completed)
    "svd": [("6x3", [_TALL], {}, None), ("4x4", [_SQUARE], {}, None),
            ("2x4x2", [_magnitudes(rng_for("svd2"), (2, 4, 2))], {}, None), ("5x1", [_TALL[:5, :1]], {}, None),
            ("singular zero column", [_TALL * np.array([1.0, 0.0, 1.0])], {}, None),
            ("singular NaN", [np.array([[1.0, NAN], [2.0, 3.0]])], {}, None)],
    "lu_solve": [("4x4\\4x2", [_SQUARE, _magnitudes(rng_for("ls"), (4, 2))], {"transpose": False}, _FACTORED),
                 ("T(4x4)\\4x1", [_SQUARE, _magnitudes(rng_for("lst"), (4, 1))], {"transpose": True}, _FACTORED),
                 ("2x3x3\\2x3x2", [_magnitudes(rng_for("ls2"), (2, 3, 3)) + 3 * np.eye(3),
                                    _magnitudes(rng_for("ls2b"), (2, 3, 2))], {"transpose": False}, _FACTORED),
                 ("singular\\3x1", [_SINGULAR, np.array([[1.0], [2.0], [3.0]])], {"transpose": False},
                  _FACTORED)],
}


# take ops read their indices from a float input of whole numbers (to_index): an index input
_TAKE = [  # (id, x shape, index values, attrs)
    ("5x7[:,2x3],axis=1", (5, 7), [[0, 6, 6], [2, 0, 3]], {"axis": 1, "along": False}),
    ("4x3x2[5],axis=0", (4, 3, 2), [3, 0, 3, 1, 1], {"axis": 0, "along": False}),
    ("6[0d]", (6,), 4, {"axis": 0, "along": False}),
    ("12x8[10],axis=0", (12, 8), [11, 0, 3, 3, 7, 1, 2, 11, 5, 6], {"axis": 0, "along": False}),  # prefetches rows
    ("3x4,along=1", (3, 4), [[0, 3, 3], [1, 1, 0], [2, 3, 1]], {"axis": 1, "along": True}),
    ("3x4,along=0", (3, 4), [[0, 2, 2, 1], [2, 2, 0, 1]], {"axis": 0, "along": True}),
]


def _take_prep(what):
    from dlgrad.graph.ops.take import to_index
    return lambda x, i: (x, to_index(i, what, 100))


def take_cases(name):
    cases = []
    for cid, shape, values, attrs in _TAKE:
        rng, values = rng_for(name + cid), np.asarray(values, dtype=float)
        probe = np.zeros(shape)
        taken = (np.take_along_axis(probe, values.astype(int), attrs["axis"]) if attrs["along"] else
                 np.take(probe, values.astype(int), attrs["axis"])).shape
        if name == "index_add":   # base, the values added (take's shape), the indices
            cases.append(Case(name, f"{name}[{cid}]", [_magnitudes(rng, shape), _magnitudes(rng, taken), values],
                              dict(attrs, what="indices"), prep=lambda b, g, i: (b, g, _take_prep("i")(b, i)[1]),
                              perturb=[True, True, False]))
            continue
        x_shape = shape
        if name == "take_add":   # the cotangent has the shape take gives
            attrs = dict(attrs, size=shape[attrs["axis"]])
            x_shape = taken
        cases.append(Case(name, f"{name}[{cid}]", [_magnitudes(rng, x_shape), values],
                          dict(attrs, what="indices"), prep=_take_prep("indices"), perturb=[True, False]))
    if name == "take":
        cases.append(Case("to_index", "to_index[2x3]", [np.array([[0.0, 5.0, 2.0], [7.0, 0.0, 1.0]])],
                          {"what": "indices", "high": 8}, grad=False))
    return cases


# --- convolutions (graph/ops/conv.py): (id, data shape, weights shape, attrs), the second operand
# of conv_transpose / conv_filter taking the shape conv's output has
CONV_SHAPES = [
    ("2d,pad,groups2", (5, 4, 4, 3), (3, 3, 2, 6), dict(stride=(1, 1), dilation=(1, 1), padding=((1, 1), (1, 1)),
                                                        groups=2)),
    ("2d,stride,dilation", (7, 6, 3, 17), (3, 2, 3, 9), dict(stride=(2, 3), dilation=(2, 1),
                                                             padding=((2, 0), (1, 3)), groups=1)),
    ("1d", (9, 2, 2), (4, 2, 3), dict(stride=(3,), dilation=(2,), padding=((3, 1),), groups=1)),
    ("3d,depthwise", (4, 3, 3, 2, 2), (2, 2, 2, 1, 4), dict(stride=(1, 2, 1), dilation=(1, 1, 2),
                                                            padding=((1, 0), (0, 1), (1, 1)), groups=2)),
]


def conv_cases(name):
    from dlgrad.graph.ops.conv import out_size
    cases = []
    for cid, xs, ws, attrs in CONV_SHAPES:
        d = len(xs) - 2
        out = tuple(out_size(n, k, s, dl, lo, hi) for n, k, s, dl, (lo, hi)
                    in zip(xs, ws, attrs["stride"], attrs["dilation"], attrs["padding"])) + (ws[-1], xs[-1])
        shapes, extra = {"conv": ((xs, ws), {}), "conv_transpose": ((out, ws), {"size": xs[:d]}),
                         "conv_filter": ((xs, out), {"kernel": ws[:d]})}[name]
        arrays = [_magnitudes(rng_for(name + cid + str(i)), s) for i, s in enumerate(shapes)]
        cases.append(Case(name, f"{name}[{cid}]", arrays, {**attrs, **extra}))
    return cases
