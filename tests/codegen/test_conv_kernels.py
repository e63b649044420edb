"""The convolution kernels (codegen/kinds/conv.py): the same bits on one and two threads, and C
whose size does not depend on the image or the batch."""
import numpy as np
import pytest

from dlgrad.codegen import lower
from dlgrad.graph.ops import conv as CV
from dlgrad.graph.registry import OPS, input_node
from dlgrad.runtime import load

PADS = ((1, 1), (2, 0))


def programs(size, batch, dtype="float32"):
    """conv, conv_transpose and conv_filter of one 3x3 layer (20 -> 24 channels, stride (1, 2))."""
    xs, ws = (size, size, 20, batch), (3, 3, 20, 24)
    x, w = input_node(0, xs, dtype), input_node(1, ws, dtype)
    y = CV.conv(x, w, (1, 2), (1, 1), PADS)
    g = input_node(2, y.shape, dtype)
    outputs = [y, CV.conv_transpose(g, w, (1, 2), (1, 1), PADS, size=xs[:2]),
               CV.conv_filter(x, g, (1, 2), (1, 1), PADS, kernel=ws[:2])]
    return outputs, [(xs, dtype), (ws, dtype), (y.shape, dtype)]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_two_threads_give_the_same_bits(threads, monkeypatch):
    monkeypatch.setenv("DLGRAD_NUM_THREADS", threads)
    outputs, specs = programs(24, 37)
    program = lower(outputs, specs)
    assert "DLGRAD_PARALLEL_ROWS" in program.source
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(d) for s, d in specs]
    got = load(program)(*arrays)
    attrs = dict(stride=(1, 2), dilation=(1, 1), padding=PADS, groups=1)
    a64 = [a.astype(np.float64) for a in arrays]
    want = [OPS["conv"].numpy(a64[0], a64[1], **attrs),
            OPS["conv_transpose"].numpy(a64[2], a64[1], size=(24, 24), **attrs),
            OPS["conv_filter"].numpy(a64[0], a64[2], kernel=(3, 3), **attrs)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * np.abs(w).max())
    one = getattr(test_two_threads_give_the_same_bits, "one", None)
    if threads == "1":
        test_two_threads_give_the_same_bits.one = got
    elif one is not None:
        for a, b in zip(got, one):
            np.testing.assert_array_equal(a, b)


def test_c_size_does_not_depend_on_image_or_batch():
    sizes = {len(lower(*programs(size, batch)).source) for size, batch in ((8, 16), (40, 16), (8, 128), (40, 96))}
    assert max(sizes) <= 1.01 * min(sizes), sizes   # constants in the loops differ, nothing else


# conv_filter geometries: (image, channels, filters, kernel, stride, dilation, padding, groups, dtype)
FILTERS = [((14, 14), 1, 20, (5, 5), (1, 1), (1, 1), ((2, 2), (2, 2)), 1, "float32"),   # MATLAB's first layer
           ((12, 10), 20, 20, (3, 3), (1, 2), (2, 1), ((1, 2), (0, 1)), 1, "float32"),   # a partial row block
           ((11, 9), 12, 18, (3, 2), (2, 1), (1, 1), ((1, 1), (1, 0)), 3, "float64"),    # grouped
           ((7, 6, 5), 4, 40, (2, 3, 2), (1, 1, 1), (1, 1, 1), ((0, 0), (1, 1), (1, 0)), 1, "float64")]


@pytest.mark.parametrize("case", FILTERS, ids=["5x5x1", "stride-dilation", "grouped", "3-D"])
def test_conv_filter_splits_over_threads_with_the_same_bits(case, monkeypatch):
    """dW is split over threads by blocks of itself (tap, group, rows of channels): each element
    is summed by one thread in the serial order, so one and two threads give the same bits."""
    size, channels, filters, kernel, stride, dilation, padding, groups, dtype = case
    batch = 16
    x = input_node(0, size + (channels, batch), dtype)
    w_shape = kernel + (channels // groups, filters)
    y_shape = CV.conv(x, input_node(1, w_shape, dtype), stride, dilation, padding, groups).shape
    dw = CV.conv_filter(x, input_node(1, y_shape, dtype), stride, dilation, padding, groups, kernel=kernel)
    program = lower([dw], [(x.shape, dtype), (y_shape, dtype)])
    assert "for (ptrdiff_t part = 0; part < parts; ++part)" in program.source
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x.shape).astype(dtype), rng.standard_normal(y_shape).astype(dtype)]
    got = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("DLGRAD_NUM_THREADS", threads)
        (got[threads],) = load(program)(*arrays)
    want = OPS["conv_filter"].numpy(*(a.astype(np.float64) for a in arrays), stride=stride, dilation=dilation,
                                    padding=padding, groups=groups, kernel=kernel)
    np.testing.assert_allclose(got["1"], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    np.testing.assert_array_equal(got["1"], got["2"])
