"""Checkpoints: a training state in one npz file without pickles; a restarted run repeats the
uninterrupted one bit for bit."""
import numpy as np
import pytest

import dlgrad as dl


def layers():
    return [dl.featureInputLayer(4), dl.fullyConnectedLayer(6), dl.batchNormalizationLayer(), dl.reluLayer(),
            dl.fullyConnectedLayer(3), dl.softmaxLayer()]


def model_loss(net, X, T):
    Y, state = dl.forward(net, X, return_state=True)
    loss = dl.crossentropy(Y, T)
    return loss, dl.dlgradient(loss, net.Learnables), state


DATA = np.random.default_rng(5).standard_normal((4, 64)).astype(np.float32)
LABELS = np.eye(3, dtype=np.float32)[:, np.random.default_rng(6).integers(0, 3, 64)]


def run(state, steps, path=None, save_at=None):
    """Adam steps on shuffled batches of 16 drawn with the state's Generator."""
    for _ in range(steps):
        state["iteration"] += 1
        idx = state["rng"].permutation(64)[:16]
        loss, grads, net_state = dl.dlfeval(model_loss, state["net"], dl.dlarray(DATA[:, idx], "CB"), LABELS[:, idx])
        state["net"].State = net_state
        state["net"], state["avg_g"], state["avg_sq"] = dl.adamupdate(
            state["net"], grads, state["avg_g"], state["avg_sq"], state["iteration"], 0.05)
        state["losses"].append(float(loss))
        if state["iteration"] == save_at:
            dl.save_checkpoint(path, state)
    return state


def fresh():
    return {"net": dl.dlnetwork(layers(), seed=2), "avg_g": None, "avg_sq": None, "iteration": 0,
            "rng": np.random.default_rng(11), "losses": [], "note": ("adam", 0.05, -0.0)}


def values(state):
    return [dl.extractdata(v) for v in state["net"].Learnables.Value + state["net"].State.Value
            + state["avg_g"].Value + state["avg_sq"].Value]


def test_restart_from_a_checkpoint_repeats_the_trajectory_bit_for_bit(tmp_path):
    path = tmp_path / "train.npz"
    whole = run(fresh(), 6, path, save_at=3)
    restarted = run(dl.load_checkpoint(path), 3)
    assert restarted["iteration"] == 6 and restarted["losses"] == whole["losses"]
    for a, b in zip(values(whole), values(restarted)):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert restarted["rng"].random() == whole["rng"].random()
    assert restarted["note"] == ("adam", 0.05, -0.0) and str(restarted["note"][2]) == "-0.0"
    assert restarted["net"].Layers == whole["net"].Layers      # equal layers: the same compiled functions
    with np.load(path, allow_pickle=False) as file:            # nothing in it needs pickle
        assert all(file[name].dtype != object for name in file.files)


def test_layers_with_statistics_and_formats_round_trip(tmp_path):
    net = dl.dlnetwork([dl.imageInputLayer((4, 4, 2), Normalization="zscore", Mean=np.arange(2.0),
                                           StandardDeviation=[1.0, 2.0]),
                        dl.convolution2dLayer(3, 2, Padding="same"), dl.flattenLayer()])
    state = {"net": net, "x": dl.dlarray(np.ones((2, 3)), "CB"), "i": np.int32(4), "none": None,
             "mt": np.random.Generator(np.random.MT19937(3))}
    dl.save_checkpoint(tmp_path / "c.npz", state)
    again = dl.load_checkpoint(tmp_path / "c.npz")
    assert again["net"].Layers == net.Layers and dl.dims(again["x"]) == "CB"
    assert type(again["i"]) is np.int32 and again["i"] == 4 and again["none"] is None
    assert again["mt"].random() == state["mt"].random()


def test_a_layer_graph_with_factors_and_dropout_round_trips(tmp_path):
    graph = dl.layerGraph([dl.featureInputLayer(4), dl.fullyConnectedLayer(4, name="fc1"), dl.reluLayer(name="relu"),
                           dl.dropoutLayer(0.3), dl.additionLayer(2, name="add"), dl.fullyConnectedLayer(2)])
    graph = dl.connectLayers(graph, "relu", "add/in2")
    net = dl.setLearnRateFactor(dl.dlnetwork(graph, seed=4), "fc1", "Weights", 0)
    dl.save_checkpoint(tmp_path / "g.npz", {"net": net})
    again = dl.load_checkpoint(tmp_path / "g.npz")["net"]
    assert again._arch == net._arch and again.Learnables.Parameter == net.Learnables.Parameter
    assert dl.getLearnRateFactor(again, "fc1", "Weights") == 0
    X = dl.dlarray(np.ones((4, 3), np.float32), "CB")
    assert np.array_equal(dl.extractdata(dl.predict(again, X)), dl.extractdata(dl.predict(net, X)))


def test_what_cannot_be_saved_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"state\['f'\] is a function"):
        dl.save_checkpoint(tmp_path / "c.npz", {"f": lambda: 0})
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="is not a dlgrad checkpoint"):
        dl.load_checkpoint(tmp_path / "other.npz")
