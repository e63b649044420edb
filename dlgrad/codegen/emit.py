"""The codegen pipeline's back: schedule -> memory plan -> one C translation unit (a Program)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..graph.node import toposort
from .csyntax import CTYPE, Block, Function, Switch
from .gemm import PARALLEL, PARALLEL_MACRO
from .indexmap import c_strides
from .kernels import KernelEmitter
from .kinds import KINDS
from .kinds.take import check_block, index_checks
from .lower import Program
from .memory import plan_workspace
from .vecmath import vector_math_block

HELPERS = (Path(__file__).parent / "c" / "dl_helpers.h").read_text()
RANDOM_HELPERS = (Path(__file__).parent / "c" / "dl_random.h").read_text()


# Kernels take restrict pointers, and workspace blocks are reused by later kernels. Once
# gcc 12 inlines two kernels into the entry point it applies one kernel's restrict promise
# across the other and miscompiles at -O2 with vectorisation: keep every kernel a call.
KERNEL_MACRO = """#ifndef DLGRAD_KERNEL
#if defined(__GNUC__)
#define DLGRAD_KERNEL static __attribute__((noinline))
#else
#define DLGRAD_KERNEL static
#endif
#endif
"""


class Unit:
    """What the programs of one translation unit share: constant tables, one per distinct bytes
    (a loop's step is a program nested in its kernel, emit_nested)."""

    def __init__(self, name):
        self.name, self.consts, self.statics, self.tables = name, [], [], {}

    def const_table(self, prefix, node):
        # constants with the same bytes (e.g. one vector as a row and as a column) share a table
        data = (node.dtype, node.attr("value").array.tobytes())
        if data not in self.tables:
            self.tables[data] = f"{prefix}_const{len(self.consts)}"
            self.consts.append(_static_array(self.tables[data], node.dtype, node.attr("value").array))
        return self.tables[data]

    def index_table(self, prefix, k, indices):
        # a gather and its adjoint scatter read one index table (conv's im2col tables were
        # megabytes of C text: gcc's parsing dominated a CNN's compile)
        indices = indices.ravel()
        data = ("intp", indices.tobytes())
        if data not in self.tables:
            self.tables[data] = f"{prefix}_index{k}"
            self.statics.append(_static_array(self.tables[data], "intp", indices))
        return self.tables[data]


class _Scratch:
    """A kernel's transient workspace block (a kind's `scratch` hook), planned like a buffer."""
    __slots__ = ("size", "dtype", "serial")

    def __init__(self, nbytes):
        self.size, self.dtype, self.serial = -(-int(nbytes) // 8), "float64", -1


@dataclass
class _Plan:
    """Names, workspace layout and kernel order of one program (the entry point's or a step's)."""
    emitter: KernelEmitter
    names: dict
    work: list            # (C declaration, byte offset) of each workspace block
    work_bytes: int
    input_nodes: dict     # input index -> node
    first_write: dict
    last_read: dict


def _plan(sched, outputs, prefix, unit, provenance=None):
    ctx, kernels = sched.ctx, sched.kernels
    names = {}
    for i, node in enumerate(outputs):
        names[id(node)] = f"out{i}"
    # which owners are read by some kernel (the rest of the roots stay kernel-local)
    first_write, last_read = {}, {}
    for k, kernel in enumerate(kernels):
        for root in kernel.roots:
            first_write.setdefault(id(root), k)
        local = {id(r) for r in KINDS[kernel.kind].in_registers(kernel)}
        owners = [load.buffer for load in kernel.body.loads if id(load.buffer) not in local] if kernel.body else []
        owners += [ctx.storage(x)[0] for x, _ in kernel.operands]
        for owner in owners:
            last_read[id(owner)] = k
    output_ids = {id(o) for o in outputs}
    stored = {id(n) for n in sched.materialized.values() if id(n) in last_read or id(n) in output_ids}
    work_nodes = [n for n in sched.materialized.values() if id(n) in stored and id(n) not in output_ids]
    for number, node in enumerate(work_nodes):   # numbered in order: serials vary between runs
        names[id(node)] = f"buf{number}"
    emitter = KernelEmitter(prefix, names, ctx, provenance,
                            lambda k, indices: unit.index_table(prefix, k, indices))
    emitter.unit = unit
    scratch = []
    for k, kernel in enumerate(kernels):
        hook = KINDS[kernel.kind].scratch
        nbytes = hook(emitter, k, kernel) if hook is not None else 0
        if nbytes:
            block = _Scratch(nbytes)
            first_write[id(block)] = last_read[id(block)] = k
            names[id(block)] = kernel.scratch = f"scratch{k}"
            scratch.append(block)
    offsets, work_bytes = plan_workspace(work_nodes + scratch, first_write, last_read)
    input_nodes = {}
    for node in toposort(outputs):
        if node.op == "input":
            names[id(node)] = f"in{node.attr('index')}"
            input_nodes[node.attr("index")] = node
        elif node.op == "const" and node.size != 1:
            names[id(node)] = unit.const_table(prefix, node)
    work = [(f"{CTYPE[n.dtype]} *const {names[id(n)]}", offsets[id(n)]) for n in work_nodes]
    work += [(f"char *const {names[id(b)]}", offsets[id(b)]) for b in scratch]
    return _Plan(emitter, names, work, work_bytes, input_nodes, first_write, last_read)


def _emit_kernels(plan, kernels):
    functions, calls = [], []
    for k, kernel in enumerate(kernels):
        fn, call = KINDS[kernel.kind].emit(plan.emitter, k, kernel)
        functions.append(fn)
        calls.append(call)
    return functions, calls


def emit_nested(unit, outputs, specs, name, comment, donate=()):
    """A program nested in a kernel (a loop's step): its kernels and its entry point
    `int NAME(in..., out..., work)` (a kernel function itself, so the two-unit build splits
    around it), for the enclosing unit. Returns (functions, workspace bytes, aliases): the
    (output, input) pairs of `donate` granted may be passed one pointer (see emit)."""
    import sympy

    from ..graph import scalar as S
    from .lower import prepare_roots
    from .schedule import schedule
    roots = prepare_roots(outputs)
    sched = schedule(roots, sympy, S)
    plan = _plan(sched, roots, name, unit)
    aliases = _grant_aliases(donate, sched.kernels, roots, specs, plan.input_nodes, plan.first_write,
                             plan.last_read, sched.ctx)
    for out, inp in aliases:
        if inp in plan.input_nodes:
            plan.names[id(plan.input_nodes[inp])] = f"out{out}"
    functions, calls = _emit_kernels(plan, sched.kernels)
    in_types = [CTYPE[dtype] for _, dtype in specs]
    out_types = [CTYPE[node.dtype] for node in roots]
    entry = _entry_points(name, in_types, out_types, plan.work, calls)[0]
    functions.append(Function("DLGRAD_KERNEL " + entry.signature, entry.body, comment))
    return functions, plan.work_bytes, aliases


def emit(sched, outputs, inputs, name, header, graph_text, provenance=None, labels=None, donate=()):
    kernels, unit = sched.kernels, Unit(name)
    plan = _plan(sched, outputs, name, unit, provenance)
    aliases = _grant_aliases(donate, kernels, outputs, inputs, plan.input_nodes, plan.first_write,
                             plan.last_read, sched.ctx)
    for out, inp in aliases:   # the donated input is read through the output pointer it becomes
        if inp in plan.input_nodes:
            plan.names[id(plan.input_nodes[inp])] = f"out{out}"
    functions, calls = _emit_kernels(plan, kernels)
    in_types = [CTYPE[dtype] for _, dtype in inputs]
    out_types = [CTYPE[node.dtype] for node in outputs]
    checks = index_checks(toposort(outputs))
    sizes = [(f"in{i}", int(np.prod(s, dtype=np.int64))) for i, (s, _) in enumerate(inputs)]
    entries = _entry_points(name, in_types, out_types, plan.work, calls, check_block(checks, sizes, in_types))
    if labels is None:
        labels = ([f"in{i}" for i in range(len(inputs))], [f"out{i}" for i in range(len(outputs))])
    interface = _interface(name, [s for s, _ in inputs], [o.shape for o in outputs], plan.work_bytes, *labels)
    header = header.replace("*/", "* /")
    helpers, kernel_texts = _helpers(name, [f.text() for f in functions])
    if any(PARALLEL in text for text in kernel_texts):
        helpers = PARALLEL_MACRO + helpers
    statics = unit.statics
    stdint = any(" int32_t " in text for text in statics) or any("int64_t" in t for t in [*in_types, *out_types,
                                                                                          *kernel_texts])
    parts = [f"/* {header} */\n" if header else "",
             "#include <math.h>\n#include <stddef.h>\n" + ("#include <stdint.h>\n" if stdint else ""), KERNEL_MACRO, vector_math_block([helpers, *kernel_texts]),
             helpers, "\n".join(unit.consts + statics),
             *kernel_texts, *(f.text() for f in entries), interface]
    source = "\n".join(p for p in parts if p)
    return Program(source=source, entry=f"{name}_eval", name=name,
                   inputs=tuple((tuple(s), d) for s, d in inputs),
                   outputs=tuple((o.shape, o.dtype) for o in outputs),
                   work_bytes=int(plan.work_bytes), graph_text=graph_text, aliases=aliases,
                   checks=tuple((i, high, what) for i, high, what, _ in checks))


def _grant_aliases(donate, kernels, outputs, inputs, input_nodes, first_write, last_read, ctx):
    """The (output, input) pairs of `donate` whose output can overwrite the input in place.

    Safe when no kernel after the one writing the output reads the input, and that kernel
    reads it, if at all, only elementwise at the very position it stores (a loop iteration
    loads everything before it stores). Unsafe pairs are dropped: the output gets its own memory.
    """
    granted, used = [], set()
    for out, inp in donate:
        out, inp = int(out), int(inp)
        if ("out", out) in used or ("in", inp) in used or not (0 <= out < len(outputs) and 0 <= inp < len(inputs)):
            continue
        root, source = outputs[out], input_nodes.get(inp)
        shape, dtype = inputs[inp]
        if root.shape != tuple(shape) or root.dtype != dtype:
            continue
        k = first_write.get(id(root))
        if source is not None and (k is None or last_read.get(id(source), -1) > k
                                   or not _reads_in_place(kernels[k], source, ctx, root)):
            continue
        granted.append((out, inp))
        used.update((("out", out), ("in", inp)))
    return tuple(granted)


def _reads_in_place(kernel, source, ctx, root):
    """Whether `kernel` reads `source` only at the positions where it writes `root` (or not at
    all). A matmul kernel's epilogue qualifies (it runs on each element once, after the product
    is computed), unless `root` is the product itself: that is written before its epilogue reads
    (the kind's `in_place` roots are those written where they are read)."""
    operands = [ctx.storage(x)[0] for x, _ in kernel.operands]
    if any(owner is source for owner in operands):
        # a kind may overwrite its first operand in place (kinds/take.py's index_add)
        return (KINDS[kernel.kind].over_operand and operands[0] is source and kernel.roots == [root]
                and not any(owner is source for owner in operands[1:]))
    loads = [load for load in kernel.body.loads if load.buffer is source] if kernel.body else []
    if not loads:
        return True
    if kernel.shape != source.shape or not any(r is root for r in KINDS[kernel.kind].in_place(kernel)):
        return False
    strides = c_strides(source.shape)
    return all(load.offset == 0 and all(b is None for b in load.bounds)
               and all(n == 1 or c == s for c, s, n in zip(load.coefs, strides, source.shape))
               for load in loads)


def _static_array(cname, dtype, array):
    if dtype == "int64":
        values = ", ".join(map(str, array.ravel().tolist()))
        return f"static const int64_t {cname}[{max(array.size, 1)}] = {{{values or '0'}}};"
    if dtype == "intp":
        # int32_t where every index fits (half the bytes a gather streams), else ptrdiff_t
        small = array.size == 0 or (int(array.min()) >= -2 ** 31 and int(array.max()) < 2 ** 31)
        values = ", ".join(map(str, array.ravel().tolist()))
        return (f"static const {'int32_t' if small else 'ptrdiff_t'} {cname}[{max(array.size, 1)}] = "
                f"{{{values or '0'}}};")
    values = ", ".join(repr(float(v)) if np.isfinite(v) else ("NAN" if np.isnan(v) else ("INFINITY" if v > 0 else "-INFINITY"))
                       for v in array.ravel())
    suffix = "f" if dtype == "float32" else ""
    if suffix:
        values = ", ".join(v + "f" if v[-1].isdigit() else v for v in values.split(", "))
    return f"static const {CTYPE[dtype]} {cname}[{max(array.size, 1)}] = {{{values or '0'}}};"   # C has no empty arrays


def _helpers(name, texts):
    """The helpers of c/dl_helpers.h that `texts` (kernels) call, renamed NAME_dl_*, and the texts.

    Only used helpers are emitted (an unused static function is a clang warning), and the
    prefix keeps two exports apart even when they share a translation unit.
    """
    available = _helper_functions()
    wanted, pending = set(), re.findall(r"\bdl_\w+(?=\()", "\n".join(texts))
    while pending:
        helper = pending.pop()
        if helper in available and helper not in wanted:
            wanted.add(helper)
            pending += re.findall(r"\bdl_\w+(?=\()", available[helper])

    def rename(text):
        return re.sub(r"\bdl_\w+(?=\()", lambda m: f"{name}_{m.group(0)}" if m.group(0) in available
                      else m.group(0), text)
    if not wanted:
        return "", texts
    used = [rename(text) for helper, text in available.items() if helper in wanted]
    head = "/* dlgrad helpers: numerically stable forms and derivative conventions. */\n"
    return head + "".join(used), [rename(text) for text in texts]


@functools.lru_cache(maxsize=None)
def _helper_functions():
    """{helper name: C definition} for c/dl_helpers.h, its DL_HELPERS(T, F, SUFFIX) macro expanded."""
    table, lines = {}, HELPERS.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("#define DL_HELPERS(")), None)
    body, uses = lines, [("", "", "")]
    if start is not None:
        end = start
        while lines[end].rstrip().endswith("\\"):
            end += 1
        body = [line.rstrip().rstrip("\\").rstrip() for line in lines[start + 1:end + 1]]
        uses = [tuple(part.strip() for part in m.groups()) for m in
                (re.match(r"DL_HELPERS\(([^,]*),([^,]*),([^)]*)\)", line) for line in lines[end + 1:]) if m]
    definitions, current = [], None
    for line in body:
        if line.startswith("static inline"):
            current = [line]
            definitions.append(current)
        elif current is not None:
            current.append(line)
    for ctype, suffix_f, suffix in uses:
        for definition in definitions:
            text = "\n".join(definition).replace("##F", suffix_f).replace("##SUFFIX", suffix)
            text = re.sub(r"\bT\b", ctype, text) if ctype else text
            helper = re.search(r"\b(dl_\w+)\(", text).group(1)
            table[helper] = text.rstrip() + "\n"
    # c/dl_random.h: plain definitions (no type macro), each from its `static inline` line on
    definition = []
    for line in RANDOM_HELPERS.splitlines() + ["static inline"]:
        if line.startswith("static inline"):
            if definition:
                table[re.search(r"\b(dl_\w+)\(", definition[0]).group(1)] = "\n".join(definition).rstrip() + "\n"
            definition = [line]
        elif definition:
            definition.append(line)
    return table


