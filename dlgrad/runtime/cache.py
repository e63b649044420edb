"""The on-disk cache directory of compiled code, and atomic writes into it."""
import os
import secrets
import tempfile
import warnings

_roots: dict[str, str] = {}
_subdirs: dict[tuple[str, str], str] = {}


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

    Falls back to a private temporary directory, with a warning, when the configured one is unusable.
    """
    wanted = wanted_dir()
    root = _roots.get(wanted)
    if root is None:
        reason = _usable(wanted)
        root = wanted
        if reason is not None:
            root = tempfile.mkdtemp(prefix="dlgrad-cache-")
            warnings.warn(f"dlgrad: cannot use the cache directory {wanted} ({reason}); "
                          f"using {root} for this process", RuntimeWarning, stacklevel=2)
        _roots[wanted] = root
    if not sub:
        return root
    path = _subdirs.get((root, sub))
    if path is None:
        path = os.path.join(root, sub)
        os.makedirs(path, mode=0o700, exist_ok=True)
        _subdirs[(root, sub)] = path
    return path


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
