"""Sequence models, one thread: an LSTM's forward and backward, and a transformer encoder block's train step.

LSTM: 32 input channels, 128 hidden units, batch 32, 100 time steps, float32; the scalar loss
sum(Y) over the whole output sequence and its gradient with respect to the weights. dlgrad runs
`lstm` (one input GEMM, then a compiled loop; the gradient is the reverse loop) through
dlaccelerate; the peers are PyTorch eager's nn.LSTM (oneDNN's fused LSTM) and JAX's lax.scan
under jit (skipped when not installed). Also: the generated C and first-call seconds at T = 10
and T = 1000 (the loop is never unrolled).

Transformer encoder block: d = 64, 4 heads, T = 64, batch 16, post-norm (self-attention,
residual, layernorm, 256-wide feed-forward with relu, residual, layernorm), mse against a fixed
target, Adam; against PyTorch eager's nn.TransformerEncoderLayer (dropout 0).

Each timing is the fastest of alternating rounds (every implementation meets the same load).
Run: python benchmarks/bench_lstm.py [--rounds 7]
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ["DLGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="dlgrad-bench-lstm-")   # a cold cache, removed at exit
atexit.register(shutil.rmtree, os.environ["DLGRAD_CACHE_DIR"], True)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import dlgrad as dl  # noqa: E402
from rows import Row, failed, table  # noqa: E402

C, H, B, T = 32, 128, 32, 100
D, HEADS, STEPS, BATCH, FF = 64, 4, 64, 16, 256


def lstm_weights(rng):
    return (rng.standard_normal((4 * H, C)).astype(np.float32) * 0.1,
            rng.standard_normal((4 * H, H)).astype(np.float32) * 0.1,
            np.zeros(4 * H, np.float32))


# --- LSTM: dlgrad, PyTorch eager, JAX jit -----------------------------------------------------
def lstm_loss(x, w, r, b):
    zeros = np.zeros(H, np.float32)
    y, _, _ = dl.lstm(x, zeros, zeros, w, r, b)
    loss = dl.sum(dl.stripdims(y))
    return loss, dl.dlgradient(loss, [w, r, b])


def dlgrad_lstm(x, weights, steps=T):
    fn = dl.dlaccelerate(lstm_loss)
    args = (dl.dlarray(x[:, :, :steps], "CBT"), *(dl.dlarray(a) for a in weights))
    return lambda: fn(*args)


def torch_lstm(x, weights):
    import torch
    torch.set_num_threads(1)
    lstm = torch.nn.LSTM(C, H)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(weights[0]))
        lstm.weight_hh_l0.copy_(torch.from_numpy(weights[1]))
        lstm.bias_ih_l0.zero_()
        lstm.bias_hh_l0.zero_()
    xs = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0)))     # (T, B, C)

    def step():
        lstm.zero_grad(set_to_none=True)
        y, _ = lstm(xs)
        y.sum().backward()
        return lstm.weight_hh_l0.grad
    return step


def jax_lstm(x, weights):
    import jax
    import jax.numpy as jnp

    def loss(params, xs):
        w, r, b = params
        xp = jnp.einsum("gc,tbc->tbg", w, xs) + b

        def step(carry, z_in):
            h, c = carry
            z = z_in + h @ r.T
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h
        zeros = jnp.zeros((xs.shape[1], H), jnp.float32)
        _, ys = jax.lax.scan(step, (zeros, zeros), xp)
        return ys.sum()
    grad = jax.jit(jax.value_and_grad(loss))
    params = tuple(jnp.asarray(a) for a in weights)
    xs = jnp.asarray(np.ascontiguousarray(x.transpose(2, 1, 0)))
    return lambda: jax.block_until_ready(grad(params, xs))


# --- transformer encoder block: dlgrad, PyTorch eager -----------------------------------------
def encoder_layers():
    g = dl.layerGraph([dl.sequenceInputLayer(D, name="in"), dl.selfAttentionLayer(HEADS, D, name="attn"),
                       dl.additionLayer(2, name="res1"), dl.layerNormalizationLayer(name="ln1"),
                       dl.fullyConnectedLayer(FF, name="ff1"), dl.reluLayer(name="relu"),
                       dl.fullyConnectedLayer(D, name="ff2"), dl.additionLayer(2, name="res2"),
                       dl.layerNormalizationLayer(name="ln2")])
    g = dl.connectLayers(g, "in", "res1/in2")
    return dl.connectLayers(g, "ln1", "res2/in2")


def encoder_step(net, x, t, m, v, iteration):
    loss = dl.mse(dl.forward(net, x), t)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration)
    return net, m, v, loss


def dlgrad_encoder(x, t):
    net = dl.dlnetwork(encoder_layers(), seed=0)
    zeros = lambda p: dl.dlarray(np.zeros(p.shape, p.dtype))   # noqa: E731
    state = {"net": net, "m": dl.dlupdate(zeros, net.Learnables), "v": dl.dlupdate(zeros, net.Learnables), "it": 0}
    fn = dl.dlaccelerate(encoder_step, donate=(0, 3, 4))
    X, target = dl.dlarray(x, "CBT"), dl.dlarray(t, "CBT")

    def step():
        state["it"] += 1
        state["net"], state["m"], state["v"], _ = fn(state["net"], X, target, state["m"], state["v"],
                                                     dl.dlarray(np.float32(state["it"])))
    return step


def torch_encoder(x, t):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, dim_feedforward=FF, dropout=0.0)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    xs = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0)))      # (T, B, D)
    ts = torch.from_numpy(np.ascontiguousarray(t.transpose(2, 1, 0)))

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(layer(xs), ts).backward()
        optimizer.step()
    return step


# --- timing ------------------------------------------------------------------------------------
def fastest(makers, rounds, budget=0.3):
    """{name: seconds per call or an error string}: each fn = make() is called once (compile,
    warm-up), then rounds alternate between the implementations, each round as many calls as fill
    `budget`; the fastest round of each counts."""
    fns, out = {}, {}
    for name, make in makers.items():
        try:
            start = time.perf_counter()
            fn = make()
            fn()
            fns[name] = (fn, max(1, round(budget / max(timeit.timeit(fn, number=1), 1e-6))))
            out[name] = [float("inf"), time.perf_counter() - start]
        except ImportError as exc:
            out[name] = f"skipped: {exc.name or exc} not installed"
        except Exception as exc:  # noqa: BLE001 - one broken peer must not stop the run
            out[name] = failed(exc)
    for _ in range(rounds):
        for name, (fn, calls) in fns.items():
            out[name][0] = min(out[name][0], timeit.timeit(fn, number=calls) / calls)
    return out


def c_size_and_first_call(x, weights, steps):
    """(bytes of C, seconds of the first call) of the LSTM loss and gradient at `steps` time steps."""
    args = (dl.dlarray(x[:, :, :steps], "CBT"), *(dl.dlarray(a) for a in weights))
    size = len(dl.lower(lstm_loss, *args).c_source.encode())
    start = time.perf_counter()
    dl.dlaccelerate(lstm_loss)(*args)
    return size, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((C, B, 1000)).astype(np.float32)
    weights = lstm_weights(rng)
    rows = []
    timings = fastest({"dlgrad": lambda: dlgrad_lstm(x, weights),
                       "PyTorch eager": lambda: torch_lstm(x[:, :, :T], weights),
                       "JAX jit": lambda: jax_lstm(x[:, :, :T], weights)}, args.rounds)
    for name, result in timings.items():
        if isinstance(result, str):
            rows.append(Row("LSTM", name, note=result))
        else:
            rows.append(Row("LSTM", name, result[0], floor=name == "PyTorch eager",
                            target=("x", 0.8) if name == "dlgrad" else None, note=f"first call {result[1]:.2f} s"))
    xt = rng.standard_normal((D, BATCH, STEPS)).astype(np.float32)
    tt = rng.standard_normal((D, BATCH, STEPS)).astype(np.float32)
    timings = fastest({"dlgrad": lambda: dlgrad_encoder(xt, tt), "PyTorch eager": lambda: torch_encoder(xt, tt)},
                      args.rounds)
    for name, result in timings.items():
        if isinstance(result, str):
            rows.append(Row("encoder", name, note=result))
        else:
            rows.append(Row("encoder", name, result[0], floor=name == "PyTorch eager",
                            target=("x", 1.0) if name == "dlgrad" else None, note=f"first call {result[1]:.2f} s"))
    short, long = (c_size_and_first_call(x, weights, steps) for steps in (10, 1000))
    rows.append(Row("C size", "LSTM, T = 10", short[0], unit="B", floor=True, note=f"first call {short[1]:.2f} s"))
    rows.append(Row("C size", "LSTM, T = 1000", long[0], unit="B", target=("x", 1.1),
                    note=f"first call {long[1]:.2f} s"))
    print(f"dlgrad {dl.__version__}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; one thread; "
          f"fastest of {args.rounds} alternating rounds")
    print(f"LSTM: {C} inputs, {H} hidden, batch {B}, T = {T}, float32, forward + backward of sum(Y); "
          f"encoder block: d = {D}, {HEADS} heads, T = {STEPS}, batch {BATCH}, train step with Adam")
    print(table(rows))


if __name__ == "__main__":
    main()
