"""Generated programs on disk, keyed by their simplified graph: a hit skips sympy and the emitter."""
import os

from .cache import atomic_write, cache_dir


class ProgramStore:
    """get(key) -> text or None; put(key, text). Keys are hex digests chosen by the caller."""

    def _path(self, key: str) -> str:
        return os.path.join(cache_dir("programs"), key + ".json")

    def get(self, key: str):
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return None

    def put(self, key: str, text: str) -> None:
        try:
            atomic_write(self._path(key), text)
        except OSError:
            pass   # a cache that cannot be written only costs time


programs = ProgramStore()
