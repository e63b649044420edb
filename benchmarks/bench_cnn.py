"""The CNN of MATLAB's "Train Network Using Custom Training Loop" example at its real size, one
thread: 28x28x1 images, batch 128, float32; conv 5x5x20 "same" + batchnorm + relu, two conv
3x3x20 "same" + batchnorm + relu, fullyConnected(10), softmax, crossentropy, Adam.

Measured for dlgrad: the generated C (bytes), the first step (trace + C + gcc, in a fresh cache
after an unrelated function has loaded the compile path) and the train step (one native call,
parameters and Adam's moments donated). PyTorch eager and JAX jit run the same step when
installed (skipped otherwise). Also: the first step of examples/train_digits.py's 8x8 CNN.

Run: python benchmarks/bench_cnn.py [--size 28] [--steps 20]
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ["DLGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="dlgrad-bench-cnn-")   # a cold cache, removed at exit
atexit.register(shutil.rmtree, os.environ["DLGRAD_CACHE_DIR"], True)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import glob  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import dlgrad as dl  # noqa: E402

BATCH, FILTERS, CLASSES = 128, 20, 10


def timed(step, steps, repeats=3):
    """Median seconds per step over `repeats` runs of `steps` steps (after one warm-up step)."""
    step()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


def data(size, rng):
    x = rng.random((size, size, 1, BATCH), dtype=np.float32)
    t = np.eye(CLASSES, dtype=np.float32)[:, rng.integers(0, CLASSES, BATCH)]
    return x, t


# --- dlgrad ------------------------------------------------------------------------------------
def layers(size):
    return [dl.imageInputLayer((size, size, 1), Normalization="none"),
            dl.convolution2dLayer(5, FILTERS, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.convolution2dLayer(3, FILTERS, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.convolution2dLayer(3, FILTERS, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.fullyConnectedLayer(CLASSES), dl.softmaxLayer()]


def train_step(net, X, T, m, v, iteration):
    loss = dl.crossentropy(dl.forward(net, X), T)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration)
    return net, m, v, loss


def c_bytes():
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(os.environ["DLGRAD_CACHE_DIR"], "**", "*.c"),
                                                     recursive=True))


def dlgrad_step(net_layers, x, t, fmt="SSCB"):
    """(step, first-step seconds, bytes of C written by the first step)."""
    net = dl.dlnetwork(net_layers, seed=0)
    zeros = lambda p: dl.dlarray(np.zeros(p.shape, p.dtype))   # noqa: E731
    state = {"net": net, "m": dl.dlupdate(zeros, net.Learnables), "v": dl.dlupdate(zeros, net.Learnables), "it": 0}
    accelerated = dl.dlaccelerate(train_step, donate=(0, 3, 4))
    X = dl.dlarray(x, fmt)

    def step():
        state["it"] += 1
        state["net"], state["m"], state["v"], _ = dl.dlfeval(
            accelerated, state["net"], X, t, state["m"], state["v"], dl.dlarray(float(state["it"])))
    before, start = c_bytes(), time.perf_counter()
    step()
    return step, time.perf_counter() - start, c_bytes() - before


def warm_compile_path():
    """Compile an unrelated function, so the first step measures trace, C and gcc only."""
    def f(x):
        y = dl.sum(x * x)
        return y, dl.dlgradient(y, x)
    dl.dlfeval(f, dl.dlarray(np.ones(3)))


# --- PyTorch eager -----------------------------------------------------------------------------
def torch_step(x, t):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    nn = torch.nn
    size = x.shape[0]
    model = nn.Sequential(nn.Conv2d(1, FILTERS, 5, padding=2), nn.BatchNorm2d(FILTERS), nn.ReLU(),
                          nn.Conv2d(FILTERS, FILTERS, 3, padding=1), nn.BatchNorm2d(FILTERS), nn.ReLU(),
                          nn.Conv2d(FILTERS, FILTERS, 3, padding=1), nn.BatchNorm2d(FILTERS), nn.ReLU(),
                          nn.Flatten(), nn.Linear(FILTERS * size * size, CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    labels = torch.from_numpy(t.argmax(0))

    def step():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xs), labels)
        loss.backward()
        optimizer.step()
    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


# --- JAX jit -----------------------------------------------------------------------------------
def jax_step(x, t):
    import jax
    import jax.numpy as jnp
    size = x.shape[0]
    key = jax.random.PRNGKey(0)
    shapes = [(FILTERS, 1, 5, 5), (FILTERS, FILTERS, 3, 3), (FILTERS, FILTERS, 3, 3)]
    keys = jax.random.split(key, 4)
    params = {"conv": [(jax.random.normal(k, s) * 0.1, jnp.zeros(FILTERS), jnp.ones(FILTERS), jnp.zeros(FILTERS))
                       for k, s in zip(keys, shapes)],
              "fc": (jax.random.normal(keys[3], (CLASSES, FILTERS * size * size)) * 0.01, jnp.zeros(CLASSES))}

    def loss_fn(p, xs, ts):
        h = xs
        for w, b, scale, offset in p["conv"]:
            h = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME") + b[None, :, None, None]
            mean = h.mean((0, 2, 3), keepdims=True)
            var = h.var((0, 2, 3), keepdims=True)
            h = (h - mean) / jnp.sqrt(var + 1e-5) * scale[None, :, None, None] + offset[None, :, None, None]
            h = jax.nn.relu(h)
        z = h.reshape(h.shape[0], -1) @ p["fc"][0].T + p["fc"][1]
        return -jnp.mean(jnp.sum(ts * jax.nn.log_softmax(z, axis=1), axis=1))

    @jax.jit
    def update(p, m, v, it, xs, ts):
        g = jax.grad(loss_fn)(p, xs, ts)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        scale = 1e-3 * jnp.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it)
        p = jax.tree_util.tree_map(lambda q, a, b: q - scale * a / (jnp.sqrt(b) + 1e-8), p, m, v)
        return p, m, v

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = {"p": params, "m": zeros, "v": zeros, "it": 0}
    xs, ts = jnp.asarray(x.transpose(3, 2, 0, 1)), jnp.asarray(t.T)

    def step():
        state["it"] += 1
        state["p"], state["m"], state["v"] = update(state["p"], state["m"], state["v"], float(state["it"]), xs, ts)
        jax.block_until_ready(state["p"])
    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description="dlgrad CNN training-step benchmark")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x, t = data(args.size, rng)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, one thread, numpy {np.__version__}")
    print(f"MATLAB custom-training-loop CNN, {args.size}x{args.size}x1, batch {BATCH}, float32, Adam")
    warm_compile_path()
    step, first, size = dlgrad_step(layers(args.size), x, t)
    rows = [("dlgrad", f"{size / 1e3:.0f} kB", first, timed(step, args.steps))]
    for name, make in (("PyTorch eager", torch_step), ("JAX jit", jax_step)):
        module = "torch" if name.startswith("PyTorch") else "jax"
        if importlib.util.find_spec(module) is None:
            print(f"  {name}: not installed, skipped")
            continue
        peer, peer_first = make(x, t)
        rows.append((name, "-", peer_first, timed(peer, args.steps)))
    base = rows[0][3]
    print(f"  {'':<14} {'C':>8} {'first step':>11} {'train step':>11} {'vs dlgrad':>9}")
    for name, c, first, seconds in rows:
        print(f"  {name:<14} {c:>8} {first:>9.2f} s {seconds * 1e3:>8.1f} ms {seconds / base:>8.2f}x")
    digits = [dl.imageInputLayer((8, 8, 1)), dl.convolution2dLayer(3, 16, Padding="same"),
              dl.batchNormalizationLayer(), dl.reluLayer(), dl.maxPooling2dLayer(2, Stride=2),
              dl.convolution2dLayer(3, 32, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
              dl.fullyConnectedLayer(10), dl.softmaxLayer()]
    dx, dt = rng.random((8, 8, 1, BATCH), dtype=np.float32), t
    _, first, size = dlgrad_step(digits, dx, dt)
    print(f"digits CNN of examples/train_digits.py (8x8x1, batch {BATCH}): first step {first:.2f} s, "
          f"C {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
