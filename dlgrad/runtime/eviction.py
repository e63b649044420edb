"""A size bound on the disk cache: least recently used entries are evicted when entries are written.

An entry is every file of one key: `programs/KEY.json` (+ its hash record), `so/KEY.so` (+ hash
record, C source, lock). A program evicted takes the shared object built from its source along.
Lookups only touch what they use (cache.touch), so eviction costs nothing on a hit; the directory
is scanned at the first write of a process and then after every 1/32 of the bound written.
Evicting is safe under concurrent processes: a loaded shared object stays mapped after it is
unlinked (POSIX), entries used in the last minute are kept, a shared object being built (its
lock held) is kept, and a lookup that finds half an entry treats it as a miss and rebuilds.
"""
import json
import os
import re
import threading
import time

from .cache import cache_dir

VARIABLE = "DLGRAD_CACHE_MAX_BYTES"
DEFAULT = 1 << 30
RECENT = 60.0            # seconds: an entry used this recently is never evicted
STALE_TEMPORARY = 3600.0  # seconds: a temporary file this old was left by a killed process
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

_lock = threading.Lock()
_pending: dict[str, int] = {}   # cache root -> bytes written since this process last trimmed it


def max_bytes() -> int | None:
    """The bound from DLGRAD_CACHE_MAX_BYTES (bytes, or with a K, M, G or T suffix: powers of
    1024), 1 GiB when unset; None (no bound) for 0."""
    text = os.environ.get(VARIABLE, "").strip()
    if not text:
        return DEFAULT
    match = re.fullmatch(r"(\d+)\s*([KMGT]?)(?:I?B)?", text.upper())
    if match is None:
        raise ValueError(f"{VARIABLE} must be a size in bytes such as 500000000 or 2G (0: no bound), "
                         f"got {text!r}")
    value = int(match[1]) * _UNITS[match[2]]
    return value or None


def written(nbytes: int) -> None:
    """Account for `nbytes` just added to the cache; trim it to its bound now and then."""
    bound = max_bytes()
    if bound is None:
        return
    root = cache_dir()
    with _lock:
        since = _pending.get(root)
        due = since is None or since + nbytes >= bound // 32
        _pending[root] = 0 if due else since + nbytes
    if due:
        trim(bound)


def trim(bound: int, now: float | None = None) -> int:
    """Evict least recently used entries until the programs and shared objects take at most
    9/10 of `bound` bytes (or only recent ones are left); returns the bytes freed.
    One process trims at a time; the others skip."""
    try:
        import fcntl
    except ImportError:
        return 0
    now = time.time() if now is None else now
    root = cache_dir()
    try:
        guard = open(os.path.join(root, "evict.lock"), "a")
    except OSError:
        return 0
    with guard:
        try:
            fcntl.flock(guard.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0   # another process is trimming
        try:
            return _trim(root, bound, now)
        finally:
            fcntl.flock(guard.fileno(), fcntl.LOCK_UN)


def _entries(directory: str, now: float) -> dict:
    """KEY -> [newest mtime, total bytes, paths]; stale temporaries are removed on the way."""
    entries = {}
    try:
        scan = list(os.scandir(directory))
    except OSError:
        return entries
    for item in scan:
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if item.name.startswith("."):
            if item.name.endswith(".tmp") and now - st.st_mtime > STALE_TEMPORARY:
                _unlink(item.path)
            continue
        entry = entries.setdefault(item.name.split(".", 1)[0], [0.0, 0, []])
        entry[0] = max(entry[0], st.st_mtime)
        entry[1] += st.st_size
        entry[2].append(item.path)
    return entries


def _trim(root: str, bound: int, now: float) -> int:
    programs = _entries(os.path.join(root, "programs"), now)
    objects = _entries(os.path.join(root, "so"), now)
    total = sum(e[1] for e in programs.values()) + sum(e[1] for e in objects.values())
    target, freed = bound * 9 // 10, 0
    order = sorted([(e[0], "programs", key) for key, e in programs.items()]
                   + [(e[0], "so", key) for key, e in objects.items()])
    for used, kind, key in order:
        if total - freed <= target or now - used < RECENT:
            break
        table = programs if kind == "programs" else objects
        entry = table.pop(key, None)
        if entry is None:   # already evicted along with its program
            continue
        if kind == "programs":
            linked = _linked_object(entry[2], os.path.join(root, "so"))
            if linked in objects and now - objects[linked][0] >= RECENT and _evict(objects[linked][2]):
                freed += objects.pop(linked)[1]
        if _evict(entry[2]):
            freed += entry[1]
    return freed


def _linked_object(paths, directory: str) -> str | None:
    """The key of the shared object last built on this host from the program stored in `paths`."""
    from .build import recorded_key
    program = next((p for p in paths if p.endswith(".json")), None)
    try:
        with open(program, "rb") as f:
            source = json.loads(f.read())["source"]
        return recorded_key(source, directory)
    except (OSError, TypeError, ValueError, KeyError):
        return None


def _evict(paths) -> bool:
    """Remove the files of one entry (a shared object only if nobody is building it): the main
    file first, then its hash record, so a reader sees a whole entry or a miss. False if skipped."""
    import fcntl
    lock = next((p for p in paths if p.endswith(".lock")), None)
    handle = None
    if lock is not None:
        try:
            handle = open(lock, "a")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if handle is not None:
                handle.close()
            return False
    try:
        for path in sorted(paths, key=lambda p: (p == lock, p.endswith(".sha256"))):
            _unlink(path)
    finally:
        if handle is not None:
            handle.close()
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
