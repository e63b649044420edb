"""Generated programs on disk, keyed by their simplified graph: a hit skips sympy and the emitter.

Each is stored with the hash of its text (cache.write_verified); one that no longer matches it,
or is not UTF-8, is reported and treated as missing, so the caller generates it again.
"""
import os
import warnings

from . import eviction
from .cache import Damaged, cache_dir, read_verified, touch, write_verified


class ProgramStore:
    """get(key) -> text or None; put(key, text). Keys are hex digests chosen by the caller."""

    def _path(self, key: str) -> str:
        return os.path.join(cache_dir("programs"), key + ".json")

    def get(self, key: str):
        path = self._path(key)
        try:
            data = read_verified(path)
            if data is None:
                return None
            text = data.decode("utf-8")
        except (Damaged, UnicodeDecodeError) as exc:
            warnings.warn(f"dlgrad: the stored program {path} is damaged ({exc}); it is discarded and "
                          f"generated again", RuntimeWarning, stacklevel=3)
            return None
        touch(path)
        return text

    def put(self, key: str, text: str) -> None:
        try:
            write_verified(self._path(key), text)
        except OSError:
            return   # a cache that cannot be written only costs time
        eviction.written(len(text.encode()))


programs = ProgramStore()