def _entry_points(name, in_types, out_types, work, calls, checks=None):
    """NAME(in0, ..., out0, ..., work), which runs the kernels, and NAME_eval over pointer arrays.

    `work` lists (declaration, byte offset) of the workspace buffers; `checks` the statements
    that return a nonzero status for out-of-range index inputs before any kernel runs.
    """
    ins = [f"in{i}" for i in range(len(in_types))]
    outs = [f"out{i}" for i in range(len(out_types))]
    params = [f"const {t} *{p}" for t, p in zip(in_types, ins)] + [f"{t} *{p}" for t, p in zip(out_types, outs)]
    body = Block()
    if work:
        body.add("char *const ws = (char *)work;")
        for declaration, offset in work:
            body.add(f"{declaration} = ({declaration.split()[0]} *)(ws + {offset});")
    if checks is not None and checks.body:
        body.add(checks)
    used = set(re.findall(r"\b(?:in|out)\d+\b", " ".join(calls) + "\n".join(checks.lines("") if checks is not None else [])))
    unused = [p for p in ins + outs if p not in used] + ([] if work else ["work"])
    if unused:
        body.add(" ".join(f"(void){p};" for p in unused))
    for call in calls:
        body.add(call)
    body.add("return 0;")
    doc = ("Runs the kernels in order; returns 0, or k > 0 before running any kernel when the index "
           "input of check k holds an index out of its range." if checks is not None and checks.body
           else "Runs the kernels in order; returns 0.")
    positional = Function(f"int {name}({', '.join(params + ['void *work'])})", body, doc)
    args = [f"(const {t} *)in[{i}]" for i, t in enumerate(in_types)]
    args += [f"({t} *)out[{i}]" for i, t in enumerate(out_types)] + ["work"]
    generic = Block()
    if not in_types or not out_types:
        generic.add(" ".join(f"(void){p};" for p, n in (("in", in_types), ("out", out_types)) if not n))
    generic.add(f"return {name}({', '.join(args)});")
    arrays = Function(f"int {name}_eval(const void *const *in, void *const *out, void *work)", generic,
                      f"{name} with arrays of pointers, for generic drivers.")
    return [positional, arrays]


