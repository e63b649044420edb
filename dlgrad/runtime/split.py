"""A large generated C file compiled as two translation units in parallel, then linked.

gcc spends its time optimising kernels, one function at a time; kernels are never inlined into
each other (emit.py's DLGRAD_KERNEL is noinline), so compiling half of them in each of two
processes loses no inlining (only interprocedural details of static functions, such as dropping
a parameter) and takes about half the wall time on two cores. The split is textual,
on the kernel comments emit.py writes ("/* kernel N: ..."); anything unexpected, or a failed
compile, falls back to compiling the file whole.
"""
from __future__ import annotations

import os
import re
import subprocess

from .compiler import Toolchain

# Below this much kernel text the second compiler process costs more than it saves.
MIN_KERNEL_CHARS = 24_000
DISABLE_VARIABLE = "DLGRAD_PARALLEL_BUILD"   # =0: always one compiler process

_KERNEL_START = re.compile(r"^/\* kernel \d+:", re.M)
_KERNEL_HEAD = re.compile(r"^DLGRAD_KERNEL ([^\n;{]*\))\s*\{\s*$", re.M)
# Kernels become hidden (not static) functions, so that one unit can call the other's.
_EXTERN_KERNEL = """#if defined(__GNUC__)
#define DLGRAD_KERNEL __attribute__((noinline, visibility("hidden")))
#else
#define DLGRAD_KERNEL
#endif
"""


def enabled() -> bool:
    """Whether builds may use two compiler processes (more than one CPU, not turned off)."""
    return os.environ.get(DISABLE_VARIABLE, "1").strip() != "0" and (os.cpu_count() or 1) > 1


def units(source: str, min_chars: int | None = None) -> tuple[str, str] | None:
    """Two C files, the first defining the first kernels, the second the others and the entry
    points; None when `source` has less kernel text than `min_chars` (MIN_KERNEL_CHARS) or is
    not laid out as emit.py writes it."""
    min_chars = MIN_KERNEL_CHARS if min_chars is None else min_chars
    starts = [m.start() for m in _KERNEL_START.finditer(source)]
    if len(starts) < 2 or "#ifndef DLGRAD_KERNEL" not in source[:starts[0]]:
        return None
    end = source.find("\n}\n", starts[-1])
    if end < 0:
        return None
    end += 3
    bounds = [*starts, end]
    chunks = [source[a:b] for a, b in zip(bounds, bounds[1:])]
    heads = [_KERNEL_HEAD.findall(chunk) for chunk in chunks]
    if sum(map(len, chunks)) < min_chars or any(len(h) != 1 for h in heads):
        return None
    half, total, cut = sum(map(len, chunks)) / 2, 0, 1
    for i, chunk in enumerate(chunks[:-1]):
        total += len(chunk)
        cut = i + 1
        if total >= half:
            break
    prelude = _EXTERN_KERNEL + source[:starts[0]]
    declarations = "".join(f"DLGRAD_KERNEL {h[0]};\n" for h in heads[:cut])
    first = prelude + "".join(chunks[:cut])
    second = prelude + declarations + "".join(chunks[cut:]) + source[end:]
    return first, second


def compile_parallel(tc: Toolchain, source: str, out_path: str) -> bool:
    """Build `out_path` from `source` with two compiler processes and a link; False (nothing
    built) when the source is not split or a step fails, and the caller compiles it whole."""
    parts = units(source) if enabled() else None
    if parts is None:
        return False
    stem = out_path + ".part"
    paths = [f"{stem}{i}.c" for i in range(2)]
    objects = [f"{stem}{i}.o" for i in range(2)]
    flags = [f for f in tc.flags if f != "-shared"]
    try:
        for path, text in zip(paths, parts):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        jobs = [subprocess.Popen([*tc.argv, *flags, "-c", "-o", obj, path], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for path, obj in zip(paths, objects)]
        if any(job.wait() != 0 for job in jobs):
            return False
        link = subprocess.run([*tc.argv, *tc.flags, "-o", out_path, *objects, *tc.libs],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return link.returncode == 0
    except OSError:
        return False
    finally:
        for path in (*paths, *objects):
            if os.path.exists(path):
                os.unlink(path)
