"""The on-disk cache directory of compiled code, atomic writes into it, and the content hashes
every file read back from it is checked against."""
import atexit
import hashlib
import os
import secrets
import shutil
import tempfile
import warnings

_roots: dict[str, str] = {}
_subdirs: dict[tuple[str, str], str] = {}
_temporary: list[str] = []   # this process's own fallback directory, removed at exit


def wanted_dir() -> str:
    """The configured cache directory: $DLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/dlgrad or ~/.cache/dlgrad."""
    explicit = os.environ.get("DLGRAD_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "dlgrad")


def _usable(path: str) -> str | None:
    """Create `path` (mode 0o700) if needed; return why it cannot be used, or None.

    An existing directory must belong to this user and be writable by nobody else."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        return str(exc)
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    if hasattr(os, "geteuid"):   # code is loaded from here: nobody else may write into it
        st = os.stat(path)
        if st.st_uid != os.geteuid():
            return "owned by another user"
        if st.st_mode & 0o022:
            return f"writable by other users (mode {st.st_mode & 0o777:o})"
    return None


def cache_dir(sub: str = "") -> str:
    """The cache directory (or its subdirectory `sub`), created on first use.

    When the configured one (or its `sub`) is unusable, says so once and falls back to this
    user's cache in the temporary directory, or failing that to a private one removed at exit.
    """
    wanted = wanted_dir()
    root = _roots.get(wanted)
    if root is None:
        reason = _usable(wanted)
        root = wanted
        if reason is not None:
            root = _fallback(wanted, "")
            warnings.warn(f"dlgrad: cannot use the cache directory {wanted} ({reason}); "
                          f"using {root} instead", RuntimeWarning, stacklevel=2)
        _roots[wanted] = root
    if not sub:
        return root
    path = _subdirs.get((root, sub))
    if path is None:
        try:
            path = _subdir(root, sub)
        except OSError as exc:   # say, a file of that name
            path = _subdir(_fallback(root, sub), sub)
            warnings.warn(f"dlgrad: cannot use the cache directory {os.path.join(root, sub)} ({exc}); "
                          f"using {path} instead", RuntimeWarning, stacklevel=2)
        _subdirs[(root, sub)] = path
    return path


def _subdir(root: str, sub: str) -> str:
    path = os.path.join(root, sub)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _user() -> str:
    if hasattr(os, "geteuid"):
        return str(os.geteuid())
    import getpass
    return "".join(c for c in getpass.getuser() if c.isalnum()) or "user"


def _fallback(avoid: str, sub: str) -> str:
    """A cache root other than `avoid` in which `sub` can be made: one per user in the temporary
    directory (shared by this user's processes, so nothing piles up there), else a private
    directory of this process, removed when it exits."""
    shared = os.path.join(tempfile.gettempdir(), f"dlgrad-cache-{_user()}")
    if shared != avoid and not os.path.islink(shared) and _usable(shared) is None:
        try:
            if sub:
                _subdir(shared, sub)
            return shared
        except OSError:
            pass
    if not _temporary or _temporary[0] == avoid:
        root = tempfile.mkdtemp(prefix="dlgrad-cache-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _temporary.insert(0, root)
    return _temporary[0]


def temp_name(path: str) -> str:
    """A fresh name next to `path`, for building a file before moving it into place with os.replace."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def atomic_write(path: str, data: bytes | str, fsync: bool = False) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    if isinstance(data, str):
        data = data.encode()
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Damaged(Exception):
    """A cached file differs from the content hash recorded when it was written."""


def read_verified(path: str) -> bytes | None:
    """The bytes of `path` if they match the hash recorded beside it (`path`.sha256) when it was
    written; None if the file or its record is missing (a miss: a write or an eviction may be
    half done); raises Damaged if they differ."""
    try:
        with open(path + ".sha256", "rb") as f:
            recorded = f.read().strip()
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        if os.path.exists(path) and os.path.exists(path + ".sha256"):
            raise Damaged(f"{path} cannot be read ({exc})") from exc
        return None
    if hashlib.sha256(data).hexdigest().encode() != recorded:
        raise Damaged(f"{path} does not match the hash recorded when it was written")
    return data


def intact(path: str):
    """True if `path` exists with the content hash recorded next to it when it was built; None if
    there is no such file (or no record); False if it differs from the record."""
    try:
        return read_verified(path) is not None or None
    except Damaged:
        return False


def write_verified(path: str, data: bytes | str) -> None:
    """Write `data` to `path` with its hash recorded beside it (the record first: a reader never
    finds the new file without it)."""
    if isinstance(data, str):
        data = data.encode()
    atomic_write(path + ".sha256", hashlib.sha256(data).hexdigest())
    atomic_write(path, data)


def touch(path: str) -> None:
    """Mark `path` as just used (least recently used entries are evicted first)."""
    try:
        os.utime(path)
    except OSError:
        pass