def _interface(name, in_shapes, out_shapes, work_bytes, in_names, out_names):
    """Size, count, name and shape queries; every shape lives in one constant table."""
    dims = [int(d) for shape in list(in_shapes) + list(out_shapes) for d in shape]
    unit = Block(["/* Interface: workspace size, counts, names and shapes of the inputs and outputs. */",
                  f"static const ptrdiff_t {name}_dims[{len(dims) + 1}] = {{{', '.join(map(str, dims + [0]))}}};"])
    for signature, value in ((f"size_t {name}_work_bytes(void)", int(work_bytes)),
                             (f"int {name}_n_in(void)", len(in_shapes)), (f"int {name}_n_out(void)", len(out_shapes))):
        unit.add(Function(signature, Block([f"return {value};"]), short=True))
    start = 0
    for role, shapes, labels in (("in", in_shapes, in_names), ("out", out_shapes, out_names)):
        cases = {"name": ("const char *", "NULL", [_c_string(s) for s in labels]),
                 "ndim": ("int ", "-1", [str(len(s)) for s in shapes]),
                 "shape": ("const ptrdiff_t *", "NULL", [])}
        for shape in shapes:
            cases["shape"][2].append(f"{name}_dims + {start}")
            start += len(shape)
        for what, (ctype, default, values) in cases.items():
            switch = Switch("i", [(i, f"return {v};") for i, v in enumerate(values)], f"return {default};")
            unit.add(Function(f"{ctype}{name}_{role}_{what}(int i)", Block([switch])))
    return "\n".join(unit.lines("")) + "\n"


def _c_string(text):
    """A C string literal for `text` (printable ASCII kept, everything else escaped)."""
    out = []
    for byte in str(text).encode("utf-8"):
        char = chr(byte)
        out.append("\\" + char if char in '"\\' else char if 32 <= byte < 127 and char != "?"
                   else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'
