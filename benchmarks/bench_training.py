"""Training-step benchmark: one step (forward, backward, Adam) of an MLP 784-128-10 (batch 128,
float32) and of the digits CNN, compiled dlgrad against baselines run in the same process:

  - a hand-written numpy implementation of the same MLP step (always);
  - PyTorch eager, single-threaded, and JAX jit, when installed (skipped otherwise).

Run: python benchmarks/bench_training.py [--steps N]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import time

import numpy as np

import dlgrad as dl

BATCH, SIZES = 128, (784, 128, 10)


def timed(step, steps, repeats=5):
    """Median seconds per step over `repeats` runs of `steps` steps (after one warm-up step)."""
    step()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


def data(rng):
    x = rng.standard_normal((SIZES[0], BATCH)).astype(np.float32)
    t = np.eye(SIZES[2], dtype=np.float32)[:, rng.integers(0, SIZES[2], BATCH)]
    return x, t


# --- dlgrad ---------------------------------------------------------------------------

def model_loss(net, X, T):
    loss = dl.crossentropy(dl.forward(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)


def dlgrad_step(layers, X, T):
    state = {"net": dl.dlnetwork(layers, seed=0), "g": None, "s": None, "it": 0}

    def step(X=X, T=T):
        state["it"] += 1
        loss, grads = dl.dlfeval(model_loss, state["net"], X, T)
        state["net"], state["g"], state["s"] = dl.adamupdate(state["net"], grads, state["g"], state["s"],
                                                             state["it"])
    return step


def train_step(net, X, T, m, v, iteration):
    """Forward, backward and Adam: compiled as one program (see fused_step)."""
    loss = dl.crossentropy(dl.forward(net, X), T)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration)
    return net, m, v, loss


def fused_step(layers, X, T):
    """One native call per step: parameters and Adam's moments donated, so updated in place."""
    net = dl.dlnetwork(layers, seed=0)
    zeros = lambda p: dl.dlarray(np.zeros(p.shape, p.dtype))   # noqa: E731
    state = {"net": net, "m": dl.dlupdate(zeros, net.Learnables), "v": dl.dlupdate(zeros, net.Learnables),
             "it": 0}
    accelerated = dl.dlaccelerate(train_step, donate=(0, 3, 4))

    def step(X=X, T=T):
        state["it"] += 1
        state["net"], state["m"], state["v"], _ = dl.dlfeval(
            accelerated, state["net"], X, T, state["m"], state["v"], dl.dlarray(float(state["it"])))
    return step


def mlp_layers():
    return [dl.featureInputLayer(SIZES[0]), dl.fullyConnectedLayer(SIZES[1]), dl.reluLayer(),
            dl.fullyConnectedLayer(SIZES[2]), dl.softmaxLayer()]


def cnn_layers():
    return [dl.imageInputLayer((8, 8, 1)), dl.convolution2dLayer(3, 16, Padding="same"),
            dl.batchNormalizationLayer(), dl.reluLayer(), dl.maxPooling2dLayer(2, Stride=2),
            dl.convolution2dLayer(3, 32, Padding="same"), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.flattenLayer(), dl.fullyConnectedLayer(10), dl.softmaxLayer()]


# --- hand-written numpy -----------------------------------------------------------------

def numpy_params(rng):
    """[w1, b1, w2, b2] of the MLP, Glorot-initialised, float32."""
    def glorot(n_out, n_in):
        bound = np.sqrt(6 / (n_in + n_out))
        return rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
    return [glorot(SIZES[1], SIZES[0]), np.zeros((SIZES[1], 1), np.float32),
            glorot(SIZES[2], SIZES[1]), np.zeros((SIZES[2], 1), np.float32)]


def numpy_loss_grads(params, x, t):
    """The crossentropy of softmax(MLP(x)) against one-hot t (columns are observations), and
    its gradients with respect to params, by hand."""
    w1, b1, w2, b2 = params
    h = np.maximum(w1 @ x + b1, 0)
    z = w2 @ h + b2
    z = z - z.max(0, keepdims=True)
    e = np.exp(z)
    s = e.sum(0, keepdims=True)
    loss = -np.sum(t * (z - np.log(s))) / BATCH
    dz = (e / s - t) / BATCH
    dh = (w2.T @ dz) * (h > 0)
    return loss, [dh @ x.T, dh.sum(1, keepdims=True), dz @ h.T, dz.sum(1, keepdims=True)]


