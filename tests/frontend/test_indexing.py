"""Indexing with numpy semantics, eager and traced, with gradients against central differences."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import TraceError, dlarray, dlfeval, extractdata

from .cases import check_cases
from .helpers import RNG

X = RNG.standard_normal((3, 4, 5))
KEYS = [
    1, -1, (0, 2), (2, -1, 3), slice(1, None), (slice(None), slice(None, None, 2)),
    (slice(None, None, -1),), (slice(3, 0, -2), slice(None), slice(-1, None, -3)),
    (Ellipsis, 0), (0, Ellipsis, None), (None, 1, slice(1, 3)), (Ellipsis, None, slice(None, 2)),
    (), slice(5, 9), (slice(None, None, -1), slice(4, None, -1)),
    [0, 2, 2], np.array([[1, 0], [2, 2]]), (slice(None), [3, 0, -1]), (1, [0, 1], [4, 2]),
    ([0, 2], slice(None), [1, 3]), X > 0.5, (X[:, 0, 0] > 0,), (slice(None), X[0, :, 0] > 0, 1),
    (Ellipsis, np.array(2)), (np.array([[0], [2]]), np.array([1, 3])),
]


def _case(key):
    return str(key)[:40], (lambda x: x[key]), (lambda x: x[key])


def test_indexing_against_numpy():
    check_cases([_case(key) for key in KEYS], [X], rtol=0)


def test_indexing_numpy_backend(backend):
    check_cases([_case(key) for key in (KEYS[7], KEYS[16], KEYS[20])], [X], rtol=0)


def test_basic_indexing_is_slice_and_reshape():
    text = dl.lower(lambda x: x[1, ::-2, None], dlarray(X)).graph_text
    assert "slice" in text and "gather" not in text


def test_indexing_errors():
    x = dlarray(X)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError):
        x[0.5]
    with pytest.raises(IndexError):
        x[[5]]
    with pytest.raises(TypeError, match="dlarray holds floats"):
        x[dlarray([0.0])]

    def traced_index(x):
        return x[x[0, 0, 0]]
    with pytest.raises(TypeError, match="computed inside a traced function are not supported"):
        dlfeval(traced_index, x)
    with pytest.raises(TypeError, match="traced dlarray can be an index only as x\\[idx\\]"):
        dlfeval(lambda x: x[[0, x[0, 0, 0]]], x)
    with pytest.raises(TraceError):
        dlfeval(lambda x: [1, 2][x[0, 0, 0]], x)


def test_iteration_over_traced():
    def rows(x):
        return dl.stack([r * i for i, r in enumerate(x)])
    out = dlfeval(rows, dlarray(X))
    np.testing.assert_array_equal(extractdata(out), X * np.arange(3)[:, None, None])
