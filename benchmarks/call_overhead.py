"""Per-call cost of a tiny compiled kernel (Rosenbrock value and gradient) through the runtime;
then dlaccelerate's hit path for functions that draw random numbers (which take the stream's
key on each call) against the same functions without the draw.

Run: python benchmarks/call_overhead.py, then with --draws for the second part, and --network for
MATLAB's custom training loop form: a dlnetwork argument and a Learnables result against plain
dlarrays, and adamupdate/sgdmupdate on a network outside dlfeval (times are minima over 7
repeats, in microseconds).
"""
import sys
import timeit
from types import SimpleNamespace

import numpy as np

import dlgrad as dl
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
SLOTS = (dlarray._data, dlarray._node, dlarray._trace, dlarray._fmt, dlarray._logical)


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


def mlp_step(w1, b1, w2, b2, x, t):
    """Loss and gradients of an MLP 64-32-10 (float32)."""
    h = dl.relu(w1 @ x + b1)
    loss = dl.crossentropy(dl.softmax(w2 @ h + b2, DataFormat="CB"), t, DataFormat="CB")
    return loss, dl.dlgradient(loss, [w1, b1, w2, b2])


def mlp_dropout_step(w1, b1, w2, b2, x, t):
    """The same with dropout 0.5 on the hidden layer (a mask drawn on each call)."""
    h = dl.relu(w1 @ x + b1)
    h = h * (dl.rand(*h.shape, dtype="single") >= 0.5) * 2.0
    loss = dl.crossentropy(dl.softmax(w2 @ h + b2, DataFormat="CB"), t, DataFormat="CB")
    return loss, dl.dlgradient(loss, [w1, b1, w2, b2])


def plus_one(x):
    return x + 1.0


def plus_rand(x):
    return x + dl.rand(1, 8)


def draws():
    """dlaccelerate's hit path with and without a random draw (the key taken on each call)."""
    rng = np.random.default_rng(0)
    x = dlarray(np.zeros((1, 8)))
    data = [dlarray(rng.standard_normal(s).astype(np.float32) * 0.1) for s in ((32, 64), (32, 1), (10, 32), (10, 1))]
    batch = [dlarray(rng.standard_normal((64, 16)).astype(np.float32)),
             dlarray(np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, 16)])]
    rows = [("x + 1", plus_one, (x,)), ("x + rand(1, 8)", plus_rand, (x,)),
            ("MLP 64-32-10 step, batch 16", mlp_step, (*data, *batch)),
            ("the same, dropout 0.5", mlp_dropout_step, (*data, *batch))]
    for name, fn, args in rows:
        f = dl.dlaccelerate(fn)
        f(*args), f(*args)
        path = "native" if type(f.__call__).__name__ == "Dispatcher" else \
            "generated Python" if f.__call__ != f.slow else "Python dispatch"
        print(f"dlaccelerate, {name:<28} {per_call(lambda: f(*args), 20_000):7.2f} us  ({path})")


def network_loss(net, X, T):
    """MATLAB's modelLoss: [loss, gradients] = dlfeval(@modelLoss, net, X, T)."""
    loss = dl.mse(dl.forward(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)


def plain_loss(W1, b1, W2, b2, X, T):
    """The same network written out on plain dlarrays."""
    loss = dl.mse(dl.fullyconnect(dl.relu(dl.fullyconnect(X, W1, b1)), W2, b2), T)
    return loss, dl.dlgradient(loss, W1, b1, W2, b2)


def network():
    """dlaccelerate/dlfeval with a dlnetwork argument vs plain dlarrays, and the optimizer updates
    on a network outside dlfeval (a 4-16-2 MLP, batch 8, float32 learnables)."""
    rng = np.random.default_rng(0)
    X, T = dlarray(rng.random((4, 8)), "CB"), dlarray(rng.random((2, 8)), "CB")
    net = dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(16), dl.reluLayer(),
                        dl.fullyConnectedLayer(2)])
    plain = [dlarray(v) for v in net.Learnables.Value]
    acc_net, acc_plain = dl.dlaccelerate(network_loss), dl.dlaccelerate(plain_loss)
    _, grads = acc_net(net, X, T)
    _, avg, sqavg = dl.adamupdate(net, grads, None, None, 1)
    _, vel = dl.sgdmupdate(net, grads, None)

    def loop_step():   # one iteration of MATLAB's custom training loop
        _, g = dl.dlfeval(network_loss, net, X, T)
        return dl.adamupdate(net, g, avg, sqavg, 3)
    rows = [("dlaccelerate(modelLoss)(net, X, T)", lambda: acc_net(net, X, T), acc_net),
            ("the same on plain dlarrays", lambda: acc_plain(*plain, X, T), acc_plain),
            ("dlfeval(modelLoss, net, X, T)", lambda: dl.dlfeval(network_loss, net, X, T), None),
            ("dlfeval on plain dlarrays", lambda: dl.dlfeval(plain_loss, *plain, X, T), None),
            ("adamupdate(net, grads, avg, sqavg, 3)", lambda: dl.adamupdate(net, grads, avg, sqavg, 3), None),
            ("sgdmupdate(net, grads, vel)", lambda: dl.sgdmupdate(net, grads, vel), None),
            ("dlfeval + adamupdate (a loop iteration)", loop_step, None)]
    for name, fn, accfun in rows:
        fn(), fn(), fn()
        path = "" if accfun is None else \
            " (native)" if type(accfun.__call__).__name__ == "Dispatcher" else " (Python)"
        print(f"{name:<42} {per_call(fn, 20_000):7.2f} us{path}")


if __name__ == "__main__":
    if "--network" in sys.argv:
        network()
    elif "--draws" not in sys.argv:
        main()   # ends on the ABI-mode fallback: the draws run in a process of their own
    else:
        draws()
