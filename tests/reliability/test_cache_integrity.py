"""The on-disk cache: private, loaded only when the recorded hash matches (shared objects and
stored programs alike), rebuilt when tampered with, and a per-user temporary fallback when home is
unusable that leaves nothing behind."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import warnings

import numpy as np
import pytest

import dlgrad
from dlgrad.frontend.cache import clear_caches
from dlgrad.runtime import build, cache, compiler, load, shared_object
from dlgrad.runtime.function import CompiledFunction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dlgrad.__file__)))


class Program:
    """A hand-written program in the shape codegen hands to the runtime."""

    def __init__(self, scale):
        self.entry = "kernel"
        self.inputs = (((3,), "float64"),)
        self.outputs = (((3,), "float64"),)
        self.work_bytes = 0
        self.aliases = ()
        self.source = (f"/* {uuid.uuid4().hex} */\n"
                       "int kernel(const void *const *in, void *const *out, void *work) {\n"
                       "    const double *x = (const double *)in[0]; double *y = (double *)out[0];\n"
                       f"    (void)work; for (int i = 0; i < 3; i++) y[i] = {scale!r} * x[i];\n"
                       "    return 0;\n}\n")


X = np.array([1.0, 2.0, 3.0])


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_every_cache_directory_is_private(tmp_path):
    env = {**os.environ, "DLGRAD_CACHE_DIR": str(tmp_path / "fresh" / "cache"), "PYTHONPATH": ROOT}
    code = ("import numpy as np, dlgrad as dl\n"
            "y = dl.dlfeval(lambda x: dl.sum(x * x), dl.dlarray(np.ones(3)))\n"
            "assert float(dl.extractdata(y)) == 3.0\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    root = tmp_path / "fresh" / "cache"
    dirs = [root] + [root / d for d in os.listdir(root) if (root / d).is_dir()]
    assert {"so", "programs", "toolchain", "trampoline"} <= {d.name for d in dirs}
    for d in dirs:
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    for d in dirs:
        for name in os.listdir(d):
            mode = os.stat(d / name).st_mode
            assert not mode & 0o022, (d / name, oct(mode))


def test_a_directory_others_can_write_to_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # where the fallback goes
    with pytest.warns(RuntimeWarning, match="writable by other users"):
        root = cache.cache_dir()
    assert root != str(shared) and stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_built_objects_have_their_hash_recorded(private_cache):
    path = shared_object(Program(2.0).source)
    with open(path + ".sha256") as f:
        assert f.read().strip() == build.file_hash(path)
    assert build.intact(path) is True


def _truncate(path, other):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _flip_a_byte(path, other):
    # a byte inside the code, so the file may still be a loadable ELF computing something else
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)


def _swap(path, other):
    # another kernel with the same entry point: loading it would silently compute 5x, not 2x
    shutil.copyfile(other, path)


def _empty(path, other):
    open(path, "wb").close()


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _swap, _empty])
def test_damaged_shared_object_is_detected_and_rebuilt_never_loaded(private_cache, damage, monkeypatch):
    program, other = Program(2.0), Program(5.0)
    path = shared_object(program.source)
    other_path = shared_object(other.source)
    damage(path, other_path)
    opened = []
    monkeypatch.setattr(CompiledFunction, "__init__",
                        lambda self, p, so, real=CompiledFunction.__init__: (
                            opened.append((so, build.intact(so))), real(self, p, so))[1])
    with pytest.warns(RuntimeWarning, match="does not match the hash.*rebuilt"):
        f = load(program)
    assert opened == [(path, True)]          # only the rebuilt, intact file is opened
    np.testing.assert_array_equal(f(X)[0], 2.0 * X)
    assert build.intact(path) is True


def test_missing_hash_record_means_rebuild_not_load(private_cache, monkeypatch):
    program = Program(3.0)
    path = shared_object(program.source)
    os.unlink(path + ".sha256")
    first = os.stat(path).st_mtime_ns
    time.sleep(0.01)
    assert shared_object(program.source) == path
    assert build.intact(path) is True and os.stat(path).st_mtime_ns != first


def test_without_a_compiler_a_damaged_earlier_build_is_not_loaded(private_cache, monkeypatch):
    program = Program(4.0)
    path = shared_object(program.source)
    _flip_a_byte(path, None)
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(compiler, "zig_cc", lambda: None)
    with pytest.warns(RuntimeWarning, match="not loaded"):
        with pytest.raises(dlgrad.CompilerNotFoundError):
            shared_object(program.source)


def test_verifying_a_hit_is_cheap(private_cache):
    path = shared_object(Program(6.0).source)
    start = time.perf_counter()
    for _ in range(20):
        assert build.intact(path) is True
    assert (time.perf_counter() - start) / 20 < 5e-3


HOME_CHILD = ("import warnings, numpy as np, dlgrad as dl\n"
              "warnings.simplefilter('always')\n"
              "with warnings.catch_warnings(record=True) as w:\n"
              "    y = dl.dlfeval(lambda x: dl.sum(x * x), dl.dlarray(np.ones(3)))\n"
              "assert float(dl.extractdata(y)) == 3.0\n"
              "from dlgrad.runtime import cache_dir\n"
              "print(cache_dir())\n"
              "print('\\n'.join(str(m.message) for m in w))\n")


def _run_with_home(home, temp):
    env = {k: v for k, v in os.environ.items() if k not in ("DLGRAD_CACHE_DIR", "XDG_CACHE_HOME")}
    temp.mkdir(exist_ok=True)
    env.update(HOME=str(home), PYTHONPATH=ROOT, TMPDIR=str(temp))
    done = subprocess.run([sys.executable, "-c", HOME_CHILD], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    root, *messages = done.stdout.strip().splitlines()
    return root, "\n".join(messages)


def test_missing_home_falls_back_to_a_private_temporary_cache(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    root, messages = _run_with_home(blocker / "home", tmp_path / "tmp")
    assert "cannot use the cache directory" in messages and root in messages
    assert root.startswith(str(tmp_path / "tmp"))
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_read_only_home_falls_back_to_a_private_temporary_cache(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        home = tmp_path / "home"
        home.mkdir()
        os.chmod(home, 0o500)
    elif os.path.isdir("/proc/self"):
        home = "/proc/self"     # permissions do not bind the superuser; this filesystem does
    else:
        pytest.skip("no directory this user cannot write to")
    try:
        root, messages = _run_with_home(home, tmp_path / "tmp")
    finally:
        if home != "/proc/self":
            os.chmod(home, 0o700)
    assert "cannot use the cache directory" in messages and root in messages
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


# Stored programs (programs/*.json: the generated C and its metadata) are verified like shared
# objects: damaged, unreadable or inconsistent ones are reported and generated again.

@pytest.fixture(scope="module")
def program_cache(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("program-cache"))
    old = os.environ.get("DLGRAD_CACHE_DIR")
    os.environ["DLGRAD_CACHE_DIR"] = path
    yield os.path.join(path, "programs")
    clear_caches()
    if old is None:
        del os.environ["DLGRAD_CACHE_DIR"]
    else:
        os.environ["DLGRAD_CACHE_DIR"] = old


def rosenbrock(x):
    y = dlgrad.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return y, dlgrad.dlgradient(y, x)


ROSEN_AT = np.array([-1.0, 2.0])   # f = 104, gradient [396, 200]


def fresh_call(fn, x):
    """fn's value and gradient, compiled anew in this process (the disk cache may serve it)."""
    clear_caches()
    value, grad = dlgrad.dlfeval(fn, dlgrad.dlarray(x))
    return float(dlgrad.extractdata(value)), dlgrad.extractdata(grad).tolist()


