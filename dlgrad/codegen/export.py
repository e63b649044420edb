"""Standalone export: the runtime's C program as NAME.c, its header NAME.h, and a self-test driver.

The .c is the very source `lower` hands to the runtime (plus `#include "NAME.h"`), so the
kernels tested through Python are the kernels exported.
"""
from __future__ import annotations

import os
import re

import numpy as np

from .csyntax import CTYPE
from .emit import _c_string
from .lower import lower

# C99/C11/C23 and C++ keywords: the header is read by both languages.
KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
_Static_assert _Thread_local alignas alignof bool constexpr false nullptr static_assert
thread_local true typeof typeof_unqual and and_eq asm bitand bitor catch char8_t char16_t
char32_t class compl concept consteval constinit const_cast co_await co_return co_yield decltype
delete dynamic_cast explicit export friend mutable namespace new noexcept not not_eq operator or
or_eq private protected public reinterpret_cast requires static_cast template this throw try
typeid typename using virtual wchar_t xor xor_eq
""".split())
# Names the generated code or its headers already define: an export must not redefine them.
TAKEN = frozenset("""
main NULL size_t ptrdiff_t offsetof errno math_errhandling NAN INFINITY HUGE_VAL
abs fabs fabsf sqrt sqrtf exp expf exp2 exp2f expm1 expm1f log logf log1p log1pf log2 log2f
log10 log10f pow powf sin sinf cos cosf tan tanf asin asinf acos acosf atan atanf atan2 atan2f
sinh sinhf cosh coshf tanh tanhf asinh acosh atanh erf erff erfc erfcf tgamma lgamma floor floorf
ceil ceilf round roundf nearbyint nearbyintf rint trunc fmod fmax fmin fma hypot cbrt copysign
ldexp frexp modf isnan isinf isfinite signbit fpclassify
""".split())
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}   # relative, see self_test_source


def check_name(name, what="name"):
    """Raise ValueError unless `name` can prefix every symbol of an exported C function."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a C identifier (letters, digits and '_', "
                         "not starting with a digit)")
    if name in KEYWORDS:
        raise ValueError(f"{what} {name!r} is a C or C++ keyword")
    if name in TAKEN:
        raise ValueError(f"{what} {name!r} is already defined by the C library headers the export uses")
    if name.startswith("__") or (name[0] == "_" and name[1:2].isupper()):
        raise ValueError(f"{what} {name!r} is reserved for the C implementation "
                         "(names starting with '__' or '_' and a capital letter)")
    if name.lower().startswith("dl_") or name.upper().startswith("DLGRAD_"):
        raise ValueError(f"{what} {name!r} uses the prefix dlgrad keeps for its own helpers")
    return name


def export(outputs, inputs, name, directory, input_names=None, output_names=None, signature="",
           provenance=None, golden_inputs=None):
    """Lower the graph `outputs` and write NAME.h and NAME.c (and NAME_test.c given golden inputs).

    inputs: ((shape, dtype), ...). golden_inputs: arrays fed to the reference interpreter for
    the self-test. Returns {"header": path, "source": path[, "test": path]}.
    """
    check_name(name)
    input_names = list(input_names or (f"in{i}" for i in range(len(inputs))))
    output_names = list(output_names or (f"out{i}" for i in range(len(outputs))))
    leaves = [f"  in{i}  {label}: {_spec(shape, dtype)}"
              for i, (label, (shape, dtype)) in enumerate(zip(input_names, inputs))]
    leaves += [f"  out{i} {label}: {_spec(node.shape, node.dtype)}"
               for i, (label, node) in enumerate(zip(output_names, outputs))]
    program = lower(list(outputs), list(inputs), name=name, header=banner(name, signature, leaves),
                    provenance=provenance, input_names=input_names, output_names=output_names)
    golden = None
    if golden_inputs is not None:
        from ..graph.interpret import evaluate
        golden = (list(golden_inputs), evaluate(list(outputs), list(golden_inputs)))
    return export_program(program, directory, input_names, output_names, signature, golden)


