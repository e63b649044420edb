"""Vector math: which libm calls of generated kernels glibc's libmvec has in vector form, and
the guarded declarations and reduction pragmas that let gcc use it (DLGRAD_VECTOR_MATH)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

# The libm functions dlgrad's kernels call that glibc's libmvec (x86-64, glibc >= 2.35) has in
# vector form, with their arity; each also for float (the `f`-suffixed name). A function is
# listed only once measured: tests/codegen/test_vector_math.py sweeps every one in both dtypes
# against scalar libm (at most 4 ulp apart, the same special values).
VECTOR_MATH = {"sin": 1, "cos": 1, "tan": 1, "exp": 1, "log": 1, "log1p": 1, "expm1": 1,
               "sinh": 1, "cosh": 1, "tanh": 1, "asin": 1, "acos": 1, "atan": 1, "erf": 1,
               "atan2": 2, "pow": 2}
VECTOR_MACRO = "DLGRAD_VECTOR_MATH"
# Written before the innermost loop of a sum (product) over a vectorised call: lets the compiler
# reassociate that one accumulation; empty unless DLGRAD_VECTOR_MATH is defined.
SIMD_REDUCTION = {"sum": ("DLGRAD_SIMD_SUM", "+"), "prod": ("DLGRAD_SIMD_PROD", "*")}
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _c_math_names():
    """{C name: (function, C type)}: sin -> (sin, double), sinf -> (sin, float)."""
    return {**{name: (name, "double") for name in VECTOR_MATH},
            **{name + "f": (name, "float") for name in VECTOR_MATH}}


@functools.lru_cache(maxsize=None)
def _helper_calls():
    """{dl_ helper as called (float ones with their f): the vector functions its C calls}."""
    calls, current = {}, None
    for line in (Path(__file__).parent / "c" / "dl_helpers.h").read_text().splitlines():
        found = re.match(r"static inline \w+ (dl_\w+)##SUFFIX\(", line.strip())
        if found:
            current = found.group(1)
            calls.setdefault(current, set())
        elif not line.startswith(" "):
            current = None
        if current is not None:
            calls[current] |= {m for m in re.findall(r"\b(\w+)##F\(", line) if m in VECTOR_MATH}
    return {**calls, **{name + "f": {c + "f" for c in called} for name, called in calls.items()}}


def vector_calls(text):
    """The vectorisable math functions (C names: sin, sinf) that the C `text` calls, directly or
    through one of dlgrad's helpers (called dl_sigmoid, or renamed NAME_dl_sigmoid)."""
    names, helpers, found = _c_math_names(), _helper_calls(), set()
    for called in _CALL.findall(text):
        if called in names:
            found.add(called)
        else:
            helper = re.search(r"(?:^|_)(dl_\w+)$", called)
            if helper and helper.group(1) in helpers:
                found |= helpers[helper.group(1)]
    return found


def vector_math_block(texts):
    """The guarded declarations that let the kernels `texts` call glibc's libmvec, or "".

    Unless DLGRAD_VECTOR_MATH is defined (exports by default; other compilers and C libraries)
    the block declares nothing and its reduction macros are empty: the C is the scalar C99 it was.
    """
    text = "\n".join(texts)
    used = sorted(vector_calls(text))
    macros = [(macro, op) for macro, op in SIMD_REDUCTION.values() if re.search(rf"\b{macro}\b", text)]
    if not used and not macros:
        return ""
    names = _c_math_names()
    lines = [f"/* Vector math. Built by gcc for x86-64 with glibc >= 2.35 and {VECTOR_MACRO} defined, e.g.",
             "     cc -O3 -march=native -fno-math-errno -fopenmp-simd -fno-builtin-sin -fno-builtin-cos",
             f"        -fno-builtin-sinf -fno-builtin-cosf -D{VECTOR_MACRO} ... -lmvec -lm",
             "   loops calling these functions, and sums and products over them, are vectorised with",
             "   glibc's libmvec (within 4 ulp of the scalar functions, the same special values).",
             "   Otherwise this block declares nothing. */",
             f"#if defined({VECTOR_MACRO}) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)"]
    if used:
        lines.append('#define DLGRAD_SIMD_MATH __attribute__((__simd__("notinbranch"), __const__, __nothrow__))')
        for c_name in used:
            base, ctype = names[c_name]
            lines.append(f"DLGRAD_SIMD_MATH {ctype} {c_name}({', '.join([ctype] * VECTOR_MATH[base])});")
    lines += [f'#define {macro} _Pragma("omp simd reduction({op}:acc)")' for macro, op in macros]
    if macros:
        lines += ["#else", *(f"#define {macro}" for macro, _ in macros)]
    lines.append("#endif")
    return "\n".join(lines) + "\n"
