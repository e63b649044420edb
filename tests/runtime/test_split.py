"""A large generated program is compiled as two translation units in parallel and linked: the
same entry points and the same numbers as the file compiled whole."""
import os

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend.dlfeval import lower
from dlgrad.runtime import build, load, split


def _loss(w, x):
    h = dl.tanh(w * x)
    loss = dl.sum(h * h) + dl.sum(dl.exp(x - dl.max(x)))
    return loss, dl.dlgradient(loss, w)


RNG = np.random.default_rng(0)
W, X = RNG.random((16, 16)), RNG.random((16, 16))


@pytest.fixture(scope="module")
def program():
    return lower(_loss, dl.dlarray(W), dl.dlarray(X)).program


def test_units_hold_every_kernel_once(program):
    source = program.source
    kernels = source.count("/* kernel ")
    assert kernels >= 3
    first, second = split.units(source, min_chars=0)
    assert first.count("/* kernel ") + second.count("/* kernel ") == kernels
    assert first.count("/* kernel ") >= 1 and second.count("/* kernel ") >= 1
    assert program.entry not in first and f"int {program.entry}(" in second
    assert split.units(source) is None   # small programs compile in one process
    assert split.units("int f(void) { return 0; }\n", min_chars=0) is None


def test_split_build_gives_the_whole_builds_results(program, monkeypatch, tmp_path):
    results, real = {}, split.compile_parallel
    for parallel in ("1", "0"):
        monkeypatch.setenv("DLGRAD_CACHE_DIR", str(tmp_path / parallel))
        monkeypatch.setenv(split.DISABLE_VARIABLE, parallel)
        monkeypatch.setattr(split, "MIN_KERNEL_CHARS", 0)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        used = []
        monkeypatch.setattr(split, "compile_parallel", lambda *a: used.append(real(*a)) or used[-1])
        f = load(program)
        assert used == [parallel == "1"]
        results[parallel] = [np.asarray(v) for v in f(W, X)]
        so_dir = os.path.dirname(f.so_path)
        assert not [n for n in os.listdir(so_dir) if ".part" in n]   # the units and objects are removed
    assert all(np.array_equal(a, b) for a, b in zip(results["1"], results["0"]))
    loss, grad = dl.dlfeval(_loss, dl.dlarray(W), dl.dlarray(X))
    assert np.allclose(results["1"][0], dl.extractdata(loss)) and np.allclose(results["1"][1], dl.extractdata(grad))


def test_failed_split_falls_back_to_one_compile(program, monkeypatch, tmp_path):
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(split, "MIN_KERNEL_CHARS", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(split, "units", lambda source: ("#error first unit\n", "int x;\n"))
    f = load(program)
    assert np.isfinite(np.asarray(f(W, X)[0]))
    assert build.intact(f.so_path) is True
