"""The native call path: a small CPython extension (c/fastcall.c) whose Dispatcher calls one
compiled signature from the function's own arguments to its wrapped results in one C frame.

It does what the generated Python call does (check the arguments, allocate the outputs, call
the kernel, box the results) in about a third of the time. It is built once per Python, numpy
and source with the system C compiler and cached; where it cannot be built (no Python or
numpy headers, no POSIX compiler) the generated Python call is used instead.
"""
import hashlib
import importlib.machinery
import os
import sys

import numpy as np

from ..errors import CompileError
from . import build
from .cache import atomic_write, cache_dir

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c", "fastcall.c")
DISABLE_VARIABLE = "DLGRAD_FASTCALL"   # =0: always call through the generated Python

_extension = build.OptionalExtension(lambda: _load(), "the native call path",
                                     "compiled functions are called through generated Python, about 1 us slower")


def enabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, "1").strip() != "0"


def prefetch() -> None:
    """Start building the module in the background, if it is not known yet (see build.OptionalExtension)."""
    _extension.prefetch()


def get():
    """The compiled extension module (with .Dispatcher), or None when it cannot be built."""
    return _extension.get()


def _load():
    if os.name != "posix":
        raise CompileError("the native call path is built only on POSIX systems")
    with open(SOURCE, encoding="utf-8") as f:
        source = f.read()
    tag = hashlib.sha256("\0".join([source, sys.version, np.__version__, sys.platform]).encode())
    name = "_dlgrad_fastcall_" + tag.hexdigest()[:16]
    path = os.path.join(cache_dir("trampoline"), name + importlib.machinery.EXTENSION_SUFFIXES[0])
    return build.extension(name, path, lambda target: _build(name, target))


def _build(name: str, path: str) -> None:
    """Compile into a private name, record its hash, then move it into place."""
    tmp = path + f".{os.getpid()}.tmp"
    try:
        build.compile_extension(SOURCE, tmp, ["-O2", "-Wall", "-I", np.get_include(),
                                              f"-DDLGRAD_FASTCALL_INIT=PyInit_{name}"])
        atomic_write(path + ".sha256", build.file_hash(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
