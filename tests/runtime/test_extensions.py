"""The call path's extension modules: built in the background while a program compiles, and
the trampoline built with one compiler call (no setuptools)."""
import os
import subprocess
import sys
import threading

import pytest

from dlgrad.runtime import build


def test_prefetch_builds_in_another_thread_and_get_returns_it():
    threads = []

    def make():
        threads.append(threading.current_thread())
        return "module"
    ext = build.OptionalExtension(make, "a test module", "a fallback")
    ext.prefetch()
    ext.prefetch()   # a build already under way is not started twice
    assert ext.get() == "module" and ext.get() == "module"
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    ext.prefetch()   # known: nothing to do
    assert len(threads) == 1


def test_prefetch_failure_warns_in_the_callers_thread():
    def make():
        raise OSError("no headers")
    ext = build.OptionalExtension(make, "a test module", "using the slow path")
    ext.prefetch()
    with pytest.warns(RuntimeWarning, match=r"cannot build a test module \(OSError: no headers\); using the slow path"):
        assert ext.get() is None
    assert ext.get() is None   # warned once


def test_trampoline_builds_without_setuptools(tmp_path):
    script = (
        "import sys\n"
        "from dlgrad.runtime import trampoline\n"
        "m = trampoline.get()\n"
        "assert m is not None\n"
        "assert 'setuptools' not in sys.modules, 'built through setuptools'\n"
        "print(len(trampoline.callers(m)) - 1)\n")
    env = dict(os.environ, DLGRAD_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", script], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "24"
    assert [p.name for p in (tmp_path / "trampoline").glob("_dlgrad_trampoline_*")
            if not p.name.endswith(".sha256") and not p.name.endswith(".lock")]
