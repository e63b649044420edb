"""No system C compiler, the `zig` extra installed: dlgrad finds `zig cc` from the ziglang wheel and
the Rosenbrock and MLP examples run compiled through it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dlgrad
from dlgrad.runtime import compiler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dlgrad.__file__)))

CHILD = r"""
import contextlib, io, json, os, runpy, shutil, sys
import numpy as np
from dlgrad.runtime import compiler

assert not any(shutil.which(name) for name in ("cc", "gcc", "clang")), "a system compiler is visible"
examples = os.path.join(sys.argv[1], "examples")
with contextlib.redirect_stdout(io.StringIO()) as rosenbrock_out:
    runpy.run_path(os.path.join(examples, "rosenbrock.py"), run_name="__main__")

sys.path.insert(0, examples)
import train_digits as td
rng = np.random.default_rng(0)                  # ten separable clusters shaped like the 8x8 digits
centres = rng.uniform(0, 1, (10, 8, 8)).astype(np.float32)
def sample(n):
    labels = rng.integers(0, 10, n)
    return (centres[labels] + 0.1 * rng.standard_normal((n, 8, 8))).astype(np.float32), labels
data = (*sample(640), *sample(160))
with contextlib.redirect_stdout(io.StringIO()):
    _, history = td.train("MLP", td.mlp(), data, False, epochs=2)
print(json.dumps({"compiler": list(compiler.toolchain().argv), "rosenbrock": rosenbrock_out.getvalue(),
                  "accuracy": history["accuracy"][-1], "loss": [history["loss"][0], history["loss"][-1]]}))
"""


def test_zig_cc_is_found_only_when_no_system_compiler(monkeypatch, tmp_path):
    zig = compiler.zig_cc()
    if zig is None:
        pytest.skip("ziglang is not installed (pip install 'dlgrad[zig]')")
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert compiler.find_compiler() == zig and zig[1] == "cc"
    fake = tmp_path / "cc"                           # a system compiler on PATH wins over zig
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert compiler.find_compiler() == (str(fake),)
    monkeypatch.setenv("CC", str(fake))              # and CC wins over both
    assert compiler.find_compiler() == (str(fake),)


def test_examples_run_through_zig_without_a_system_compiler(tmp_path):
    if compiler.zig_cc() is None:
        pytest.skip("ziglang is not installed (pip install 'dlgrad[zig]')")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "DLGRAD_BACKEND", "DLGRAD_NUM_THREADS")}
    env.update(PATH=str(empty), DLGRAD_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", CHILD, ROOT], env=env, capture_output=True, text=True,
                          timeout=540)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["compiler"] == list(compiler.zig_cc())
    assert "fval = dlarray(104.)" in result["rosenbrock"]
    assert "gradient = dlarray([396., 200.])" in result["rosenbrock"]
    assert "f = 2.85e-08" in result["rosenbrock"]        # the same descent as through gcc
    assert result["loss"][-1] < 0.5 * result["loss"][0] and result["accuracy"] > 0.9, result


def test_threads_without_an_openmp_runtime_fall_back_to_one_thread(monkeypatch):
    """zig cc accepts -fopenmp but ships no OpenMP runtime: a note, then kernels on one thread."""
    zig = compiler.zig_cc()
    if zig is None:
        pytest.skip("ziglang is not installed (pip install 'dlgrad[zig]')")
    monkeypatch.setenv("CC", " ".join(zig))
    monkeypatch.setenv("DLGRAD_NUM_THREADS", "2")
    with pytest.warns(RuntimeWarning, match="DLGRAD_NUM_THREADS=2 needs OpenMP.*one thread"):
        tc = compiler.toolchain()
    assert "-fopenmp" not in tc.flags and tc.argv == zig
    x = dlgrad.dlarray(np.arange(1.0, 7.0).reshape(2, 3))
    y, g = dlgrad.dlfeval(lambda x: (lambda y: (y, dlgrad.dlgradient(y, x)))(dlgrad.sum(x * x)), x)
    assert float(y) == 91.0 and np.array_equal(dlgrad.extractdata(g), 2 * np.arange(1.0, 7.0).reshape(2, 3))