def stored_program(program_cache, fn, x):
    """Compile fn into a cache holding no other program, and return the path of its program."""
    shutil.rmtree(program_cache, ignore_errors=True)
    os.makedirs(program_cache, mode=0o700)
    fresh_call(fn, x)
    (name,) = [n for n in os.listdir(program_cache) if n.endswith(".json")]
    return os.path.join(program_cache, name)


def quietly(fn, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fresh_call(fn, x)


def _flip_100_to_900(text):
    return text.replace(b"100.0*", b"900.0*", 1)   # one bit: '1' ^ 0x08 == '9'


def _truncated(text):
    return text[:len(text) // 2]


def _not_utf8(text):
    return b"\xff\xfe" + text[2:]


def _shapes_edited(text):
    return text.replace(b'"inputs": [[[2]', b'"inputs": [[[3]', 1)


@pytest.mark.parametrize("damage", [_flip_100_to_900, _truncated, _not_utf8, _shapes_edited])
def test_a_damaged_stored_program_is_reported_and_generated_again(program_cache, damage):
    path = stored_program(program_cache, rosenbrock, ROSEN_AT)
    with open(path, "rb") as f:
        text = f.read()
    damaged = damage(text)
    assert damaged != text
    with open(path, "wb") as f:
        f.write(damaged)
    with pytest.warns(RuntimeWarning, match="stored program .* damaged"):
        assert fresh_call(rosenbrock, ROSEN_AT) == (104.0, [396.0, 200.0])
    assert quietly(rosenbrock, ROSEN_AT) == (104.0, [396.0, 200.0])   # rebuilt once, then trusted
    with open(path, "rb") as f:
        assert f.read() == text


@pytest.mark.parametrize("damage", [_truncated, _shapes_edited])
def test_a_stored_program_matching_its_record_but_not_the_request_is_generated_again(program_cache, damage):
    # its hash record rewritten to match: the content itself is checked against what was asked for
    path = stored_program(program_cache, rosenbrock, ROSEN_AT)
    with open(path, "rb") as f:
        text = f.read()
    cache.write_verified(path, damage(text))
    with pytest.warns(RuntimeWarning, match="stored program for .* generated again"):
        assert fresh_call(rosenbrock, ROSEN_AT) == (104.0, [396.0, 200.0])
    assert quietly(rosenbrock, ROSEN_AT) == (104.0, [396.0, 200.0])


def test_a_stored_program_without_its_hash_record_is_a_miss(program_cache):
    def scaled(x):
        y = dlgrad.sum(7.0 * x * x)
        return y, dlgrad.dlgradient(y, x)
    path = stored_program(program_cache, scaled, ROSEN_AT)
    os.unlink(path + ".sha256")
    assert quietly(scaled, ROSEN_AT) == (35.0, [-14.0, 28.0])
    assert build.intact(path) is True


# A cache directory that cannot be used leaves nothing behind.

UNUSABLE_CHILD = ("import numpy as np, dlgrad as dl\n"
                  "y = dl.dlfeval(lambda x: dl.sum(x * x), dl.dlarray(np.ones(3)))\n"
                  "assert float(dl.extractdata(y)) == 3.0\n"
                  "from dlgrad.runtime import cache_dir\n"
                  "print(cache_dir())\n")


def _run_unusable(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "DLGRAD_CACHE_DIR": str(blocker / "cache"), "TMPDIR": str(temp), "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", UNUSABLE_CHILD], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), sorted(n for n in os.listdir(temp) if n.startswith("dlgrad-cache-"))


def test_processes_without_a_usable_cache_share_one_per_user_fallback(tmp_path):
    first, left = _run_unusable(tmp_path)
    second, left_after = _run_unusable(tmp_path)
    assert first == second and left == left_after and len(left) == 1
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o700


def test_a_private_fallback_is_removed_when_the_process_exits(tmp_path):
    (tmp_path / "tmp").mkdir()
    squatted = tmp_path / "tmp" / f"dlgrad-cache-{os.geteuid()}"
    squatted.mkdir()
    os.chmod(squatted, 0o777)       # as if another user had made it: not to be used
    root, left = _run_unusable(tmp_path)
    assert root != str(squatted) and left == [squatted.name]


def test_a_file_where_a_cache_subdirectory_belongs_is_worked_around(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    (root / "so").write_text("in the way")
    monkeypatch.setenv("DLGRAD_CACHE_DIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.warns(RuntimeWarning, match="cannot use the cache directory .*so"):
        path = shared_object(Program(8.0).source)
    assert os.path.dirname(path) != str(root / "so") and build.intact(path) is True
    assert (root / "so").read_text() == "in the way"
