"""The call path into kernels: a tiny cffi API-mode module, built once, calling through a pointer.

Kernels are plain shared objects (fast to compile); this module is compiled once per Python and
cffi version and cached, and is what makes a call cheap. Without it, kernels are called in cffi's
slower ABI mode.
"""
import hashlib
import importlib.machinery
import os
import shutil
import sys
import tempfile

from ..errors import DlgradError
from . import build
from .cache import atomic_write, cache_dir

MAX_DIRECT = 24  # dl_call1 .. dl_call24 take the pointers as arguments; beyond, dl_callv takes an array

_PRELUDE = r"""
#ifdef _WIN32
#include <windows.h>
static void *dl_open(const char *path) { return (void *)LoadLibraryA(path); }
static void *dl_sym(void *h, const char *name) { return (void *)GetProcAddress((HMODULE)h, name); }
static const char *dl_error(void) { return "LoadLibrary or GetProcAddress failed"; }
#else
#include <dlfcn.h>
static void *dl_open(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void *dl_sym(void *h, const char *name) { return dlsym(h, name); }
static const char *dl_error(void) { const char *e = dlerror(); return e ? e : "unknown error"; }
#endif
typedef int (*dl_eval_fn)(const void *const *in, void *const *out, void *work);
static int dl_callv(void *fn, int nin, void **ptrs, void *work)
{ return ((dl_eval_fn)fn)((const void *const *)ptrs, (void *const *)(ptrs + nin), work); }
"""


def _sources() -> tuple[str, str]:
    """(cdef, C source) of the trampoline module."""
    cdef = ["void *dl_open(const char *path);", "void *dl_sym(void *h, const char *name);",
            "const char *dl_error(void);", "int dl_callv(void *fn, int nin, void **ptrs, void *work);"]
    src = [_PRELUDE]
    for n in range(1, MAX_DIRECT + 1):
        params = ", ".join(f"void *p{i}" for i in range(n))
        head = f"int dl_call{n}(void *fn, int nin, {params}, void *work)"
        cdef.append(head + ";")
        src.append(f"static {head}\n{{ void *a[{n}] = {{{', '.join(f'p{i}' for i in range(n))}}};\n"
                   f"  return ((dl_eval_fn)fn)((const void *const *)a, (void *const *)(a + nin), work); }}")
    return "\n".join(cdef), "\n".join(src)


_extension = build.OptionalExtension(lambda: _load(), "the fast call trampoline",
                                     "calling compiled functions through cffi's slower ABI mode")


def prefetch() -> None:
    """Start building the module in the background, if it is not known yet (see build.OptionalExtension)."""
    _extension.prefetch()


def get():
    """The compiled trampoline module (with .ffi and .lib), or None when it cannot be built."""
    return _extension.get()


def _load():
    import _cffi_backend
    cdef, src = _sources()
    tag = hashlib.sha256("\0".join([cdef, src, _cffi_backend.__version__, sys.version]).encode())
    name = "_dlgrad_trampoline_" + tag.hexdigest()[:16]
    path = os.path.join(cache_dir("trampoline"), name + importlib.machinery.EXTENSION_SUFFIXES[0])
    return build.extension(name, path, lambda target: _build(name, cdef, src, target))


def _build(name: str, cdef: str, src: str, path: str) -> None:
    """Emit cffi's C for the module and compile it with the C compiler directly, into a private
    name, then move it into place atomically.

    Going through setuptools (cffi's ffi.compile) costs about a second more on a cold cache,
    most of it importing setuptools; the module needs no more than one compiler call.
    """
    import cffi
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(name, src, libraries=["dl"] if sys.platform.startswith("linux") else [])
    tmpdir = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(path))
    try:
        if os.name == "posix":
            source, built = os.path.join(tmpdir, name + ".c"), os.path.join(tmpdir, "module.so")
            from cffi.recompiler import make_c_source   # ffi.emit_c_code, without its print
            make_c_source(ffi, name, src, source, verbose=False)
            # -O1 builds in half the time of -O3, with no measurable call cost.
            build.compile_extension(source, built, ["-O1", *(["-ldl"] if sys.platform.startswith("linux") else [])])
        else:   # the compiler Python was built with, through setuptools
            built = ffi.compile(tmpdir=tmpdir, verbose=False)
        atomic_write(path + ".sha256", build.file_hash(built))
        os.replace(built, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def open_kernel(module, path: str, entry: str):
    """The address of `entry` in the shared object `path`, as a `void *` cdata.

    The library stays loaded for the life of the process.
    """
    ffi, lib = module.ffi, module.lib
    handle = lib.dl_open(os.fsencode(path))
    if handle == ffi.NULL:
        raise DlgradError(f"cannot load {path}: {ffi.string(lib.dl_error()).decode(errors='replace')}")
    fn = lib.dl_sym(handle, entry.encode())
    if fn == ffi.NULL:
        raise DlgradError(f"{path} defines no function {entry!r}")
    return fn


def callers(module) -> tuple:
    """dl_call1 .. dl_call24 of `module`, indexed by the number of pointers (index 0 is unused)."""
    return (None, *(getattr(module.lib, f"dl_call{n}") for n in range(1, MAX_DIRECT + 1)))


class AbiKernel:
    """Fallback: a kernel called in cffi's ABI mode, with the pointers gathered into arrays."""

    def __init__(self, path: str, entry: str):
        import cffi
        self.ffi = cffi.FFI()
        self.ffi.cdef(f"int {entry}(const void *const *in, void *const *out, void *work);")
        self.lib = self.ffi.dlopen(path)
        self.fn = getattr(self.lib, entry)

    def __call__(self, nin: int, ptrs: list, work) -> int:
        new = self.ffi.new
        return self.fn(new("void *[]", ptrs[:nin] or 1), new("void *[]", ptrs[nin:] or 1), work)