def numpy_step(x, t, rng):
    params = numpy_params(rng)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    it = [0]

    def step(x=x, t=t):
        _, grads = numpy_loss_grads(params, x, t)
        it[0] += 1
        scale = 0.001 * np.sqrt(1 - 0.999 ** it[0]) / (1 - 0.9 ** it[0])
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * g * g
            p -= scale * mi / (np.sqrt(vi) + 1e-8)
    return step


# --- optional baselines ------------------------------------------------------------------

def torch_batch(x, t):
    """x (features x batch) and one-hot t as PyTorch wants them: batch x features, class labels."""
    import torch
    return torch.from_numpy(x.T.copy()), torch.from_numpy(t.argmax(0))


def torch_loss(compiled=False):
    """(model, loss(xt, labels)): the MLP in PyTorch, single-threaded; the loss through
    torch.compile when `compiled`."""
    import torch
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[1], SIZES[2]))

    def loss(xt, labels):
        return torch.nn.functional.cross_entropy(model(xt), labels)
    return model, (torch.compile(loss) if compiled else loss)


def torch_step(x, t, compiled=False):
    import torch
    model, loss_fn = torch_loss(compiled)
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    xt, labels = torch_batch(x, t)

    def step(xt=xt, labels=labels):
        opt.zero_grad()
        loss_fn(xt, labels).backward()
        opt.step()
    return step


def jax_loss(ps, x, t):
    """The MLP's crossentropy in JAX (params as from numpy_params; columns are observations)."""
    import jax
    import jax.numpy as jnp
    w1, b1, w2, b2 = ps
    z = w2 @ jnp.maximum(w1 @ x + b1, 0) + b2
    return -jnp.sum(t * jax.nn.log_softmax(z, axis=0)) / x.shape[1]


def jax_step(x, t, rng):
    import jax
    import jax.numpy as jnp
    params = [jnp.asarray(rng.standard_normal(s).astype(np.float32) * 0.05) for s in
              ((SIZES[1], SIZES[0]), (SIZES[1], 1), (SIZES[2], SIZES[1]), (SIZES[2], 1))]
    opt = [[jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params]]

    @jax.jit
    def update(ps, m, v, it, x, t):
        g = jax.grad(jax_loss)(ps, x, t)
        m = [0.9 * a + 0.1 * b for a, b in zip(m, g)]
        v = [0.999 * a + 0.001 * b * b for a, b in zip(v, g)]
        scale = 0.001 * jnp.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it)
        return [p - scale * a / (jnp.sqrt(b) + 1e-8) for p, a, b in zip(ps, m, v)], m, v

    xs, ts = jnp.asarray(x), jnp.asarray(t)
    state = {"p": params, "m": opt[0], "v": opt[1], "it": 0}

    def step(xs=xs, ts=ts):
        state["it"] += 1
        state["p"], state["m"], state["v"] = update(state["p"], state["m"], state["v"],
                                                    float(state["it"]), xs, ts)
        jax.block_until_ready(state["p"])
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description="dlgrad training-step benchmark")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x, t = data(rng)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, Adam; seconds per step (median)")
    start = time.perf_counter()
    step = dlgrad_step(mlp_layers(), dl.dlarray(x, "CB"), t)
    step()
    print(f"  dlgrad first step (trace + compile or cache load): {time.perf_counter() - start:.2f} s")
    results = {"dlgrad": timed(step, args.steps), "numpy (hand-written)": timed(numpy_step(x, t, rng), args.steps)}
    if importlib.util.find_spec("torch"):
        results["PyTorch eager (1 thread)"] = timed(torch_step(x, t), args.steps)
    else:
        print("  PyTorch not installed: skipped")
    if importlib.util.find_spec("jax"):
        results["JAX jit"] = timed(jax_step(x, t, rng), args.steps)
    else:
        print("  JAX not installed: skipped")
    base = results["dlgrad"]
    for name, seconds in results.items():
        print(f"  {name:<28} {seconds * 1e6:9.1f} us   {seconds / base:5.2f}x dlgrad")

    images = dl.dlarray(rng.random((8, 8, 1, BATCH), dtype=np.float32), "SSCB")
    cnn_t = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, BATCH)]
    start = time.perf_counter()
    step = dlgrad_step(cnn_layers(), images, cnn_t)
    step()
    print(f"digits CNN (8x8x1, conv16-bn-relu-pool-conv32-bn-relu-fc10), batch {BATCH}, float32")
    print(f"  dlgrad first step: {time.perf_counter() - start:.2f} s; "
          f"per step {timed(step, max(args.steps // 5, 3)) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
