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


def test_exported_c_draws_what_the_native_call_path_drew(tmp_path):
    """A function served by the native dispatcher (which takes the key itself) and its export
    (which takes it as random_key) draw the same numbers for one key; exporting does not touch
    the stream."""
    x = np.zeros((2, 3))
    f = dl.dlaccelerate(noisy)
    f(dl.dlarray(x)), f(dl.dlarray(x))
    dl.rng(dl.RandomState(123, 45))
    u_native, z_native = (dl.extractdata(v) for v in f(dl.dlarray(x)))
    assert dl.rng() == dl.RandomState(123, 46)
    paths = dl.export_c(f, dl.dlarray(x), name="noisy_native", directory=tmp_path)
    assert dl.rng() == dl.RandomState(123, 46)
    (u, z), _ = drive(paths, [x, np.array([123, 45], dtype=np.int64)], [((2, 3), "float64"), ((4, 1), "float64")])
    np.testing.assert_array_equal(u, u_native)
    # normals: the runtime's C (-march=native, libmvec's log and cos) and the export's, within a few ulp
    np.testing.assert_array_less(np.abs(z - z_native), 4 * np.spacing(np.maximum(np.abs(z_native), 4)))