def export_program(program, directory, input_names=None, output_names=None, signature="", golden=None):
    """Write `program` (from lower) as NAME.h and NAME.c in `directory`; golden=(inputs, outputs)
    also writes NAME_test.c. Returns the paths written by role."""
    name = check_name(program.name)
    os.makedirs(directory, exist_ok=True)
    input_names = list(input_names or (f"in{i}" for i in range(len(program.inputs))))
    output_names = list(output_names or (f"out{i}" for i in range(len(program.outputs))))
    texts = {"header": (f"{name}.h", header_source(program, input_names, output_names, signature)),
             "source": (f"{name}.c", c_source(program))}
    if golden is not None:
        texts["test"] = (f"{name}_test.c", self_test_source(program, *golden, names=output_names))
    paths = {}
    for role, (filename, text) in texts.items():
        paths[role] = os.path.join(directory, filename)
        with open(paths[role], "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return paths


def version():
    from .. import __version__   # late: dlgrad/__init__ may be importing us
    return __version__


def banner(name, signature="", leaves=()):
    """The comment that opens NAME.c: what it computes and what made it."""
    lines = [f"{name}.c: generated by dlgrad {version()}. Do not edit; re-export instead."]
    if signature or leaves:
        lines += ["", *signature.splitlines(), *leaves]
    lines += ["", f"Interface and conventions: see {name}.h."]
    return "\n".join(("   " + line if i and line else line) for i, line in enumerate(lines))


def c_source(program):
    """The runtime's source with the export's own header included after the opening comment."""
    include = f'#include "{program.name}.h"\n'
    at = program.source.find("#include")
    return program.source[:at] + include + program.source[at:]


def _spec(shape, dtype):
    return f"{dtype}[{', '.join(map(str, shape))}]" if shape else f"{dtype} (scalar)"


def _describe(shape, dtype):
    return f"{CTYPE[dtype]}[{', '.join(map(str, shape))}]" if shape else f"{CTYPE[dtype]} (scalar)"


def _comment(text):
    return str(text).replace("*/", "* /")


def _panel_bytes(source: str) -> int:
    """The largest packed GEMM panel a kernel declares on the stack (codegen/gemm.py), in bytes."""
    sizes = {"float": 4, "double": 8}
    found = re.findall(r"\b(float|double) (?:panel|packed)\[(\d+)\];", source)
    return max((sizes[t] * int(n) for t, n in found), default=0)


def header_source(program, input_names, output_names, signature=""):
    """NAME.h: include guard, C++ linkage, the documented prototypes and size macros."""
    name, upper = program.name, program.name.upper()
    ins = [f"in{i}" for i in range(len(program.inputs))]
    outs = [f"out{i}" for i in range(len(program.outputs))]
    doc = [f"{name}.h: generated by dlgrad {version()}.", ""]
    doc += [f"  {line}" for line in _comment(signature).splitlines()] + ([""] if signature else [])
    width = max([len(n) for n in input_names + output_names] + [4])
    for role, params, labels, specs in (("inputs", ins, input_names, program.inputs),
                                        ("outputs", outs, output_names, program.outputs)):
        doc.append(f"{role}:" if specs else f"{role}: none")
        doc += [f"  {p:<5} {_comment(label):<{width}}  {_describe(shape, dtype)}"
                for p, label, (shape, dtype) in zip(params, labels, specs)]
    params = [f"const {CTYPE[d]} *{p}" for p, (_, d) in zip(ins, program.inputs)]
    params += [f"{CTYPE[d]} *{p}" for p, (_, d) in zip(outs, program.outputs)] + ["void *work"]
    doc += ["",
            *_wrap(f"int {name}(", params, ");").splitlines(),
            "  Arrays are contiguous and row-major (C order); outputs must not overlap inputs or",
            "  each other. `work` points to " + f"{upper}_WORK_BYTES bytes aligned for double (malloc's",
            "  alignment; 64 bytes is best), or may be NULL when that is 0. Returns 0 on success.",
            *[line for k, (i, high, what) in enumerate(getattr(program, "checks", ()), 1) for line in (
                f"  Returns {k}, before computing anything, when in{i} ({_comment(what)}) holds an index",
                f"  outside 0 .. {high - 1} (indices are 0-based; negative ones are rejected).")],
            "  The code allocates nothing and keeps no state: calls are reentrant, and threads",
            "  calling at the same time need a workspace each.",
            *([f"Stack: matrix products pack panels of up to {_panel_bytes(program.source)} bytes on the stack",
               "  (one per kernel call, per OpenMP thread when built with OpenMP)."]
              if _panel_bytes(program.source) else []),
            *(["Vector math: compiled by gcc for x86-64 with glibc >= 2.35 and -DDLGRAD_VECTOR_MATH",
               "  -fopenmp-simd -fno-builtin-sin -fno-builtin-cos -fno-builtin-sinf -fno-builtin-cosf,",
               "  linked with -lmvec -lm, its loops call glibc's vector math (libmvec; see the comment",
               f"  in {name}.c). Without the macro it is plain C99 calling libm."]
              if "DLGRAD_VECTOR_MATH" in program.source else []),
            f"int {name}_eval(in, out, work): the same with arrays of pointers.",
            f"The queries {name}_in_name(i), {name}_in_ndim(i), {name}_in_shape(i) (and out_)",
            "  return NULL or -1 for an index out of range. A scalar has ndim 0."]
    lines = ["/* " + "\n * ".join(doc).replace(" \n", "\n") + "\n */",
             f"#ifndef DLGRAD_{upper}_H", f"#define DLGRAD_{upper}_H", "",
             "#include <stddef.h>", *(["#include <stdint.h>"] if "int64" in str(program.inputs) else []),
             "", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
             f"#define {upper}_N_IN {len(ins)}", f"#define {upper}_N_OUT {len(outs)}",
             f"#define {upper}_WORK_BYTES {int(program.work_bytes)}"]
    for role, pointers, specs in (("IN", ins, program.inputs), ("OUT", outs, program.outputs)):
        for i, (shape, _) in enumerate(specs):
            lines.append(f"#define {upper}_{role}{i}_SIZE {int(np.prod(shape, dtype=np.int64))}"
                         f"  /* elements of {pointers[i]} */")
    lines += ["",
              _wrap(f"int {name}(", params, ");"),
              f"int {name}_eval(const void *const *in, void *const *out, void *work);",
              f"size_t {name}_work_bytes(void);",
              f"int {name}_n_in(void);", f"int {name}_n_out(void);"]
    for role in ("in", "out"):
        lines += [f"const char *{name}_{role}_name(int i);", f"int {name}_{role}_ndim(int i);",
                  f"const ptrdiff_t *{name}_{role}_shape(int i);"]
    lines += ["", "#ifdef __cplusplus", "}", "#endif", f"#endif /* DLGRAD_{upper}_H */", ""]
    return "\n".join(lines)


def _wrap(head, items, tail, width=96):
    """head + items joined by ', ' + tail, continued under the first item past `width` columns."""
    lines, line = [], head
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else tail)
        if len(line) + len(piece.rstrip()) > width and line.strip() != head.strip():
            lines.append(line.rstrip())
            line = " " * len(head)
        line += piece
    return "\n".join(lines + [line.rstrip()])


