"""Data formats: labels, canonical order, dims/finddim/stripdims, propagation, errors."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.formats import FormatError


def test_canonical_permutation():
    x = np.arange(128 * 64, dtype=float).reshape(128, 64)
    X = dl.dlarray(x, "BC")
    assert dl.dims(X) == "CB" and X.shape == (64, 128)
    np.testing.assert_array_equal(dl.extractdata(X), x.T)
    Y = dl.dlarray(np.zeros((2, 3, 4, 5)), "BCSS")
    assert dl.dims(Y) == "SSCB" and Y.shape == (4, 5, 3, 2)
    assert dl.dims(dl.dlarray(np.zeros((64, 128)), "CB")) == "CB"


def test_finddim_stripdims():
    X = dl.dlarray(np.zeros((4, 5, 3, 2)), "SSCB")
    assert dl.finddim(X, "S") == (0, 1)
    assert dl.finddim(X, "C") == (2,)
    assert dl.finddim(X, "T") == ()
    Z = dl.stripdims(X)
    assert dl.dims(Z) == "" and Z.shape == X.shape


def test_trailing_singleton_labels():
    X = dl.dlarray(np.ones(3), "CB")
    assert X.shape == (3, 1) and dl.dims(X) == "CB"


@pytest.mark.parametrize("fmt, rule", [("CCB", "at most once"), ("CX", "invalid label"),
                                       ("C", "one label per dimension")])
def test_bad_formats_name_format_and_rule(fmt, rule):
    with pytest.raises(FormatError, match=rule) as info:
        dl.dlarray(np.zeros((2, 3)), fmt)
    assert repr(fmt) in str(info.value)


def test_format_kept_by_elementwise_and_reductions():
    X = dl.dlarray(np.ones((3, 4)), "CB")
    assert dl.dims(X * 2 + 1) == "CB"
    assert dl.dims(dl.exp(X)) == "CB"
    assert dl.dims(X + np.ones((3, 1))) == "CB"
    assert dl.dims(dl.sum(X, 0, keepdims=True)) == "CB"
    assert dl.dims(dl.sum(X, 0)) == "B"
    assert dl.dims(dl.mean(X, 1)) == "C"
    assert dl.dims(dl.sum(X)) == ""
    assert dl.dims(X[0:2]) == "CB"
    assert dl.dims(dl.reshape(X, (12,))) == ""


def test_mismatched_formats_error():
    with pytest.raises(FormatError, match="'CB' and 'SC'"):
        dl.dlarray(np.ones((3, 3)), "CB") + dl.dlarray(np.ones((3, 3)), "SC")


def test_format_through_dlfeval():
    def f(X):
        Y = dl.tanh(X) * 2
        return Y, dl.dims(Y), dl.dlgradient(dl.sum(Y), X)
    X = dl.dlarray(np.ones((3, 4)), "BC")
    Y, fmt, G = dl.dlfeval(f, X)
    assert fmt == "CB" and dl.dims(Y) == "CB" and dl.dims(G) == "CB" and Y.shape == (4, 3)
    # the format is part of the signature
    Y2, fmt2, _ = dl.dlfeval(f, dl.dlarray(np.ones((4, 3)), "SC"))
    assert fmt2 == "SC" and dl.dims(Y2) == "SC"


def test_pickle_keeps_format():
    import pickle
    X = dl.dlarray(np.ones((3, 4)), "CB")
    assert dl.dims(pickle.loads(pickle.dumps(X))) == "CB"
