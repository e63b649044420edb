"""Shape rules agree with numpy: whatever a rule accepts, the op's numpy reference computes,
with the recorded shape. (Generated C trusts the recorded shapes for its loop bounds.)"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlgrad.errors import ShapeError
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import OPS, input_node

SETTINGS = settings(max_examples=300, deadline=None)


def accepted(build):
    try:
        return build()
    except (ShapeError, ValueError, TypeError):
        return None


def valid(n, start, stop, step):
    """A normalised (start, stop, step) for an axis of length n, as numpy reads it: indices in
    range, and stop -1 ("through index 0") only for negative steps."""
    if step > 0:
        return 0 <= start <= n and 0 <= stop <= n
    # (-1, -1, step < 0) is how slice.indices spells an empty reversed slice, for any n
    return (0 <= start < n and -1 <= stop < n) or start == stop == -1


SPECS = (st.integers(-2, 8), st.integers(-2, 8), st.sampled_from([1, 2, 3, -1, -2, -3]))


@SETTINGS
@given(st.integers(0, 6), *SPECS)
def test_slice_shapes_match_numpy(n, start, stop, step):
    """Valid specs are accepted with numpy's shape (invalid ones: see the xfail test below)."""
    if not valid(n, start, stop, step):
        return
    x = input_node(0, (n,), "float64")
    node = M.slice_(x, [(start, stop, step)])
    value = np.arange(float(n))
    reference = np.asarray(OPS["slice"].numpy(value, index=((start, stop, step),)))
    assert reference.shape == node.shape
    expected = [value[i] for i in range(start, stop, step)] if stop >= 0 else \
        [value[i] for i in range(start, -1, step)]
    np.testing.assert_array_equal(evaluate([node], [value])[0], expected)


@SETTINGS
@given(st.integers(0, 8), *SPECS)
def test_pad_places_its_input_like_numpy(length, start, stop, step):
    if not valid(length, start, stop, step):
        return
    n = len(range(start, stop if stop >= 0 else -1, step))
    x = input_node(0, (n,), "float64")
    node = M.pad(x, (length,), [(start, stop, step)])
    value = np.arange(1.0, n + 1)
    (got,) = evaluate([node], [value])
    assert got.shape == (length,)
    assert np.count_nonzero(got) == n and sorted(got[got != 0]) == list(value)


@SETTINGS
@given(st.integers(0, 6), *SPECS)
def test_invalid_slice_and_pad_specs_are_rejected(n, start, stop, step):
    if valid(n, start, stop, step):
        return
    size = len(range(start, stop if stop >= 0 else -1, step))
    assert accepted(lambda: M.slice_(input_node(0, (n,), "float64"), [(start, stop, step)])) is None
    assert accepted(lambda: M.pad(input_node(0, (size,), "float64"), (n,), [(start, stop, step)])) is None


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=3), st.data())
def test_reduce_and_permute_shapes_match_numpy(shape, data):
    x = input_node(0, tuple(shape), "float64")
    value = np.arange(1.0, 1.0 + int(np.prod(shape))).reshape(shape)
    axes = data.draw(st.sets(st.integers(0, max(len(shape) - 1, 0)), max_size=len(shape)))
    keepdims = data.draw(st.booleans())
    for name in ("sum", "prod", "max", "min"):
        node = R.reduce(name, x, tuple(sorted(axes)) if shape else None, keepdims)
        want = OPS[name].numpy(value, axes=tuple(sorted(axes)) if shape else (), keepdims=keepdims)
        assert np.shape(want) == node.shape
    perm = data.draw(st.permutations(range(len(shape))))
    assert np.transpose(value, perm).shape == M.permute(x, perm).shape


def test_strided_pad_beyond_its_shape_is_rejected():
    with pytest.raises(ShapeError):
        M.pad(input_node(0, (3,), "float64"), (4,), [(0, 6, 2)])


def test_negative_step_slice_starting_past_the_end_is_rejected():
    with pytest.raises(ShapeError):
        M.slice_(input_node(0, (5,), "float64"), [(5, -1, -1)])
