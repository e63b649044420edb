"""The disk cache is bounded: least recently used entries (a program with the shared object built
from it) are evicted when entries are written, never on a hit, and never under a user's feet."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import dlgrad
import dlgrad.runtime as runtime
from dlgrad.codegen.lower import lower
from dlgrad.graph.registry import apply, input_node
from dlgrad.runtime import build, eviction, load, shared_object
from dlgrad.runtime.programs import programs
from runtime_programs import fresh, rosenbrock

ROOT = os.path.dirname(os.path.dirname(dlgrad.__file__))
HERE = os.path.dirname(__file__)
LATER = time.time() + 3600   # "now" for trim: every entry is then older than eviction.RECENT


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(eviction.VARIABLE, raising=False)
    return tmp_path / "cache"


def files_of(path):
    """Every file of the entry of shared object `path`."""
    stem = os.path.basename(path).split(".", 1)[0]
    return sorted(n for n in os.listdir(os.path.dirname(path)) if n.startswith(stem))


def age(directory, seconds, start=None):
    for name in os.listdir(directory):
        if start is None or name.startswith(start):
            when = time.time() - seconds
            os.utime(os.path.join(directory, name), (when, when))


def entry_bytes(path):
    directory = os.path.dirname(path)
    return sum(os.path.getsize(os.path.join(directory, n)) for n in files_of(path))


def test_the_bound_is_read_from_the_environment(monkeypatch):
    for text, value in [("", 1 << 30), ("500000", 500000), ("2G", 2 << 30), ("64MiB", 64 << 20),
                        ("0", None)]:
        monkeypatch.setenv(eviction.VARIABLE, text)
        assert eviction.max_bytes() == value
    for text in ("lots", "-5", "1.5G", "G"):
        monkeypatch.setenv(eviction.VARIABLE, text)
        with pytest.raises(ValueError, match=eviction.VARIABLE):
            eviction.max_bytes()


def test_least_recently_used_entries_go_first(own_cache):
    paths = [shared_object(rosenbrock(fresh()).source) for _ in range(4)]
    for i, path in enumerate(paths):   # built long ago, the first one longest ago
        age(os.path.dirname(path), 10000 - i, os.path.basename(path).split(".")[0])
    shared_object(open(paths[0][:-3] + ".c").read())   # a hit: the oldest is now the newest
    sizes = [entry_bytes(p) for p in paths]
    freed = eviction.trim(int(2.5 * max(sizes) / 0.9), now=LATER)
    assert [os.path.exists(p) for p in paths] == [True, False, False, True]
    assert files_of(paths[1]) == [] and files_of(paths[2]) == [] and freed >= sizes[1] + sizes[2]


def test_writes_trim_the_cache_and_hits_never_scan_it(own_cache, monkeypatch):
    old = [shared_object(rosenbrock(fresh()).source) for _ in range(2)]
    scans = []
    real_trim = eviction.trim
    monkeypatch.setattr(eviction, "trim", lambda *a, **k: scans.append(a) or real_trim(*a, **k))
    for path in old:   # hits
        assert shared_object(open(path[:-3] + ".c").read()) == path
    assert scans == []
    age(os.path.dirname(old[0]), 10000)
    monkeypatch.setenv(eviction.VARIABLE, "1")
    eviction._pending.clear()          # as in a new process: its first write trims
    new = shared_object(rosenbrock(fresh()).source)
    assert len(scans) == 1
    assert not any(os.path.exists(p) for p in old) and os.path.exists(new)   # the new one is recent


def test_a_loaded_function_outlives_eviction_and_a_half_evicted_entry_is_rebuilt(own_cache):
    program = rosenbrock(fresh())
    f = load(program)
    eviction.trim(1, now=LATER)
    assert not os.path.exists(f.so_path)
    value, grad = f(np.array([-1.0, 2.0]))            # still mapped: unlinking does not unload it
    assert value == 104.0 and list(grad) == [396.0, 200.0]
    again = load(program)
    os.unlink(again.so_path)                           # half an entry: its hash record without the file
    assert build.intact(again.so_path) is None
    assert load(program)(np.array([-1.0, 2.0]))[0] == 104.0 and build.intact(again.so_path) is True


def test_an_entry_evicted_between_lookup_and_loading_is_built_again(own_cache, monkeypatch):
    program = rosenbrock(fresh())
    lookups = []

    def evicted_at_once(source):
        path = shared_object(source)
        if not lookups:
            os.unlink(path)   # another process evicts it right after our lookup
        lookups.append(path)
        return path
    monkeypatch.setattr(runtime, "shared_object", evicted_at_once)
    assert runtime.load(program)(np.array([-1.0, 2.0]))[0] == 104.0
    assert len(lookups) == 2


def test_a_program_is_evicted_with_the_shared_object_built_from_it(own_cache):
    x = input_node(0, (3,), "float64")
    lowered = lower([apply("mul", x, x)], [((3,), "float64")], store=programs)
    so = load(lowered).so_path
    (stored,) = [n for n in os.listdir(own_cache / "programs") if n.endswith(".json")]
    age(own_cache / "programs", 20000)
    age(own_cache / "so", 10000)
    program_bytes = sum(os.path.getsize(own_cache / "programs" / n) for n in os.listdir(own_cache / "programs"))
    total = program_bytes + sum(os.path.getsize(own_cache / "so" / n) for n in os.listdir(own_cache / "so"))
    eviction.trim(int((total - program_bytes) / 0.9), now=LATER)   # evicting the program alone would do
    assert os.listdir(own_cache / "programs") == [] and not os.path.exists(so)
    assert stored and files_of(so) == []


CHILD = """
import sys
import numpy as np
sys.path.insert(0, {here!r})
from runtime_programs import fresh, rosenbrock
from dlgrad.runtime import eviction, load
eviction.RECENT = 0.0          # evict anything: the other process's entries too
for _ in range(4):
    program = rosenbrock(fresh())
    for _ in range(3):
        value, grad = load(program)(np.array([-1.0, 2.0]))
        assert value == 104.0 and list(grad) == [396.0, 200.0], (value, grad)
"""


def test_processes_evicting_each_others_entries_still_compute_right(own_cache):
    env = {**os.environ, "PYTHONPATH": ROOT, eviction.VARIABLE: "1"}
    children = [subprocess.Popen([sys.executable, "-c", CHILD.format(here=HERE)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
