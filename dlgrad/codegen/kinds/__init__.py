"""Kernel kinds: the one table through which the scheduler places nodes and the emitter writes C.

A kind is a kind of loop nest (an elementwise loop, a reduction, a GEMM, a gather, ...). Each
module of this package defines one or two and registers them with `register`; `schedule.py`
and `emit.py` only look them up (`kind_of(node)` when placing, `KINDS[kernel.kind]` when
emitting). The modules are imported, and so registered, when this package is.

Adding a kind (window loops for convolution, a runtime gather, a scan for cumsum)
-------------------------------------------------------------------------------
Write one module here; `scan.py` (cumsum along an axis, 33 lines) is the model: a `place`
that puts the node into a Kernel through the scheduler, an `emit` that writes its loop nest
on the C tree, and one `register(Kind(name, place, emit), ops=(...))`. Nothing else in
codegen changes, and the C of the other kinds stays byte-identical.

The kind's name heads each of its kernels' comments ("kernel 3: scan over [4, 5]: cumsum").
The services a kind uses:
- scheduler: `over_input(kind, node)`; `operand(x, contiguous)` -> (owner, IndexMap) of an
  input read through strides (a GEMM's operands); `add(Kernel(...), reads)` -> index;
  `ctx`, `kernels`, `forced`; `join(kernel, index, node)` (elementwise roots).
- emitter (kernels.KernelEmitter): `names` (C variable of each buffer), `owner(x)`,
  `access_table`, `numeric`, `body_statements`, `stored(roots)`, `index_table(k, array)`,
  `function(index, kernel, reads, writes, block)` -> (Function, call).
- C: the tree of csyntax.py (For with start/step/pragma, Block, Scope, Stmt); see
  reduce.py for a body reduced along axes, gather.py for a kernel reading a buffer.

`ops=` claims graph ops by name, `op_kinds=` by registry kind (graph/registry.py ELEMENTWISE,
REDUCE, ...); a name wins over a kind. `needs_memory` defaults to `always` (the kind writes
the whole result). Optional hooks: `join` lets a kernel of the kind take elementwise roots
of its shape (as a GEMM takes its epilogue), and `in_place` names the roots it writes at
the very position it reads them (donation, emit._grant_aliases).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

from ...graph.registry import OPS
from ..body import Body


@dataclass
class Kernel:
    kind: str                  # a name in KINDS: "elementwise", "reduce", "matmul", "gather", ...
    shape: tuple               # iteration shape
    roots: list                # nodes written by the kernel
    body: Body = None
    exprs: dict = field(default_factory=dict)     # id(root) -> expression
    operands: list = field(default_factory=list)  # matmul/gather/scatter: (node, imap) per input
    deps: set = field(default_factory=set)        # indices of kernels this one reads from
    packed: bool = False                          # matmul: the GEMM packs B (gemm.packs)
    scratch: str = ""                             # C name of its workspace block (Kind.scratch)
    nested: object = None                         # a kind's own data between scratch and emit


def always(scheduler, node, uses) -> bool:
    return True


def never(kernel) -> tuple:
    return ()


@dataclass(frozen=True)
class Kind:
    """How nodes of one kind of loop nest are placed into kernels, and how those are emitted.

    place(scheduler, node) -> int                  index of the kernel that now computes node
    emit(emitter, index, kernel) -> (Function, str) the kernel's C function and its call
    needs_memory(scheduler, node, uses) -> bool    whether node gets a buffer of its own
    join(scheduler, kernel, index, node) -> bool   take an elementwise root of kernel's shape
    in_place(kernel) -> roots                      roots written where they are read (donation)
    over_operand                                   its one root may be written over its first
                                                   operand's memory (the kernel skips the copy)
    scratch(emitter, index, kernel) -> int         bytes of workspace the kernel uses while it
                                                   runs (named kernel.scratch; a loop's step's)
    in_registers(kernel) -> roots                  roots its own body reads from registers, not
                                                   memory: stored only if another kernel reads them
    """
    name: str
    place: Callable
    emit: Callable
    needs_memory: Callable = always
    join: Optional[Callable] = None
    in_place: Callable = never
    over_operand: bool = False
    scratch: Optional[Callable] = None
    in_registers: Callable = never


KINDS: dict[str, Kind] = {}
_BY_OP: dict[str, str] = {}        # graph op name -> kind name
_BY_OP_KIND: dict[str, str] = {}   # graph registry kind -> kind name


def register(kind: Kind, ops=(), op_kinds=()) -> Kind:
    """Add `kind` to the table; it places the graph ops named in `ops` and those of `op_kinds`."""
    if kind.name in KINDS:
        raise ValueError(f"kernel kind {kind.name!r} registered twice")
    for table, keys in ((_BY_OP, ops), (_BY_OP_KIND, op_kinds)):
        for key in keys:
            if key in table:
                raise ValueError(f"{key!r} is placed by kernel kind {table[key]!r} already, not {kind.name!r}")
    KINDS[kind.name] = kind
    _BY_OP.update(dict.fromkeys(ops, kind.name))
    _BY_OP_KIND.update(dict.fromkeys(op_kinds, kind.name))
    return kind


def kind_of(node) -> Kind:
    """The kind that places `node`: the one claiming its op by name, else its registry kind."""
    name = _BY_OP.get(node.op) or _BY_OP_KIND.get(OPS[node.op].kind)
    if name is None:
        raise NotImplementedError(f"no kernel kind computes op {node.op!r} (registry kind "
                                  f"{OPS[node.op].kind!r}): add one in dlgrad/codegen/kinds/")
    return KINDS[name]


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
