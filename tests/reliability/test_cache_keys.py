"""Stored-program keys are exact: two graphs whose constants differ in any bit (a 12th digit,
-0.0 against 0.0, a NaN payload, float32 against float64) never share a stored program."""
import struct
import sys

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.codegen.lower import lower
from dlgrad.frontend.cache import clear_caches
from dlgrad.graph.registry import apply, const, input_node
from dlgrad.graph.node import Const, pretty


class KeyRecorder:
    """A program store that never hits and records the key of every program put."""

    def __init__(self):
        self.keys = []

    def get(self, key):
        return None

    def put(self, key, text):
        self.keys.append(key)


def key_of(value, dtype="float64"):
    c = const(np.asarray(value, dtype=dtype), dtype)
    shape = c.shape or (2,)
    x = input_node(0, shape, "float64")
    if dtype != "float64":
        c = apply("cast", c, dtype="float64")
    store = KeyRecorder()
    lower([apply("mul", x, c)], [(shape, "float64")], store=store)
    return store.keys[0]


def nan_with_payload(payload):
    return struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000000 | payload))[0]


PAIRS = {
    "small array, 10th digit": ([0.5, 0.7], [0.5, 0.7 + 1e-9]),
    "small array, last bit": ([0.5, 0.7], [0.5, np.nextafter(0.7, 1.0)]),
    "scalar, last bit": (0.7, np.nextafter(0.7, 1.0)),
    "scalar, signed zero": (0.0, -0.0),
    "small array, signed zero": ([0.0, 1.0], [-0.0, 1.0]),
    "scalar, NaN payload": (nan_with_payload(1), nan_with_payload(2)),
    "six elements, 11th digit": ([1.0, 2, 3, 4, 5, 6], [1.0, 2, 3, 4, 5, 6 + 1e-10]),
    "large array, last bit": (np.linspace(0.0, 1.0, 50), np.append(np.linspace(0.0, 1.0, 50)[:-1],
                                                                  np.nextafter(1.0, 2.0))),
}


@pytest.mark.parametrize("name", PAIRS)
def test_constants_differing_in_any_bit_have_different_keys(name):
    a, b = PAIRS[name]
    assert key_of(a) != key_of(b)
    assert key_of(a) == key_of(np.array(a, copy=True))   # and the key is stable


def test_float32_constants_of_equal_print_have_different_keys():
    assert key_of(np.float32(0.1), "float32") != key_of(np.float32(np.nextafter(np.float32(0.1), 1)),
                                                         "float32")


def test_exact_printing_is_bit_exact_and_readable_printing_stays_short():
    for a, b in PAIRS.values():
        assert Const(np.asarray(a)).exact() != Const(np.asarray(b)).exact()
    big = [const(np.arange(100.0) + k * 1e-13, "float64") for k in (0, 1)]
    assert pretty([big[0]], exact=True) != pretty([big[1]], exact=True)
    assert len(pretty([big[0]])) < 200 and len(pretty([big[0]], exact=True)) < 250


def test_a_constant_array_close_to_a_stored_one_computes_its_own_value():
    x = dl.dlarray(np.ones(2))
    clear_caches()
    first = dl.extractdata(dl.dlfeval(lambda x: x * np.array([0.5, 0.7]), x))
    second = dl.extractdata(dl.dlfeval(lambda x: x * np.array([0.5, 0.7 + 1e-9]), x))
    assert first.tolist() == [0.5, 0.7]
    assert second.tolist() == [0.5, 0.7 + 1e-9]


WEIGHTS = np.array([0.25, 1.5])


def scaled(x):
    return x * WEIGHTS


def test_a_guarded_global_changed_in_its_12th_digit_gets_its_own_program(monkeypatch):
    x = dl.dlarray(np.ones(2))
    clear_caches()
    assert dl.extractdata(dl.dlfeval(scaled, x)).tolist() == [0.25, 1.5]
    changed = np.array([0.25, 1.5 + 3e-12])
    monkeypatch.setattr(sys.modules[__name__], "WEIGHTS", changed)
    assert dl.extractdata(dl.dlfeval(scaled, x)).tolist() == changed.tolist()
