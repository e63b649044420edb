"""No C compiler on PATH: a clear error, and DLGRAD_BACKEND=numpy runs the same program."""
import json
import os
import subprocess
import sys

import dlgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dlgrad.__file__)))

CHILD = r"""
import json, sys
import dlgrad.runtime.compiler
dlgrad.runtime.compiler.zig_cc = lambda: None   # nor the ziglang wheel's zig cc
import numpy as np
import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata

def rosenbrock(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dlgradient(y, x)

try:
    y, g = dlfeval(rosenbrock, dlarray(np.array([-1.0, 2.0])))
except dl.CompilerNotFoundError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    print(json.dumps({"value": float(extractdata(y)), "grad": extractdata(g).tolist()}))
"""


def run_without_compiler(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "XDG_CACHE_HOME", "DLGRAD_BACKEND")}
    env.update(PATH=str(tmp_path / "empty-bin"), DLGRAD_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=ROOT, **extra)
    (tmp_path / "empty-bin").mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_compiler_on_path_raises_a_clear_error(tmp_path):
    result = run_without_compiler(tmp_path)
    assert result.get("error") == "CompilerNotFoundError", result
    message = result["message"]
    for word in ("cc", "gcc", "clang", "CC", "PATH", "DLGRAD_BACKEND=numpy"):
        assert word in message, (word, message)


def test_numpy_backend_runs_the_same_program_without_a_compiler(tmp_path):
    result = run_without_compiler(tmp_path, DLGRAD_BACKEND="numpy")
    assert result == {"value": 104.0, "grad": [396.0, 200.0]}
