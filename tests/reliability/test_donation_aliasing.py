"""Donation never writes into memory that anything but the donated dlarray can see (issue 16,
items 5 and 7): dlarrays made from the donated one, numpy views of it and numpy arrays the
caller holds keep their values, through the native and the generated Python call paths and
the numpy backend; the training-step pattern `w = step(w)` still updates in place."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray

START = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

# the constructions of issue 16 item 5 (and a few more) that share the donated dlarray's memory
SHARING = {
    "dlarray(w)": lambda w: dlarray(w),
    "dlarray(w, fmt)": lambda w: dlarray(w, "CB"),
    "reshape": lambda w: w.reshape(3, 2),
    "reshape to its own shape": lambda w: w.reshape(2, 3),
    "w[:]": lambda w: w[:],
    "w[..., None]": lambda w: w[..., None],
    "stripdims": lambda w: dl.stripdims(w),
    "stripdims(formatted)": lambda w: dl.stripdims(dlarray(w, "CB")),
    "+w": lambda w: +w,
    "concatenate([w])": lambda w: dl.concatenate([w]),
    "transpose to its own order": lambda w: dl.transpose(w, (0, 1)),
    "sum over no axes": lambda w: dl.sum(w, ()),
    "dlupdate(lambda p: p)": lambda w: dl.dlupdate(lambda p: p, {"w": w})["w"],
    "dlupdate(lambda p: dlarray(p))": lambda w: dl.dlupdate(lambda p: dlarray(p), [w])[0],
    "copy.copy": lambda w: copy.copy(w),
    "copy.deepcopy": lambda w: copy.deepcopy(w),
    "numpy view": lambda w: np.asarray(w)[:],
    "extractdata": lambda w: dl.extractdata(w),
}


@pytest.fixture(params=["native", "python", "numpy backend"])
def call_path(request, monkeypatch):
    """The hit path through the native dispatcher, generated Python, or the numpy backend."""
    from dlgrad.frontend.cache import clear_caches
    from dlgrad.runtime import fastcall
    if request.param == "python":
        monkeypatch.setenv(fastcall.DISABLE_VARIABLE, "0")
    if request.param == "numpy backend":
        monkeypatch.setenv("DLGRAD_BACKEND", "numpy")
    clear_caches()
    return request.param


def address(x) -> int:
    """Where x's data lives (without holding a reference to it, which would forbid donation)."""
    return x._data.__array_interface__["data"][0]


@pytest.mark.parametrize("construction", list(SHARING))
def test_what_shares_the_donated_memory_keeps_its_value(construction, call_path):
    step = dl.dlaccelerate(lambda p: p * 2.0, donate=0)
    for call in range(3):   # a miss, a hit, then the installed hit path
        w = dlarray(START)
        kept = SHARING[construction](w)
        want = np.array(kept, copy=True)
        w = step(w)
        np.testing.assert_array_equal(np.asarray(w), START * 2.0)
        np.testing.assert_array_equal(np.asarray(kept), want, err_msg=f"{construction}, call {call + 1}")


def test_a_saved_copy_of_a_network_does_not_follow_training(call_path):
    net = dl.dlnetwork([dl.featureInputLayer(2), dl.fullyConnectedLayer(2)], seed=0)
    best = dl.dlupdate(lambda p: dlarray(p), net.Learnables)
    want = [np.array(p, copy=True) for p in best.Value]
    step = dl.dlaccelerate(lambda n: dl.dlupdate(lambda p: p * 0.5, n), donate=0)
    for _ in range(3):
        net = step(net)
    for got, value in zip(best.Value, want):
        np.testing.assert_array_equal(np.asarray(got), value)
    np.testing.assert_array_equal(np.asarray(net.Learnables.Value[0]), want[0] / 8)


def test_the_training_step_pattern_still_updates_in_place(call_path):
    step = dl.dlaccelerate(lambda p, state, g: (p - 0.5 * g, {"m": state["m"] + g}), donate=(0, 1))
    p, state, g = dlarray(START), {"m": dlarray(np.zeros((2, 3)))}, dlarray(np.ones((2, 3)))
    for call in range(4):
        before = address(p), address(state["m"])
        p, state = step(p, state, g)
        if call_path != "numpy backend":   # which never overwrites
            assert (address(p), address(state["m"])) == before, f"call {call + 1} copied"
    np.testing.assert_array_equal(np.asarray(p), START - 2.0)
    np.testing.assert_array_equal(np.asarray(state["m"]), np.full((2, 3), 4.0))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_a_donated_numpy_array_is_never_overwritten(dtype, call_path):
    """Item 7: numpy arguments of every dtype are left alone (int data was, float data was not)."""
    step = dl.dlaccelerate(lambda p, q: (p + 1.0, q["x"] * 2.0), donate=(0, 1))
    for _ in range(3):
        x, y = np.arange(6).reshape(2, 3).astype(dtype), np.ones(4, dtype)
        p, q = step(x, {"x": y})
        np.testing.assert_array_equal(x, np.arange(6).reshape(2, 3))
        np.testing.assert_array_equal(y, np.ones(4))
        np.testing.assert_array_equal(np.asarray(p), np.arange(6).reshape(2, 3) + 1.0)
        np.testing.assert_array_equal(np.asarray(q), np.full(4, 2.0))


def test_a_numpy_array_held_only_by_a_donated_container_is_not_overwritten(call_path):
    """The caller still holds the container, so its numpy leaves are the caller's too."""
    step = dl.dlaccelerate(lambda params: {"w": params["w"] * 2.0}, donate=0)
    params = {"w": np.ones(3)}
    for _ in range(3):
        new = step(params)
        np.testing.assert_array_equal(params["w"], np.ones(3))
        np.testing.assert_array_equal(np.asarray(new["w"]), np.full(3, 2.0))


def test_a_masked_array_is_refused():
    data = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(TypeError, match="masked array.*filled"):
        dlarray(data)
    with pytest.raises(TypeError, match="masked array"):
        dlarray(data, "C")
    np.testing.assert_array_equal(np.asarray(dlarray(data.filled(0.0))), [1.0, 0.0, 3.0])
