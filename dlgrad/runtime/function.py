"""CompiledFunction: a compiled C program called with numpy arrays."""
import re
import sys
import threading

import numpy as np

from ..errors import DlgradError, ShapeError, out_of_range
from . import fastcall, trampoline

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _signature(specs, fortran=None) -> tuple:
    """((shape, dtype), ...) as callers pass them: a column-major array (fortran[i]) has the
    reversed shape of the C array the program reads in its memory."""
    fortran = fortran or (False,) * len(specs)
    return tuple((tuple(int(n) for n in (shape[::-1] if f else shape)), np.dtype(dtype))
                 for (shape, dtype), f in zip(specs, fortran, strict=True))


def _order_flags(flags, n) -> tuple:
    flags = tuple(bool(f) for f in flags) if flags else (False,) * n
    if len(flags) != n:
        raise ValueError(f"expected {n} column-major flags, got {len(flags)}")
    return flags


def _describe(shape, dtype) -> str:
    return f"{dtype} array of shape {shape}"


def check(arrays, specs, role: str = "input", fortran=None) -> None:
    """Raise the error that says how `arrays` differs from the signature `specs` (column-major
    where `fortran` says so); pass if it fits."""
    if len(arrays) != len(specs):
        raise TypeError(f"expected {len(specs)} {role} arrays, got {len(arrays)}")
    for i, (a, (shape, dtype)) in enumerate(zip(arrays, specs)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{role} {i}: expected a numpy {_describe(shape, dtype)}, got {type(a).__name__}")
        if a.dtype != dtype:
            raise TypeError(f"{role} {i}: expected a {_describe(shape, dtype)}, "
                            f"got a {_describe(a.shape, a.dtype)}")
        if a.shape != shape:
            raise ShapeError(f"{role} {i}: expected a {_describe(shape, dtype)}, "
                             f"got a {_describe(a.shape, a.dtype)}")
        if fortran and i < len(fortran) and fortran[i]:
            if not a.flags.f_contiguous:
                raise ShapeError(f"{role} {i}: expected an F-contiguous (column-major) array, got strides "
                                 f"{a.strides} (pass numpy.asfortranarray of it)")
        elif not a.flags.c_contiguous:
            raise ShapeError(f"{role} {i}: expected a C-contiguous array, got strides {a.strides} "
                             f"(pass numpy.ascontiguousarray of it)")
        if role == "output" and not a.flags.writeable:
            raise ValueError(f"output {i} is read-only")


def conflicts(arrays, donated) -> list:
    """Indices in `donated` whose array may not be overwritten in place: read-only, or sharing
    memory with another input (it would change under a kernel still reading that one)."""
    bad = [i for i in donated if not arrays[i].flags.writeable]
    owners = {}
    for j, a in enumerate(arrays):
        while isinstance(a, np.ndarray) and a.base is not None:
            a = a.base
        owners.setdefault(id(a), []).append(j)
    for group in owners.values():
        if len(group) > 1:
            bad += [i for i in group if i in donated and i not in bad and any(
                np.may_share_memory(arrays[i], arrays[j]) for j in group if j != i)]
    return bad


def _own_references() -> int:
    """The references sys.getrefcount(a0) counts beyond those held elsewhere, called as the
    generated calls call it on a local a0: 1 on CPython 3.11 (its argument), 0 where the
    interpreter passes a local without a new reference."""
    namespace = {"getrefcount": sys.getrefcount}
    exec("def probe(held):\n    a0 = held[0]\n    return getrefcount(a0)", namespace)
    return namespace["probe"]([object()]) - 2   # held by the list and by the local a0


# A donated dlarray's array is overwritten only if it owns its memory (no base: a view holds a
# reference to its base) and getrefcount sees no more than: the dlarray's data slot, the call's
# local a0 and sys.getrefcount's own (3 on CPython 3.11), plus the caller's list of arrays where
# the call takes one. Another dlarray sharing the array, a numpy view of it or a variable holding
# it adds one: then the call copies it first. (ndarrays are never immortal, Python 3.12+.)
_DONATED_REFS = 2 + _own_references()


def _specialise(nin: int, nout: int, direct: bool, workspace: bool, into: bool, aliases=(),
                result=None, head=None, fortran=((), ())) -> str:
    """Python source of a call unrolled for one signature: only comparisons, allocations and the call.

    For each (output, input) of `aliases` the program writes the output over the input: the
    input array itself is returned (a copy of it when it may not be overwritten: read-only,
    sharing memory with another input, or, with `result`, where the inputs are dlarrays' arrays,
    seen by anything but its dlarray), or, with preallocated outputs, the input is copied into
    the output first. Inputs and outputs flagged in `fortran` = (inputs, outputs) are
    F-contiguous (column-major) arrays, passed as the C arrays of their transposes. With `result` (lines
    ending in a return, over the outputs o0, o1, ...) the function takes the list of inputs
    and returns what those lines build. With `head` = (parameters, lines) as well, those lines
    bind the inputs a0, a1, ... from the parameters after checking their shapes and dtypes, so
    only contiguity is checked here.
    """
    ins, outs = [f"a{i}" for i in range(nin)], [f"o{i}" for i in range(nout)]
    fin, fout = (tuple(f) or (False,) * n for f, n in zip(fortran, (nin, nout)))
    contiguous = ["f_contiguous" if f else "c_contiguous" for f in fin + fout]
    source = dict(aliases)
    if into:
        lines = ["def run(arrays, outs):", "    arrays = tuple(arrays)", "    outs = tuple(outs)",
                 f"    if len(outs) != {nout}: check(outs, outspec, 'output')"]
        lines += [f"    {', '.join(outs)}, = outs"] if nout else []
    elif result is not None:
        lines = [f"def run({head[0] if head else 'arrays'}):"]
    else:
        lines = ["def run(*arrays):"]
    if head:
        lines += [f"    {line}" for line in head[1]]
        lines += [f"    if not {a}.flags.{contiguous[i]}: check(({''.join(a + ', ' for a in ins)}), inspec, "
                  f"'input', fin)" for i, a in enumerate(ins)]
    else:
        lines.append(f"    if len(arrays) != {nin}: check(arrays, inspec)")
        if nin:
            lines.append(f"    {', '.join(ins)}, = arrays")
        for i, a in enumerate(ins):
            lines.append(f"    if {a}.__class__ is not ndarray or {a}.shape != s{i} or {a}.dtype is not d{i}"
                         f" or not {a}.flags.{contiguous[i]}: check(arrays, inspec, 'input', fin)")
    if aliases and not into:
        donated = tuple(i for _, i in aliases)
        lines.append(f"    bad = conflicts(({''.join(a + ', ' for a in ins)}), {donated!r})")
        if result is None:   # plain arrays: the caller gave them to be overwritten
            lines += [f"    if bad and {i} in bad: a{i} = a{i}.copy({_order(fin[i])})" for i in donated]
        else:   # arrays of dlarrays: overwritten only where nothing else can see them
            limit = _DONATED_REFS + (0 if head else 1)
            lines += [f"    if bad and {i} in bad or getrefcount(a{i}) > {limit} or a{i}.base is not None"
                      f" or not a{i}.flags.owndata: a{i} = a{i}.copy({_order(fin[i])})" for i in donated]
    for i, o in enumerate(outs):
        if into:
            lines.append(f"    if {o}.__class__ is not ndarray or {o}.shape != os{i} or {o}.dtype is not od{i}"
                         f" or not {o}.flags.{contiguous[nin + i]} or not {o}.flags.writeable:"
                         f" check(outs, outspec, 'output', fout)")
            if i in source:
                lines.append(f"    copyto({o}, a{source[i]})")
        elif i in source:
            lines.append(f"    {o} = a{source[i]}")
        else:
            lines.append(f"    {o} = empty(os{i}, od{i}{', order=' + _order(True) if fout[i] else ''})")
    if aliases and into:
        lines += [f"    a{i} = o{o}" for o, i in aliases]
    if workspace:
        lines += ["    try: work = local.work", "    except AttributeError: work = new_workspace()"]
    else:
        lines.append("    work = NULL")
    pointers = [f"fb({name}.T)" if f else f"fb({name})" for name, f in zip(ins + outs, fin + fout)]
    if direct:
        lines.append(f"    status = call(fn, {nin}, {', '.join(pointers)}, work)")
    else:
        lines.append(f"    status = invoke({nin}, [{', '.join(pointers)}], work)")
    lines.append(f"    if status: failed(status, ({''.join(a + ', ' for a in ins)}))")
    lines += [f"    {line}" for line in result] if result is not None else [f"    return [{', '.join(outs)}]"]
    return "\n".join(lines)


def _order(fortran: bool) -> str:
    return "'F'" if fortran else ""


class CompiledFunction:
    """Calls the program's entry with C-contiguous arrays of exactly the signature's shapes and dtypes.

    Nothing is converted: a mismatching argument raises. Each thread gets its own workspace.
    An output the program aliases to a donated input is that input array, updated in place.
    `fortran` = (inputs, outputs) flags the arguments and results that are F-contiguous
    (column-major) arrays of the reversed shape of the program's C arrays: the same memory.
    """

    def __init__(self, program, so_path: str, fortran=None):
        if not _IDENTIFIER.match(program.entry):
            raise DlgradError(f"invalid C entry point name {program.entry!r}")
        self.program = program
        self.so_path = so_path
        fortran = fortran or ((), ())
        self.fortran = (_order_flags(fortran[0], len(program.inputs)), _order_flags(fortran[1], len(program.outputs)))
        self._inputs = _signature(program.inputs, self.fortran[0])
        self._outputs = _signature(program.outputs, self.fortran[1])
        self._work_bytes = int(program.work_bytes)
        self._local = threading.local()
        nin, nout = len(self._inputs), len(self._outputs)
        module = trampoline.get()
        direct = module is not None and 0 < nin + nout <= trampoline.MAX_DIRECT
        namespace = dict(ndarray=np.ndarray, empty=np.empty, copyto=np.copyto, conflicts=conflicts,
                         getrefcount=sys.getrefcount,
                         check=check, inspec=self._inputs,
                         outspec=self._outputs, fin=self.fortran[0], fout=self.fortran[1], local=self._local, new_workspace=self._new_workspace,
                         failed=self._failed)
        self._address = None   # of the C entry, for the native call path
        if module is None:
            self._kernel = trampoline.AbiKernel(so_path, program.entry)  # keeps the library loaded
            ffi, namespace["invoke"] = self._kernel.ffi, self._kernel
        else:
            ffi, fn = module.ffi, trampoline.open_kernel(module, so_path, program.entry)
            self._address = int(ffi.cast("uintptr_t", fn))
            if fastcall.enabled():
                fastcall.get()   # built (once per machine) with the program, not inside a later hit
            namespace["fn"] = fn
            if direct:
                namespace["call"] = trampoline.callers(module)[nin + nout]
            else:
                callv = module.lib.dl_callv
                namespace["invoke"] = lambda n, ptrs, work: callv(fn, n, ffi.new("void *[]", ptrs) if ptrs
                                                                    else ffi.NULL, work)
        self._ffi = ffi
        self._direct = direct
        namespace.update(fb=ffi.from_buffer, NULL=ffi.NULL)
        namespace.update({f"s{i}": s for i, (s, _) in enumerate(self._inputs)})
        namespace.update({f"d{i}": d for i, (_, d) in enumerate(self._inputs)})
        namespace.update({f"os{i}": s for i, (s, _) in enumerate(self._outputs)})
        namespace.update({f"od{i}": d for i, (_, d) in enumerate(self._outputs)})
        self._namespace = namespace
        for into in (False, True):
            code = _specialise(nin, nout, direct, self._work_bytes > 0, into, program.aliases,
                               fortran=self.fortran)
            exec(compile(code, f"<dlgrad call {program.entry}>", "exec"), namespace)
            setattr(self, "call_into" if into else "call", namespace.pop("run"))

    def returning(self, result_lines, names, head=None):
        """run(arrays) -> what `result_lines` (ending in a return) build from the outputs o0, o1, ...

        The caller's wrapping of the outputs joins the call itself, one Python frame per call;
        `names` are the globals those lines use. `head` = (parameters, lines) replaces the list
        of arrays by the caller's own arguments (see _specialise).
        """
        clash = sorted(set(names) & set(self._namespace))
        if clash:
            raise ValueError(f"names {clash} are the call's own")
        namespace = dict(self._namespace, **names)
        code = _specialise(len(self._inputs), len(self._outputs), self._direct, self._work_bytes > 0,
                           False, self.program.aliases, list(result_lines), head, self.fortran)
        exec(compile(code, f"<dlgrad call {self.program.entry}>", "exec"), namespace)
        return namespace["run"]

    def native(self, box, slots, formats, out_formats, template, build, miss, counter=None,
               logical=None, out_logical=None, stream=None, arguments=None, guard=None):
        """A native Dispatcher (runtime/fastcall.py) calling this program with instances of `box`
        as arguments, or None where the native call path is unavailable.

        Each argument must be exactly `box` with its slots (data, node, trace, fmt, logical;
        `slots` are their descriptors) holding an array of the signature, no node, the format
        in `formats` and the logical flag in `logical` (all False if None); anything else is
        passed to miss(*args). Outputs are boxed with `out_formats` and `out_logical` into
        `template` (see fastcall.c), or build(*output arrays) makes the result.
        counter.hits counts the calls served. With `stream` (frontend/random.py's STREAM), the last
        input is a random key the dispatcher takes from it on each call (not an argument). With
        `arguments` (tree.native_arguments), each argument is a structure matched against its
        pattern, its leaves the inputs in order (`formats` and `logical` are then per leaf).
        With `guard`, a call whose guard() is false (a captured value changed) goes to miss.
        """
        module = fastcall.get() if self._address is not None and fastcall.enabled() else None
        if module is None:
            return None
        aliases = dict(self.program.aliases)
        logical = logical or (False,) * len(self._inputs)
        out_logical = out_logical or (False,) * len(self._outputs)
        inputs = tuple((shape, dtype.num, fmt, bool(flag), f) for (shape, dtype), fmt, flag, f
                       in zip(self._inputs, formats, logical, self.fortran[0], strict=True))
        outputs = tuple((shape, dtype.num, fmt, bool(flag), aliases.get(o, -1), f)
                        for o, ((shape, dtype), fmt, flag, f)
                        in enumerate(zip(self._outputs, out_formats, out_logical, self.fortran[1], strict=True)))
        return module.Dispatcher(self._address, inputs, outputs, box, tuple(slots), template, build, miss,
                                 counter, self._failed, self._work_bytes, self, stream, arguments, guard)

    def __call__(self, *arrays) -> list:
        """Run the program on `arrays`; returns its outputs as new arrays (`self.call` saves a frame)."""
        return self.call(*arrays)

    # Set per instance in __init__, specialised to the signature:
    #   call(*arrays) -> list: the same as calling the object.
    #   call_into(arrays, outs) -> list: write into preallocated C-contiguous arrays; returns them.

    def __repr__(self) -> str:
        return f"<CompiledFunction {self.program.entry} from {self.so_path}>"

    def _new_workspace(self):
        """This thread's workspace, 64-byte aligned (the C releases the GIL: threads never share one)."""
        block = self._ffi.new("char[]", self._work_bytes + 63)
        work = block + (-int(self._ffi.cast("uintptr_t", block)) % 64)
        self._local.block, self._local.work = block, work  # `work` does not keep `block` alive
        return work

    def _failed(self, status: int, arrays=None):
        """Raise the error status stands for: an index input out of range names its argument."""
        checks = getattr(self.program, "checks", ())
        if arrays is not None and 1 <= status <= len(checks):
            position, high, what = checks[status - 1]
            raise out_of_range(what, arrays[position], high)
        raise DlgradError(f"compiled function {self.program.entry} failed with status {status}")
