"""C source to a shared object in the disk cache, keyed by everything that changes the binary."""
import contextlib
import hashlib
import json
import os
import threading
import warnings

from ..errors import CompilerNotFoundError
from . import compiler, eviction, split
from .cache import atomic_write, cache_dir, file_hash, intact, temp_name, touch

_FORMAT = 3  # bump when the layout of the cache or the meaning of a key changes


def _version() -> str:
    from .. import __version__  # imported late: dlgrad/__init__ may be importing us
    return __version__


def _digest(parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _alias(source: str, directory: str) -> str:
    """Where the key of the last build of `source` on this host is recorded."""
    return os.path.join(directory, _digest(
        [_FORMAT, _version(), compiler.host_fingerprint(), source]) + ".ref")


def shared_object(source: str) -> str:
    """The path of the shared object compiled from `source`, compiling it only on a cache miss.

    The key hashes the source, the flags and libraries (vector math or not), the compiler
    identity, the CPU features -march=native targets and dlgrad's version. With no compiler at
    all, a build made earlier on this host is used.
    A cached file is used only if its content hash matches the one recorded when it was built;
    otherwise it is rebuilt, with a warning.
    """
    directory = cache_dir("so")
    try:
        tc = compiler.toolchain()
    except CompilerNotFoundError:
        found = _built_earlier(source, directory)
        if found is None:
            raise
        return found
    key = _digest([_FORMAT, _version(), tc.identity, tc.flags, tc.libs, tc.target, source])
    path = os.path.join(directory, key + ".so")
    if intact(path) is True:
        touch(path)
    else:
        with locked(path):   # one builder per key; the others wait and find its result
            state = intact(path)
            if state is not True:
                if state is False:
                    warnings.warn(f"dlgrad: the cached shared object {path} does not match the hash "
                                  f"recorded when it was built (truncated, corrupted or replaced); "
                                  f"it is discarded and rebuilt", RuntimeWarning, stacklevel=3)
                _build(tc, source, path)
        atomic_write(_alias(source, directory), key)
    return path


@contextlib.contextmanager
def locked(path: str):
    """An exclusive lock on `path` across processes (a no-op where fcntl is missing).

    The lock file may be removed by eviction while we wait for it: then the lock is taken again
    on the file now at that name, so that two processes never both hold "the" lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    while True:
        handle = open(path + ".lock", "a")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            if os.stat(path + ".lock").st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    with handle:
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class OptionalExtension:
    """An extension module built on first use by load(), or None, with one warning saying
    `fallback`, when it cannot be built. `reset()` forgets the outcome (tests).

    `prefetch()` starts the load in a background thread, so that its compiler runs while the
    caller compiles something else (the first program of a cold cache); get() then waits for it
    and warns, in the caller's thread, if it failed."""

    def __init__(self, load, what: str, fallback: str):
        self._load, self._what, self._fallback = load, what, fallback
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        self._module, self._known, self._pending = None, False, None

    def prefetch(self) -> None:
        """Start building in the background unless the outcome is known or a build is under way."""
        with self._lock:
            if self._known or self._pending is not None:
                return
            outcome: list = []

            def run():
                try:
                    outcome.append((self._load(), None))
                except Exception as exc:  # noqa: BLE001 - reported by get()
                    outcome.append((None, exc))

            thread = threading.Thread(target=run, name=f"dlgrad build of {self._what}", daemon=True)
            self._pending = (thread, outcome)
            thread.start()

    def get(self):
        if not self._known:
            with self._lock:
                if not self._known:
                    pending, self._pending = self._pending, None
                    if pending is not None:
                        pending[0].join()
                        module, error = pending[1][0] if pending[1] else (None, RuntimeError("no result"))
                    else:
                        try:
                            module, error = self._load(), None
                        except Exception as exc:  # noqa: BLE001 - any failure means: use the fallback
                            module, error = None, exc
                    if error is not None:
                        warnings.warn(f"dlgrad: cannot build {self._what} ({type(error).__name__}: {error}); "
                                      f"{self._fallback}", RuntimeWarning, stacklevel=3)
                    self._module, self._known = module, True
        return self._module


def extension(name: str, path: str, make) -> object:
    """The Python extension module `name` cached at `path`, built by make(path) on a miss (or
    when the file does not match its recorded hash: rebuilt with a warning)."""
    if intact(path) is True:
        try:
            return _import(name, path)
        except ImportError:
            pass  # a broken file: rebuild it
    with locked(path):   # one builder at a time; the others find its result
        state = intact(path)
        if state is False:
            warnings.warn(f"dlgrad: the cached extension {path} does not match the hash recorded when it "
                          f"was built; it is discarded and rebuilt", RuntimeWarning, stacklevel=4)
        if state is not True:
            make(path)
    return _import(name, path)


def compile_extension(source: str, out: str, flags: list[str]) -> None:
    """Compile the C file `source`, which includes Python.h, into the extension module `out`
    with the C compiler (one call, no setuptools); CompileError on failure."""
    import shlex
    import subprocess
    import sys
    import sysconfig

    from ..errors import CompileError
    # -DNDEBUG -fwrapv as Python builds extensions; without NDEBUG cffi's asserts cost a third more time
    cmd = [*compiler.find_compiler(), "-g0", "-DNDEBUG", "-fwrapv", "-fPIC", "-shared",
           "-I", sysconfig.get_paths()["include"],
           *flags, source, "-o", out]
    if sys.platform == "darwin":
        cmd += ["-undefined", "dynamic_lookup"]   # Python's symbols come from the process
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise CompileError(f"{shlex.join(cmd)}\n{(done.stderr or done.stdout)[-2000:]}")


def _import(name: str, path: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built_earlier(source: str, directory: str) -> str | None:
    key = recorded_key(source, directory)
    path = os.path.join(directory, f"{key}.so")
    if key is None or not os.path.exists(path):
        return None
    if intact(path) is not True:
        warnings.warn(f"dlgrad: the cached shared object {path} does not match the hash recorded "
                      f"when it was built; it is not loaded", RuntimeWarning, stacklevel=3)
        return None
    return path


def recorded_key(source: str, directory: str) -> str | None:
    """The key of the last build of `source` on this host, if one is recorded (and is a key)."""
    try:
        with open(_alias(source, directory), "rb") as f:
            key = f.read().strip().decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return key if len(key) == 64 and all(c in "0123456789abcdef" for c in key) else None


def _build(tc: compiler.Toolchain, source: str, path: str) -> None:
    """Compile into a private name, record its hash, then move it into place."""
    source_path = path[:-len(".so")] + ".c"
    atomic_write(source_path, source)
    tmp = temp_name(path)
    try:
        if not split.compile_parallel(tc, source, tmp):
            compiler.compile_shared(tc, source_path, tmp)
        atomic_write(path + ".sha256", file_hash(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    eviction.written(os.path.getsize(path) + len(source))