def _literal(value, dtype):
    if dtype == "int64":   # an index input
        return str(int(value))
    value = float(value)
    if np.isnan(value):
        return "NAN"
    if np.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    text = repr(value)   # round-trips the double; for float32 data it is the float's exact value
    return text + "f" if dtype == "float32" else text


def _array(cname, dtype, values, const=True):
    values = np.asarray(values, dtype=dtype).ravel()
    items = ", ".join(_literal(v, dtype) for v in values) or "0"
    return f"static {'const ' if const else ''}{CTYPE[dtype]} {cname}[{max(values.size, 1)}] = {{{items}}};"


def self_test_source(program, inputs, outputs, names=None):
    """NAME_test.c: run NAME (and NAME_eval) on golden inputs; exit 1 unless every output matches.

    The reference interpreter's outputs `want` pass when |got - want| <= rtol * (|want| + m),
    m the largest finite magnitude among the inputs and outputs; NaN must be NaN, infinities equal.
    """
    name = program.name
    names = names or [f"out{i}" for i in range(len(program.outputs))]
    rtol = {d: TOLERANCE[d] for d in ("float64", "float32")}
    lines = [f"/* {name}_test.c: self-test of {name}, generated by dlgrad {version()}.",
             f"   Build and run:  cc -std=c99 {name}.c {name}_test.c -lm && ./a.out",
             "   Runs the export on golden inputs and compares with dlgrad's reference interpreter:",
             "   an output value passes when |got - want| <= rtol * (|want| + m), m the largest finite",
             f"   magnitude among the golden inputs and outputs, with rtol = {rtol['float64']:g} for double and "
             f"{rtol['float32']:g} for float;",
             "   NaN must be NaN and infinities equal. Exits 1 on any mismatch. */",
             "#include <math.h>", "#include <stdio.h>", "#include <stdlib.h>",
             f'#include "{name}.h"', ""]
    for i, ((shape, dtype), value) in enumerate(zip(program.inputs, inputs)):
        lines.append(_array(f"in{i}", dtype, value))
    for i, ((shape, dtype), value) in enumerate(zip(program.outputs, outputs)):
        lines.append(_array(f"want{i}", dtype, value))
        lines.append(_array(f"out{i}", dtype, np.full(max(int(np.prod(shape)), 1), np.nan), const=False))
    lines += ["",
              "static int mismatches(const char *what, const char *path, long i, double got, double want,",
              "                      double scale, double rtol) {",
              "    int ok = isnan(want) ? isnan(got) : isinf(want) ? got == want",
              "             : fabs(got - want) <= rtol * (fabs(want) + scale);",
              "    if (!ok)",
              '        fprintf(stderr, "%s: %s[%ld] = %.17g, expected %.17g\\n", path, what, i, got, want);',
              "    return !ok;",
              "}", "",
              "static int compare(const char *path) {",
              "    int bad = 0;"]
    def largest(values):
        finite = [np.abs(v[np.isfinite(v)]) for v in (np.asarray(v, dtype=np.float64) for v in values)]
        return max((float(f.max()) for f in finite if f.size), default=0.0)
    # an output that is zero in exact arithmetic (a bias feeding a batchnorm) carries rounding
    # noise of the size of the values it was computed from: floor each scale by all of them
    floor = largest(list(inputs) + list(outputs))
    for i, ((shape, dtype), value) in enumerate(zip(program.outputs, outputs)):
        scale = max(largest([value]), floor)
        lines += [f"    for (long i = 0; i < {int(np.prod(shape, dtype=np.int64))}; ++i)",
                  f"        bad += mismatches({_c_string(names[i])}, path, i, out{i}[i], want{i}[i], "
                  f"{scale!r}, {rtol[dtype]!r});",
                  f"    for (long i = 0; i < {max(int(np.prod(shape, dtype=np.int64)), 1)}; ++i) "
                  f"out{i}[i] = NAN;   /* poison for the next run */"]
    ins = [f"in{i}" for i in range(len(program.inputs))]
    outs = [f"out{i}" for i in range(len(program.outputs))]
    upper = name.upper()
    lines += ["    return bad;", "}", "",
              "int main(void) {",
              f"    void *work = malloc({upper}_WORK_BYTES > 0 ? {upper}_WORK_BYTES : 1);",
              "    int bad = 0;",
              f"    const void *in[{max(len(ins), 1)}] = {{{', '.join(ins) or '0'}}};",
              f"    void *out[{max(len(outs), 1)}] = {{{', '.join(outs) or '0'}}};",
              "    if (work == NULL) return 2;",
              f"    if ({name}({', '.join(ins + outs + ['work'])}) != 0) bad++;",
              f'    bad += compare("{name}");',
              f"    if ({name}_eval(in, out, work) != 0) bad++;",
              f'    bad += compare("{name}_eval");',
              "    free(work);",
              f'    printf("{name} self-test: %s (%d mismatches)\\n", bad ? "FAILED" : "passed", bad);',
              "    return bad ? 1 : 0;", "}", ""]
    return "\n".join(lines)
