"""C source to a shared object in the disk cache, keyed by everything that changes the binary."""
import hashlib
import json
import os

from ..errors import CompilerNotFoundError
from . import compiler
from .cache import atomic_write, cache_dir, temp_name

_FORMAT = 1  # bump when the layout of the cache or the meaning of a key changes


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

    The key hashes the source, the flags, the compiler identity, the CPU features -march=native
    targets and dlgrad's version. With no compiler at all, a build made earlier on this host is used.
    """
    directory = cache_dir("so")
    try:
        tc = compiler.toolchain()
    except CompilerNotFoundError:
        found = _built_earlier(source, directory)
        if found is None:
            raise
        return found
    key = _digest([_FORMAT, _version(), tc.identity, tc.flags, tc.target, source])
    path = os.path.join(directory, key + ".so")
    if not os.path.exists(path):
        _build(tc, source, path)
        atomic_write(_alias(source, directory), key)
    return path


def _built_earlier(source: str, directory: str) -> str | None:
    try:
        with open(_alias(source, directory), encoding="ascii") as f:
            key = f.read().strip()
    except OSError:
        return None
    path = os.path.join(directory, key + ".so")
    return path if key and os.path.exists(path) else None


def _build(tc: compiler.Toolchain, source: str, path: str) -> None:
    """Compile into a private name, then move it into place: concurrent builders all succeed."""
    source_path = path[:-len(".so")] + ".c"
    atomic_write(source_path, source)
    tmp = temp_name(path)
    try:
        compiler.compile_shared(tc, source_path, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
