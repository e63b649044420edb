"""The 2-rank checks of the spmd functions, run by test_mpi.py as `mpiexec -n 2 python spmd_checks.py CACHE`.

Every rank prints "passed <check>" per check; an assertion on one rank aborts the job
(dlgrad's excepthook) with the rank and the error on stderr. Rank 1 compiles into a cache
directory of its own (CACHE-rank1), so the accelerated function it receives from rank 0 is
built there from the C source it carries, not loaded from rank 0's cache.
"""
import os
import sys

RANK = int(os.environ.get("PMI_RANK", "0"))
os.environ["DLGRAD_CACHE_DIR"] = sys.argv[1] + ("-rank1" if RANK == 1 else "")

import numpy as np  # noqa: E402

import dlgrad as dl  # noqa: E402

TRACES = []


def passed(name):
    print(f"passed {name} on rank {dl.spmdIndex()}", flush=True)


def check_world():
    assert (dl.spmdIndex(), dl.spmdSize()) == (RANK, 2), (dl.spmdIndex(), dl.spmdSize())
    dl.spmdBarrier()
    passed("world")


def check_plus_nested():
    r = dl.spmdIndex()
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=r)
    value = {"net": net.Learnables, "list": [r + 1, 0.5 * r, True, np.float32(r)],
             "ints": np.arange(3) * (r + 1), "formatted": dl.dlarray(np.full((2, 4), r + 1.0), "CB")}
    total = dl.spmdPlus(value)
    nets = [dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=k) for k in (0, 1)]
    for row, a, b in zip(total["net"], nets[0].Learnables, nets[1].Learnables):
        assert type(row.Value) is dl.dlarray and row.Value.dtype == np.float32
        assert np.array_equal(dl.extractdata(row.Value), dl.extractdata(a.Value) + dl.extractdata(b.Value))
    assert total["list"] == [3, 0.5, 2, np.float32(1)] and type(total["list"][0]) is int
    assert type(total["list"][3]) is np.float32 and total["ints"].tolist() == [0, 3, 6]
    assert dl.dims(total["formatted"]) == "CB" and np.all(dl.extractdata(total["formatted"]) == 3)
    only = dl.spmdPlus(np.ones(3), 1)
    assert (only is None) if r == 0 else only.tolist() == [2, 2, 2]
    passed("plus_nested")


def check_reduce():
    r = dl.spmdIndex()
    assert dl.spmdReduce("and", r == 0) is False and dl.spmdReduce("or", r == 0) is True
    assert dl.spmdReduce(np.logical_and, [True, True]) == [True, True]
    assert dl.spmdReduce(np.maximum, np.array([r, -r, 5.0])).tolist() == [1, 0, 5]
    assert dl.spmdReduce("times", 3.0 + r) == 12.0
    folded = dl.spmdReduce(lambda a, b: 10 * a + b, {"x": np.array([r + 1.0, 2.0])})   # index order
    assert folded["x"].tolist() == [12.0, 22.0], folded
    to_zero = dl.spmdReduce(lambda a, b: a - b, r + 1.0, 0)
    assert to_zero == -1.0 if r == 0 else to_zero is None
    passed("reduce")


def check_cat_and_broadcast():
    r = dl.spmdIndex()
    cat = dl.spmdCat({"a": np.full((r + 1, 2), float(r)), "b": dl.dlarray(np.full((2, 1), r), "CB")}, dim=0)
    assert cat["a"].tolist() == [[0, 0], [1, 1], [1, 1]]
    cat = dl.spmdCat(dl.dlarray(np.full((2, 1), r), "CB"), dim=1)
    assert dl.dims(cat) == "CB" and dl.extractdata(cat).tolist() == [[0, 1], [0, 1]]
    to_one = dl.spmdCat([np.array([r, r])], 0, 1)
    assert to_one is None if r == 0 else to_one[0].tolist() == [0, 0, 1, 1]
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=7) if r == 0 else None
    got = dl.spmdBroadcast(0, net)
    ref = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=7)
    assert all(np.array_equal(dl.extractdata(a.Value), dl.extractdata(b.Value))
               for a, b in zip(got.Learnables, ref.Learnables))
    passed("cat_and_broadcast")


