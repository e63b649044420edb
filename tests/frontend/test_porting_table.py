"""The README's "Porting from MATLAB" rewrites give MATLAB's answers (MATLAB's column-major
order is numpy's order='F'; MATLAB's reductions keep their dimension)."""
import numpy as np

import dlgrad as dl
from dlgrad import dlarray, extractdata

from .helpers import RNG

X = RNG.standard_normal((3, 4, 2))


def test_column_major_reshape_and_colon():
    x = dlarray(X)
    # MATLAB reshape(X, 4, 6) and X(:)
    np.testing.assert_array_equal(extractdata(dl.transpose(dl.reshape(dl.transpose(x), (6, 4)))),
                                  X.reshape((4, 6), order="F"))
    np.testing.assert_array_equal(extractdata(dl.reshape(dl.transpose(x), (-1,))), X.ravel(order="F"))


def test_reductions_keep_dims_and_zero_based_dims():
    x = dlarray(X)
    # MATLAB sum(X, 2) has size 3x1x2; max(X, [], 3) has size 3x4
    assert dl.sum(x, 1, keepdims=True).shape == (3, 1, 2)
    np.testing.assert_array_equal(extractdata(dl.max(x, 2, keepdims=True)), X.max(2, keepdims=True))
    assert dl.sum(x, 1).shape == (3, 2)          # numpy's default drops the axis


def test_copy_then_assign_leaves_the_original():
    x = dlarray(X)
    y = dl.dlarray(x)
    y[0] = 0.0
    np.testing.assert_array_equal(extractdata(x), X)
    assert not extractdata(y)[0].any()


def test_logical_masks_become_numpy_bool_by_comparison():
    mask = extractdata(dlarray(X) > 0)
    assert mask.dtype == bool and dl.islogical(dlarray(X) > 0)
    np.testing.assert_array_equal(X[mask], X[X > 0])
    np.testing.assert_array_equal(X[~mask], X[~(X > 0)])
    assert extractdata((dlarray(X) > 0) + (dlarray(X) > 0)).max() == 2.0   # true + true is 2


def test_single_with_double_rewrite_gives_single():
    xs, yd = dlarray(X.astype(np.float32)), dlarray(X)
    assert (xs + yd).dtype == np.float64                 # numpy's rule for dlarray arithmetic
    assert (xs + dl.single(yd)).dtype == np.float32      # the rewrite: MATLAB's single
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)])   # float32 learnables
    assert dl.predict(net, dlarray(X[:, :, 0], "CB")).dtype == np.float32
