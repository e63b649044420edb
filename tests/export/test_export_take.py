"""Exported C with an index input: int64_t in the prototype, values as dlfeval gives, and a nonzero
status (documented in the header) for an index out of range, before anything is computed."""
import numpy as np
import pytest

import dlgrad as dl

import export_functions as functions
from export_tools import GCC, STRICT, drive, run

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed")


def test_index_input_values_and_out_of_range_status(tmp_path):
    weights = np.random.default_rng(5).standard_normal((3, 10))
    words = np.array([[9, 0, 4, 4]])
    paths = dl.export_c(functions.embedding_loss, dl.dlarray(weights), words, name="emb", directory=tmp_path,
                        self_test=True)
    run([GCC, *STRICT, paths["source"], paths["test"], "-o", tmp_path / "selftest", "-lm"])
    assert "passed" in run([tmp_path / "selftest"]).stdout
    assert "static const int64_t in1[4] = {9, 0, 4, 4};" in open(paths["test"]).read()
    header = open(paths["header"]).read()
    assert "#include <stdint.h>" in header and "const int64_t *in1" in header
    assert "Returns 1, before computing anything, when in1 (embed: the indices X" in header
    outputs = [((), "float64"), ((3, 10), "float64")]
    (loss, grad), _ = drive(paths, [weights, words.astype(np.int64)], outputs)
    want_loss, want_grad = dl.dlfeval(functions.embedding_loss, dl.dlarray(weights), words)
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-12)
    np.testing.assert_allclose(grad, dl.extractdata(want_grad), rtol=1e-12)
    with pytest.raises(AssertionError, match=r"failed \(3\)"):   # the driver exits 3 on a nonzero status
        drive(paths, [weights, np.array([[9, 0, 10, 4]], dtype=np.int64)], outputs)
