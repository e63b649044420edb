"""Per-call cost of a tiny compiled kernel (Rosenbrock value and gradient) through the runtime.

Run: python benchmarks/call_overhead.py (times are minima over 7 repeats, in microseconds).
"""
import timeit
from types import SimpleNamespace

import numpy as np

from dlgrad import dlarray, runtime
from dlgrad.runtime import trampoline

SOURCE = r"""
int rosenbrock(const void *const *in, void *const *out, void *work) {
    const double *x = (const double *)in[0];
    double *f = (double *)out[0], *g = (double *)out[1];
    double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
    (void)work;
    *f = a * a + 100.0 * b * b;
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    return 0;
}
"""
PROGRAM = SimpleNamespace(source=SOURCE, entry="rosenbrock", inputs=(((2,), "float64"),),
                          outputs=(((), "float64"), ((2,), "float64")), work_bytes=0, aliases=())
SLOTS = (dlarray._data, dlarray._node, dlarray._trace, dlarray._fmt)


def per_call(fn, number=200_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main():
    f = runtime.load(PROGRAM)
    x, f0, g = np.array([-1.0, 2.0]), np.empty(()), np.empty(2)
    module = trampoline.get()
    lib, ffi = module.lib, module.ffi
    fn = trampoline.open_kernel(module, f.so_path, PROGRAM.entry)
    px, pf, pg = ffi.from_buffer(x), ffi.from_buffer(f0), ffi.from_buffer(g)
    bare = per_call(lambda: lib.dl_call3(fn, 1, px, pf, pg, ffi.NULL))
    marshal = per_call(lambda: lib.dl_call3(fn, 1, ffi.from_buffer(x), ffi.from_buffer(f0),
                                             ffi.from_buffer(g), ffi.NULL))
    import cffi
    abi = cffi.FFI()
    abi.cdef("int rosenbrock(const void *const *in, void *const *out, void *work);")
    kernel = abi.dlopen(f.so_path)
    ins, outs = abi.new("void *[]", [px]), abi.new("void *[]", [pf, pg])
    abi_bare = per_call(lambda: kernel.rosenbrock(ins, outs, abi.NULL))
    full = per_call(lambda: f(x))
    call = per_call(lambda: f.call(x))
    into = per_call(lambda: f.call_into((x,), (f0, g)))
    native = f.native(dlarray, SLOTS, (None,), (None, None), (2, ((0, 0), (0, 1))), None, print)
    X = dlarray(x)
    boxed = per_call(lambda: native(X)) if native is not None else float("nan")
    trampoline._extension._module = None  # force the ABI-mode fallback
    fallback = runtime.CompiledFunction(PROGRAM, f.so_path)
    slow = per_call(lambda: fallback(x))
    print(f"bare trampoline call, prebuilt pointers: {bare:.2f} us")
    print(f"bare call + from_buffer of 3 arrays:     {marshal:.2f} us")
    print(f"cffi ABI-mode call, prebuilt pointers:   {abi_bare:.2f} us")
    print(f"CompiledFunction(x):                     {full:.2f} us  ({full / bare:.1f}x bare)")
    print(f"CompiledFunction.call(x):                {call:.2f} us")
    print(f"CompiledFunction.call_into:              {into:.2f} us")
    print(f"CompiledFunction(x), ABI-mode fallback:  {slow:.2f} us")
    print(f"native Dispatcher(dlarray) -> dlarrays:  {boxed:.2f} us  (the dlaccelerate/dlfeval hit path)")


if __name__ == "__main__":
    main()
