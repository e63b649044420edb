"""Finding the C compiler, probing what it targets, and compiling a shared object."""
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

from ..errors import CompileError, CompilerNotFoundError
from .cache import atomic_write, cache_dir

NAMES = ("cc", "gcc", "clang")
FLAGS = ("-O3", "-fPIC", "-shared", "-std=c99", "-fno-math-errno")
NATIVE = "-march=native"
LIBS = ("-lm",)
_PROBE_FORMAT = 1
_host: str | None = None


@dataclass(frozen=True)
class Toolchain:
    """A compiler command, its identity, the flags it accepts, and what `-march=native` targets."""
    argv: tuple[str, ...]
    identity: str
    flags: tuple[str, ...]
    target: str


def find_compiler() -> tuple[str, ...]:
    """The compiler command: $CC if set, else the first of cc, gcc, clang on PATH."""
    hint = "set DLGRAD_BACKEND=numpy to run through the numpy reference interpreter instead"
    path = os.environ.get("PATH", "")
    cc = os.environ.get("CC", "").strip()
    if cc:
        argv = shlex.split(cc)
        exe = shutil.which(argv[0])
        if exe is None:
            raise CompilerNotFoundError(
                f"the C compiler named by the CC environment variable ({cc!r}) was not found "
                f"(PATH={path!r}); fix CC, or {hint}")
        return (exe, *argv[1:])
    for name in NAMES:
        exe = shutil.which(name)
        if exe is not None:
            return (exe,)
    raise CompilerNotFoundError(
        f"no C compiler found: CC is not set and none of {', '.join(NAMES)} is on PATH "
        f"({path!r}); install one or set CC, or {hint}")


def host_fingerprint() -> str:
    """A cheap description of this host's CPU (never changes while the machine stays the same)."""
    global _host
    if _host is None:
        parts = [sys.platform, platform.machine(), os.uname().nodename if hasattr(os, "uname") else ""]
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the first processor describes them all
                    key = line.split(":", 1)[0].strip()
                    if key in ("vendor_id", "cpu family", "model", "model name", "flags",
                               "Features", "CPU implementer", "CPU part", "isa"):
                        parts.append(line.strip())
        except OSError:
            parts.append(platform.processor())
        _host = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _host


_toolchains: dict[tuple, Toolchain] = {}


def toolchain() -> Toolchain:
    """The current compiler and its probed properties; cached per process and on disk.

    The disk record is keyed by the compiler's path, size and mtime and by the host, so a new
    process that finds it runs no subprocess.
    """
    argv = find_compiler()
    memo = (argv, cache_dir())   # per cache directory, so every directory gets its record
    found = _toolchains.get(memo)
    if found is not None:
        return found
    real = os.path.realpath(argv[0])
    st = os.stat(real)
    key = hashlib.sha256(json.dumps(
        [_PROBE_FORMAT, argv, real, st.st_size, st.st_mtime_ns, host_fingerprint()]).encode()).hexdigest()
    record = os.path.join(cache_dir("toolchain"), key + ".json")
    try:
        with open(record, encoding="utf-8") as f:
            found = Toolchain(argv, *(tuple(v) if isinstance(v, list) else v for v in json.load(f)))
    except (OSError, ValueError, TypeError):
        found = _probe(argv)
        atomic_write(record, json.dumps([found.identity, found.flags, found.target]))
    _toolchains[memo] = found
    return found


def _run(argv, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True)


def _probe(argv: tuple[str, ...]) -> Toolchain:
    try:
        version = _run([*argv, "--version"])
        native = _run([*argv, NATIVE, "-E", "-dM", "-x", "c", "-"])
    except OSError as exc:
        raise CompilerNotFoundError(f"cannot run the C compiler {argv[0]}: {exc}") from exc
    lines = (version.stdout or version.stderr).strip().splitlines()
    identity = lines[0] if lines else argv[0]
    if native.returncode == 0:
        # The predefined macros name every ISA extension -march=native turned on.
        macros = "\n".join(sorted(native.stdout.splitlines()))
        return Toolchain(argv, identity, (*FLAGS, NATIVE), hashlib.sha256(macros.encode()).hexdigest())
    return Toolchain(argv, identity, FLAGS, "generic")


def _trim(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "\n... (truncated)"


def compile_shared(tc: Toolchain, source_path: str, out_path: str) -> None:
    """Compile the C file `source_path` into the shared object `out_path`; CompileError on failure."""
    cmd = [*tc.argv, *tc.flags, "-o", out_path, source_path, *LIBS]
    try:
        done = _run(cmd)
    except OSError as exc:
        raise CompilerNotFoundError(f"cannot run the C compiler {tc.argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise CompileError(
            f"the C compiler failed (exit status {done.returncode}) on {source_path}\n"
            f"command: {shlex.join(cmd)}\n{_trim(done.stderr or done.stdout)}")