def check_plus_through_reused_buffers():
    """Large buffers are summed by MPI in memory reused between calls: exact sums, the same bits on
    both ranks, earlier results untouched by later calls, the buffer grown for a larger one, and a
    clear error on every rank when the ranks' values differ in size."""
    from dlgrad.frontend.parallel.world import world
    r = dl.spmdIndex()
    rng = np.random.default_rng(10 + r)
    values = {"f32": rng.standard_normal((300, 70)).astype(np.float32), "f64": rng.standard_normal(5000),
              "ints": rng.integers(-9, 9, 5000), "bools": rng.random(5000) < 0.5,
              "net": dl.dlnetwork([dl.featureInputLayer(40), dl.fullyConnectedLayer(200)], seed=r).Learnables}
    calls = world().sums.calls
    sums = {key: dl.spmdPlus(value) for key, value in values.items()}
    assert world().sums.calls == calls + len(values), "spmdPlus did not use its reused buffers"
    both = dl.spmdCat({key: values[key] for key in ("f32", "f64", "ints", "bools")}, 0)
    for key, n in (("f32", 300), ("f64", 5000), ("ints", 5000), ("bools", 5000)):
        expected = both[key][:n].astype(sums[key].dtype) + both[key][n:].astype(sums[key].dtype)
        assert sums[key].dtype == (np.int64 if key == "bools" else values[key].dtype), (key, sums[key].dtype)
        assert np.array_equal(sums[key], expected), key
    weights = [dl.extractdata(row.Value) for row in sums["net"]]
    nets = [dl.dlnetwork([dl.featureInputLayer(40), dl.fullyConnectedLayer(200)], seed=k).Learnables
            for k in (0, 1)]
    for w, a, b in zip(weights, nets[0], nets[1]):
        assert np.array_equal(w, dl.extractdata(a.Value) + dl.extractdata(b.Value))
    mine = np.concatenate([sums["f32"].ravel(), sums["f64"].astype(np.float32)]).tobytes()
    halves = dl.spmdCat([np.frombuffer(mine, np.uint8)], 0)[0].reshape(2, -1)
    assert np.array_equal(halves[0], halves[1]), "the ranks got different bits"
    first = dl.spmdPlus(np.full(6000, 1.0 + r))
    second = dl.spmdPlus(np.full(6000, 10.0))
    third = dl.spmdPlus(np.full(9000, 7.0))   # a larger buffer: the reused one grows
    assert np.all(first == 3) and np.all(second == 20) and np.all(third == 14), "a later sum overwrote one"
    try:
        dl.spmdPlus(np.ones(6000 + r))
    except ValueError as exc:
        assert "same structure, shapes and dtypes" in str(exc), exc
        assert f"this process has {6000 + r} numbers" in str(exc), exc
    else:
        raise AssertionError("spmdPlus of values of different sizes did not raise")
    assert np.all(dl.spmdPlus(np.ones(6000)) == 2)   # usable after the error
    passed("plus_through_reused_buffers")


def model_loss(net, params, X, T):
    Y = dl.forward(net.with_learnables(params["net"]), X) * params["scale"][0]
    loss = dl.crossentropy(dl.softmax(Y), T)
    return loss, dl.dlgradient(loss, params)


def check_shard_gradients():
    """Shard gradients weighted by shard size and summed equal the full-batch gradient (float64)."""
    layers = [dl.featureInputLayer(5), dl.fullyConnectedLayer(8), dl.tanhLayer(), dl.fullyConnectedLayer(3)]
    net = dl.dlnetwork(layers, seed=3, dtype=np.float64)
    params = {"net": net.Learnables, "scale": [dl.dlarray(np.array([[1.5]]))]}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 12))
    T = np.eye(3)[:, rng.integers(0, 3, 12)]
    full_loss, full_grad = dl.dlfeval(model_loss, net, params, dl.dlarray(X, "CB"), T)
    shard = slice(0, 7) if dl.spmdIndex() == 0 else slice(7, 12)   # unequal shards
    factor = (shard.stop - shard.start) / 12
    loss, grad = dl.dlfeval(model_loss, net, params, dl.dlarray(X[:, shard], "CB"), T[:, shard])
    grad = dl.spmdPlus(dl.dlupdate(lambda g: factor * g, grad))   # one collective for the whole dict
    loss = dl.spmdPlus(factor * loss)
    assert abs(float(loss) - float(full_loss)) <= 1e-12
    assert type(grad["net"]) is dl.Learnables
    for a, b in zip(grad["net"], full_grad["net"]):
        assert np.max(np.abs(dl.extractdata(a.Value) - dl.extractdata(b.Value))) <= 1e-12, a.Parameter
    assert abs(dl.extractdata(grad["scale"][0] - full_grad["scale"][0]).item()) <= 1e-12
    passed("shard_gradients")


def traced_loss(x, w):
    TRACES.append(1)
    y = dl.sum(dl.tanh(x * w) ** 2)
    return y, dl.dlgradient(y, w)


def check_accelerated_function_travels():
    """Rank 0 traces and compiles; rank 1 receives the pickle and computes without tracing."""
    x, w = dl.dlarray(np.array([0.5, -1.0, 2.0])), dl.dlarray(np.array([1.0, 2.0, 3.0]))
    fn = None
    if dl.spmdIndex() == 0:
        fn = dl.dlaccelerate(traced_loss)
        fn(x, w)
    fn = dl.spmdBroadcast(0, fn)
    y, g = fn(x, w)
    fn(x, w)
    traces = len(TRACES)
    expected = dl.dlfeval(traced_loss, x, w)   # traced here on both ranks
    assert traces == (1 if dl.spmdIndex() == 0 else 0), f"traced {traces} times on rank {dl.spmdIndex()}"
    assert float(y) == float(expected[0]) and np.array_equal(dl.extractdata(g), dl.extractdata(expected[1]))
    print(f"rank {dl.spmdIndex()} traced the accelerated function {traces} times", flush=True)
    passed("accelerated_function_travels")


def check_traced_value_refused():
    def leaky(x):
        return dl.spmdPlus(x * 2)
    try:
        dl.dlfeval(leaky, dl.dlarray(np.ones(2)))
    except dl.TraceError as exc:
        assert "moving traced dlarray objects between the client and workers breaks the tracing" in str(exc)
    else:
        raise AssertionError("spmdPlus of a traced dlarray did not raise")
    passed("traced_value_refused")


if __name__ == "__main__":
    for check in (check_world, check_plus_nested, check_plus_through_reused_buffers, check_reduce,
                  check_cat_and_broadcast, check_shard_gradients, check_accelerated_function_travels,
                  check_traced_value_refused):
        check()
    dl.spmdBarrier()
