"""Exported C of a function that draws random numbers: the key (seed, counter) is an int64 input
named random_key, and the numbers are the ones dlgrad draws with that key."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.graph.ops.random import normal_numpy, uniform_numpy

from export_tools import GCC, STRICT, drive, run

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed")


def noisy(x):
    return x + dl.rand(2, 3), dl.randn(4, 1)


def test_random_key_is_an_input(tmp_path):
    x = np.zeros((2, 3))
    paths = dl.export_c(noisy, dl.dlarray(x), name="noisy", directory=tmp_path, self_test=True)
    run([GCC, *STRICT, paths["source"], paths["test"], "-o", tmp_path / "selftest", "-lm"])
    assert "passed" in run([tmp_path / "selftest"]).stdout
    header = open(paths["header"]).read()
    assert "random_key" in header and "const int64_t *in1" in header
    key = np.array([123, 45], dtype=np.int64)
    (u, z), _ = drive(paths, [x, key], [((2, 3), "float64"), ((4, 1), "float64")])
    np.testing.assert_array_equal(u, uniform_numpy(key, (2, 3), "float64", 0))
    np.testing.assert_allclose(z, normal_numpy(key, (4, 1), "float64", 6), rtol=0, atol=1e-14)
