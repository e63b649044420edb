"""Where a captured graph runs: compiled C (default) or the numpy reference (DLGRAD_BACKEND=numpy).

`build(outputs, specs)` is the one place that chooses; it returns `run(*arrays) -> [arrays]`
taking C-contiguous arrays of exactly the specs' shapes and dtypes (F-contiguous ones of the
reversed shapes where it is told an argument is column-major).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..graph.interpret import evaluate
from ..graph.node import pretty
from ..graph.rewrite import simplify

BACKENDS = ("c", "numpy")


def backend_name() -> str:
    """The backend DLGRAD_BACKEND selects ("c" unless it says "numpy")."""
    name = os.environ.get("DLGRAD_BACKEND", "c").strip().lower() or "c"
    if name not in BACKENDS:
        raise ValueError(f"DLGRAD_BACKEND must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def _codegen_lower():
    """codegen's lower, or None while the codegen layer is not available."""
    try:
        from ..codegen import lower
    except (ImportError, AttributeError):
        return None
    return lower


def build(outputs, specs, donate=(), fortran=None):
    """run(*arrays) -> list of arrays computing `outputs` (Nodes) from runtime inputs with `specs`.

    `donate` lists (output, input) pairs whose output may overwrite the input array in place;
    the backend does so where it is safe and returns that input array as the output.
    `fortran` = (inputs, outputs) flags the arrays that are column-major: an F-contiguous array
    whose transpose (a C array) has the shape its spec or output node gives.
    """
    if not outputs:
        return lambda *arrays: []
    lower = _codegen_lower() if backend_name() == "c" else None
    if lower is None:
        return numpy_run(outputs, donate, fortran)
    from .. import runtime
    from ..runtime.programs import programs
    # the CompiledFunction: callable like run, and it can join the caller's result wrapping
    return runtime.load(lower(list(outputs), list(specs), store=programs, donate=tuple(donate)), fortran)


def numpy_run(outputs, donate=(), fortran=None):
    """The reference backend: the simplified graph evaluated by the numpy interpreter.

    It ignores `donate` (a permission, not a promise): its results are always new arrays, so
    that donation never changes memory another dlarray or a numpy array of the caller can see.
    """
    simplified = simplify(list(outputs), final=True)
    fin, fout = fortran or ((), ())
    if not any(fin) and not any(fout):
        def run(*arrays):
            # fresh C-contiguous arrays: a result never aliases an input or another result
            return [np.array(v, order="C", copy=True) for v in evaluate(simplified, arrays)]
        return run

    def run_fortran(*arrays):
        # a column-major argument is read as the C array of its transpose, as compiled code does
        arrays = [a.T if k < len(fin) and fin[k] else a for k, a in enumerate(arrays)]
        return [np.array(v, order="C", copy=True).T if k < len(fout) and fout[k] else np.array(v, order="C", copy=True)
                for k, v in enumerate(evaluate(simplified, arrays))]
    return run_fortran


@dataclass(frozen=True)
class Lowered:
    """What a traced function compiles to: the simplified graph and the C translation unit."""
    graph_text: str
    c_source: Optional[str]
    program: object = None

    def __str__(self):
        return self.graph_text


def lower_outputs(outputs, specs) -> Lowered:
    """The Lowered form of `outputs`; c_source is None when no code generator is available."""
    lower = _codegen_lower()
    if lower is None or not outputs:
        return Lowered(pretty(simplify(list(outputs))), None)
    program = lower(list(outputs), list(specs))
    return Lowered(program.graph_text, program.source, program)
