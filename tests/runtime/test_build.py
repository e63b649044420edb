import os
import shlex
import subprocess
import sys

import numpy as np
import pytest

import dlgrad
from dlgrad.errors import CompileError, CompilerNotFoundError
from dlgrad.runtime import build, compiler, load, shared_object
from runtime_programs import Program, fresh, rosenbrock

ROOT = os.path.dirname(os.path.dirname(dlgrad.__file__))
HERE = os.path.dirname(__file__)

CHILD = """
import sys, subprocess
import numpy as np
sys.path.insert(0, {here!r})
from runtime_programs import Program, rosenbrock
from dlgrad.runtime import load
if {forbid_subprocess}:
    def refuse(*a, **k):
        raise AssertionError("a cache hit ran a subprocess")
    subprocess.Popen = refuse
f = load(rosenbrock({salt!r}))
value, grad = f(np.array([-1.0, 2.0]))
assert value == 104.0 and list(grad) == [396.0, 200.0], (value, grad)
print(f.so_path)
"""


def run_child(salt, env=None, forbid_subprocess=False):
    code = CHILD.format(here=HERE, salt=salt, forbid_subprocess=forbid_subprocess)
    env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(child):
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return out.strip()


def counting(monkeypatch):
    calls = []
    real = compiler._run

    def run(argv, stdin=""):
        calls.append(argv)
        return real(argv, stdin)
    monkeypatch.setattr(compiler, "_run", run)
    return calls


def test_second_load_does_not_compile(monkeypatch):
    calls = counting(monkeypatch)
    program = rosenbrock(fresh())
    first = load(program)
    assert calls, "a new source must be compiled"
    calls.clear()
    monkeypatch.setattr(subprocess, "Popen", None)  # any subprocess now fails
    second = load(program)
    assert not calls and second.so_path == first.so_path
    assert second(np.array([-1.0, 2.0]))[0] == 104.0


def test_layout_keeps_source_next_to_shared_object():
    path = shared_object(rosenbrock(fresh()).source)
    assert path.endswith(".so") and os.path.exists(path[:-3] + ".c")
    assert os.path.dirname(path).endswith("so")


def test_new_process_hits_the_disk_cache_without_subprocesses():
    salt = fresh()
    built = load(rosenbrock(salt)).so_path
    assert finish(run_child(salt, forbid_subprocess=True)) == built


def test_new_process_without_any_compiler_loads_an_earlier_build():
    salt = fresh()
    built = load(rosenbrock(salt)).so_path
    assert finish(run_child(salt, env={"PATH": "", "CC": "/nonexistent/cc"})) == built


def test_two_processes_compiling_the_same_new_source_both_succeed(tmp_path):
    # A fresh cache, so both also build the call trampoline at the same time.
    env = {"DLGRAD_CACHE_DIR": str(tmp_path / "cache")}
    salt = fresh()
    children = [run_child(salt, env) for _ in range(2)]
    paths = {finish(child) for child in children}
    assert len(paths) == 1
    leftovers = [name for name in os.listdir(tmp_path / "cache" / "so") if name.endswith(".tmp")]
    assert not leftovers


def test_no_compiler_names_what_was_looked_for(monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(compiler, "zig_cc", lambda: None)
    with pytest.raises(CompilerNotFoundError) as info:
        load(rosenbrock(fresh()))
    message = str(info.value)
    assert "CC" in message and "cc, gcc, clang" in message and "DLGRAD_BACKEND=numpy" in message
    assert 'pip install "dlgrad[zig]"' in message


def test_missing_cc_is_named(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(CompilerNotFoundError, match="/nonexistent/cc"):
        shared_object(rosenbrock(fresh()).source)


def test_compile_error_shows_stderr_and_keeps_source():
    bad = Program(fresh() + "int broken(void) { return undeclared_name; }\n", "broken", (), ())
    with pytest.raises(CompileError) as info:
        load(bad)
    message = str(info.value)
    assert "undeclared_name" in message
    kept = next(word for word in message.split() if word.endswith(".c"))
    assert open(kept).read() == bad.source
    leftovers = [n for n in os.listdir(os.path.dirname(kept)) if n.endswith(".tmp")]
    assert not leftovers


@pytest.mark.skipif(os.name != "posix", reason="the fake compiler is a shell script")
def test_compiler_rejecting_march_native_is_used_without_it(tmp_path, monkeypatch):
    real = shlex.join(compiler.find_compiler())   # the whole command: `zig cc` is two words
    fake = tmp_path / "fakecc"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = -march=native ] && exit 1; done\n'
                    f'exec {real} "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    tc = compiler.toolchain()
    assert compiler.NATIVE not in tc.flags and tc.target == "generic"
    f = load(rosenbrock(fresh()))
    assert f(np.array([-1.0, 2.0]))[0] == 104.0


def test_key_depends_on_flags_and_compiler(monkeypatch):
    source = rosenbrock(fresh()).source
    path = shared_object(source)
    tc = compiler.toolchain()
    other = compiler.Toolchain(tc.argv, tc.identity + " (other)", tc.flags, tc.target)
    monkeypatch.setitem(compiler._toolchains, compiler.memo_key(tc.argv), other)
    assert shared_object(source) != path
