"""Compiling graphs for the tests: one C program for many checks, the disk cache for repeats."""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import pytest

from dlgrad.codegen.lower import lower
from dlgrad.runtime import load


GOLDEN_DIR = Path(__file__).parent / "golden"


def assert_golden(path: Path, source: str) -> None:
    """Generated C must equal the reviewed text in `path`; DLGRAD_UPDATE_GOLDEN=1 rewrites it."""
    if os.environ.get("DLGRAD_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(source)
    assert path.exists(), f"no golden file {path.name}: run with DLGRAD_UPDATE_GOLDEN=1 to create it"
    golden = path.read_text()
    if source != golden:
        name = f"golden/{path.name}"
        diff = "".join(difflib.unified_diff(golden.splitlines(True), source.splitlines(True), name,
                                            "generated", n=2))
        pytest.fail(f"generated C differs from tests/codegen/{name} (rerun with DLGRAD_UPDATE_GOLDEN=1 "
                    f"if the change is intended):\n{diff}")


def compile_graph(outputs, specs, **options):
    """The loaded CompiledFunction of `outputs` for inputs of the (shape, dtype) `specs`."""
    return load(lower(list(outputs), [(tuple(s), d) for s, d in specs], **options))


def run(outputs, inputs):
    """Compile `outputs` for the arrays fed by an `Inputs` and return the C results."""
    fn = compile_graph(outputs, inputs.specs)
    return fn(*inputs.arrays)


class Batch:
    """Many independent checks compiled as one program with many outputs.

    `add(key, outputs)` registers the nodes of one check (built on the shared `inputs`);
    `results(key)` compiles everything once and returns that check's C values. If the
    joint program cannot be built or run, each check is compiled on its own instead, so
    a failure names the check that caused it.
    """

    def __init__(self, inputs):
        self.inputs = inputs
        self.cases = {}
        self.alone = set()
        self._values = None

    def add(self, key, outputs, alone=False):
        """Register a check; `alone` ones get a program of their own (known to break the batch)."""
        assert key not in self.cases, key
        self.cases[key] = list(outputs)
        if alone:
            self.alone.add(key)

    def results(self, key):
        if self._values is None:
            self._values = self._run_all()
        if self._values is False or key in self.alone:
            return self._run_one(key)
        return self._values[key]

    def _run_all(self):
        keys = [k for k in self.cases if k not in self.alone]
        flat = [node for k in keys for node in self.cases[k]]
        try:
            values = run(flat, self.inputs)
        except Exception:   # fall back to one program per check, which reports the culprit
            return False
        out, start = {}, 0
        for k in keys:
            n = len(self.cases[k])
            out[k] = values[start:start + n]
            start += n
        return out

    def _run_one(self, key):
        # the check's nodes keep their input numbering: feed it every input of the batch
        return run(self.cases[key], self.inputs)


def random_array(rng, shape, low=-1.0, high=1.0, dtype="float64"):
    return np.asarray(rng.uniform(low, high, size=shape), dtype=dtype)
