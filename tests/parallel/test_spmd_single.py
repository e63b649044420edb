"""The spmd functions in one process (no mpiexec): MATLAB's answers on a single worker, the
values' kinds kept, clear errors; and pickles of what a parallel loop sends between processes."""
import pickle

import numpy as np
import pytest

import dlgrad as dl
from dlgrad.frontend import tree
from dlgrad.frontend.parallel import world


@pytest.fixture(autouse=True)
def single(monkeypatch):
    monkeypatch.setattr(world, "_world", world.Single())


def small_net(dtype=np.float32):
    return dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2)], seed=1, dtype=dtype)


def test_one_process_is_index_zero_of_one():
    assert (dl.spmdIndex(), dl.spmdSize()) == (0, 1)
    dl.spmdBarrier()


def test_launch_detection(monkeypatch):
    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "DLGRAD_MPI"):
        monkeypatch.delenv(name, raising=False)
    assert not world.launched()
    monkeypatch.setenv("PMI_RANK", "0")
    assert world.launched()
    monkeypatch.setenv("DLGRAD_MPI", "0")
    assert not world.launched()


def test_plus_keeps_structure_kinds_and_dtypes():
    net = small_net()
    value = {"t": net.Learnables, "n": [2, 0.5, True, np.float32(1.5)], "a": np.arange(3),
             "f": dl.dlarray(np.ones((2, 4)), "CB")}
    total = dl.spmdPlus(value)
    assert type(total["t"]) is dl.Learnables and total["t"].Parameter == net.Learnables.Parameter
    for a, b in zip(total["t"], net.Learnables):
        assert a.Value.dtype == np.float32 and np.array_equal(dl.extractdata(a.Value), dl.extractdata(b.Value))
    assert total["n"] == [2, 0.5, 1, 1.5] and [type(v) for v in total["n"]] == [int, float, int, np.float32]
    assert total["a"].dtype == np.arange(3).dtype and dl.dims(total["f"]) == "CB"
    assert dl.spmdPlus(net).Learnables.Parameter == net.Learnables.Parameter   # a dlnetwork too


def test_reduce_and_cat_and_broadcast_on_one_worker():
    assert dl.spmdReduce("and", True) is True and dl.spmdReduce("or", [False]) == [False]
    assert dl.spmdReduce(np.maximum, np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert dl.spmdReduce(lambda a, b: a - b, {"x": 3.0}) == {"x": 3.0}
    assert dl.extractdata(dl.spmdCat(dl.dlarray(np.eye(2)), 1)).tolist() == [[1, 0], [0, 1]]
    assert dl.spmdBroadcast(0, "anything") == "anything"
    assert dl.spmdPlus(np.ones(2), 0).tolist() == [1, 1]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"destination must be a process index 0..0"):
        dl.spmdPlus(1.0, 1)
    with pytest.raises(ValueError, match=r"source must be a process index"):
        dl.spmdBroadcast(2, 1.0)
    with pytest.raises(TypeError, match=r"got a value of type str"):
        dl.spmdPlus({"a": "text"})
    with pytest.raises(ValueError, match=r"fcn must be one of"):
        dl.spmdReduce("mean", 1.0)
    with pytest.raises(ValueError, match=r"dim 2 is not an axis"):
        dl.spmdCat(np.ones((2, 2)), 2)


def test_traced_values_are_refused_with_matlabs_rule():
    def send(x):
        return dl.spmdPlus({"g": x * 2})

    def pickle_it(x):
        pickle.dumps(x * 2)
        return x
    for fn in (send, pickle_it):
        with pytest.raises(dl.TraceError, match="moving traced dlarray objects between the client and workers"):
            dl.dlfeval(fn, dl.dlarray(np.ones(2)))


def test_what_a_parallel_loop_sends_pickles():
    net = small_net()
    grads = dl.dlupdate(lambda p: p * 0.5, net.Learnables)
    _, velocity = dl.sgdmupdate(net, grads, None)
    _, m, v = dl.adamupdate(net, grads, None, None, 1)
    for value in (net, net.Learnables, net.State, velocity, (m, v), dl.dlarray(np.ones((2, 3)), "CB")):
        again = pickle.loads(pickle.dumps(value))
        assert type(again) is type(value)
        (left, shape), (right, same) = tree.flatten(value), tree.flatten(again)
        assert shape == same and len(left) == len(right)
        for a, b in zip(left, right):
            assert dl.dims(a) == dl.dims(b) and np.array_equal(dl.extractdata(a), dl.extractdata(b))
