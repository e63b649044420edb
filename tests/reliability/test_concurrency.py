"""Concurrent compilation into one cache directory, and concurrent calls of one compiled function."""
import os
import subprocess
import sys
import threading
import uuid

import numpy as np

import dlgrad
import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata
from dlgrad.runtime import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dlgrad.__file__)))

PROCESS = r"""
import sys, numpy as np, dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata
SALT = float(sys.argv[1])
def objective(x, w):
    h = dl.tanh(x @ w + SALT)
    y = dl.sum(h * h) + dl.sum(dl.exp(-x * x))
    return y, dlgradient(y, x), dlgradient(y, w)
x = np.linspace(-1, 1, 48).reshape(6, 8)
w = np.cos(np.arange(40.0)).reshape(8, 5)
outs = dlfeval(objective, x, w)
print("".join(extractdata(o).tobytes().hex() for o in outs))
"""


def test_eight_processes_compile_the_same_new_function_into_one_cache(tmp_path):
    cache = tmp_path / "cache"
    salt = str(int(uuid.uuid4().int % 10 ** 6) / 10 ** 6)     # a function no cache has seen
    env = {**os.environ, "DLGRAD_CACHE_DIR": str(cache), "PYTHONPATH": ROOT}
    children = [subprocess.Popen([sys.executable, "-c", PROCESS, salt], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert "does not match the hash" not in err, err
        results.append(out.strip())
    assert len(set(results)) == 1 and results[0]
    objects = [name for name in os.listdir(cache / "so") if name.endswith(".so")]
    assert len(objects) == 1 and build.intact(str(cache / "so" / objects[0])) is True
    leftovers = [name for root, _, names in os.walk(cache) for name in names if name.endswith(".tmp")]
    assert not leftovers


def objective(x, w):
    h = dl.tanh(x @ w)
    y = dl.sum(h * h) + dl.sum(dl.exp(-x * x))
    return y, dlgradient(y, x), dlgradient(y, w)


def test_eight_threads_calling_one_compiled_function(backend):
    rng = np.random.default_rng(0)
    inputs = [(rng.standard_normal((16, 32)), rng.standard_normal((32, 8))) for _ in range(64)]
    expected = [[extractdata(o).copy() for o in dlfeval(objective, dlarray(x), dlarray(w))]
                for x, w in inputs]
    calls = 10_000 if backend == "c" else 500
    errors = []
    barrier = threading.Barrier(8)

    def worker(t):
        try:
            barrier.wait()
            mine = range(t, len(inputs), 8)      # each thread its own inputs
            args = {i: (dlarray(inputs[i][0]), dlarray(inputs[i][1])) for i in mine}
            for n in range(calls):
                i = mine[n % len(mine)]
                got = dlfeval(objective, *args[i])
                for g, e in zip(got, expected[i]):
                    if not np.array_equal(extractdata(g), e):
                        errors.append((t, n, i))
                        return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((t, repr(exc)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
