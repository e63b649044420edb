"""Copies and pickles of AcceleratedFunctions: the same compiled programs in a new cache.

A copy (copy.deepcopy) gets its own cache, statistics and fast slot; its entries are new
wrappers around the same compiled runs, so nothing is traced or compiled again.

A pickle is `restore(state)` with state a dict (FORMAT 1):
  function        the traced function, pickled by reference (module and qualified name)
  max_cache_size, donate, enabled, hits, misses
  check_mode, check_tolerance   CheckMode and CheckTolerance (absent in older pickles: 'none', 1e-4)
  entries         one tuple per signature: (key, program, captured) where key is the
                  signature (tree.signature's tokens), program the C Program as JSON
                  (codegen.lower.Program.to_json: C source, entry point, input and output
                  specs, workspace size, aliases) and captured the Python wrapping of its
                  outputs (the fields of capture.Captured except outputs and guards).
Unpickling loads each program through the disk cache (runtime.load: the shared object is
found by the hash of its source and flags, or built once) and never traces. Entries that
cannot travel are left out and traced again at their first call in the new process: those
with guards (they watch closure cells and globals of this process), those of the numpy
backend (no program), and those whose key or wrapping does not pickle.
"""
from __future__ import annotations

import dataclasses
import pickle

from ..errors import DlgradError
from .capture import Captured
from .cache import entry_for

FORMAT = 1
_DROPPED = ("outputs", "guards")


def state(cache) -> dict:
    """What a pickle of the AcceleratedFunction `cache` holds."""
    entries = []
    for key, call in cache.entries.items():
        if call.guards or call.program is None:
            continue
        captured = {f.name: getattr(call.captured, f.name) for f in dataclasses.fields(call.captured)
                    if f.name not in _DROPPED}
        captured["count"] = len(call.captured.outputs)
        entry = (key, call.program.to_json(), captured)
        try:
            pickle.dumps(entry)
        except (pickle.PicklingError, TypeError, AttributeError):
            continue
        entries.append(entry)
    return {"format": FORMAT, "function": cache.function, "max_cache_size": cache.max_entries,
            "donate": cache.donate, "enabled": cache.active, "hits": cache.hits, "misses": cache.misses,
            "check_mode": cache.check_mode, "check_tolerance": cache.check_tolerance, "entries": entries}


def restore(saved: dict):
    """The AcceleratedFunction a pickle holds (see the module docstring)."""
    from .. import runtime
    from ..codegen.lower import Program
    from .accelerate import AcceleratedFunction
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"not a pickled AcceleratedFunction of format {FORMAT}: "
                         f"format {saved.get('format') if isinstance(saved, dict) else type(saved).__name__}")
    accelerated = AcceleratedFunction(saved["function"], saved["max_cache_size"], saved["donate"])
    cache = accelerated
    cache.active, cache.hits, cache.misses = saved["enabled"], saved["hits"], saved["misses"]
    accelerated.check_mode = saved.get("check_mode", "none")
    accelerated.check_tolerance = saved.get("check_tolerance", 1e-4)
    for key, program, fields in saved["entries"]:
        fields = dict(fields)
        count = fields.pop("count")
        try:
            run = runtime.load(Program.from_json(program), (fields.get("fortran", ()), fields.get("out_fortran", ())))
        except (DlgradError, OSError):   # no compiler here, say: traced again when first called
            continue
        cache.store(key, entry_for(Captured(**fields, outputs=[None] * count, guards=[]), run))
    return accelerated


def copy_entries(source, target) -> None:
    """Give the SignatureCache `target` new entries doing what `source`'s do, and its statistics."""
    copies = {}

    def copied(call):
        if id(call) not in copies:
            copies[id(call)] = call.rebuild()
        return copies[id(call)]
    target.entries.update((key, copied(call)) for key, call in source.entries.items())
    target.variants.update((key, copied(call)) for key, call in source.variants.items())
    target.active, target.hits, target.misses = source.active, source.hits, source.misses
    target.retraces = source.retraces
