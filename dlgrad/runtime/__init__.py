"""Compiling generated C, caching it on disk, and calling it with numpy arrays."""
import os

from ..errors import DlgradError
from . import fastcall, trampoline
from .build import shared_object
from .cache import cache_dir
from .compiler import find_compiler
from .function import CompiledFunction


def load(program, fortran=None) -> CompiledFunction:
    """Compile `program` (or find it in the disk cache) and return it as a callable; `fortran` =
    (inputs, outputs) flags the arrays callers pass column-major (see CompiledFunction)."""
    # The call path's extensions (built once per cache) compile alongside the program.
    trampoline.prefetch()
    if fastcall.enabled():
        fastcall.prefetch()
    layout = (fortran,) if fortran is not None and any(map(any, fortran)) else ()   # C-only: as before
    for attempt in range(LOAD_ATTEMPTS):
        path = shared_object(program.source)
        try:
            return CompiledFunction(program, path, *layout)
        except (DlgradError, OSError):
            # evicted by another process between the lookup and loading: build it again
            if os.path.exists(path) or attempt == LOAD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# an entry is evicted between lookup and loading only by another process trimming the cache
# within eviction.RECENT of its use; each attempt builds it anew
LOAD_ATTEMPTS = 5


__all__ = ["CompiledFunction", "cache_dir", "find_compiler", "load", "shared_object"]
