"""Layer graphs as a MATLAB user wires them, including the mistakes: each gets a clear error or MATLAB's numbers."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad.errors import ShapeError
from dlgrad.frontend.formats import FormatError


def _two_inputs(merge, size_a=4, size_b=1):
    g = dl.layerGraph([dl.featureInputLayer(size_a, name="a"), merge])
    g = dl.addLayers(g, dl.featureInputLayer(size_b, name="b"))
    return dl.connectLayers(g, "b", f"{merge.name}/in2")


@pytest.mark.parametrize("merge", [dl.additionLayer(2, name="m"), dl.multiplicationLayer(2, name="m")])
def test_merge_layers_refuse_inputs_of_different_sizes(merge):
    # MATLAB: "All inputs to an addition layer must have the same dimension"; numpy broadcasting
    # silently turned a miswired (4, B) + (1, B) into a (4, B) sum.
    with pytest.raises((ValueError, FormatError, ShapeError), match=r"(?s)m.*\(4, 1\).*\(1, 1\)"):
        dl.dlnetwork(_two_inputs(merge))


def test_merge_layers_still_add_equal_sizes():
    net = dl.dlnetwork(_two_inputs(dl.additionLayer(2, name="m"), 3, 3))
    a, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.ones((3, 2), np.float32)
    y = dl.predict(net, dl.dlarray(a, "CB"), dl.dlarray(b, "CB"))
    np.testing.assert_array_equal(dl.extractdata(y), a + b)


def test_unformatted_example_input_is_a_clear_error():
    # dlnetwork(layers, X) with a plain numpy X crashed with AttributeError: 'NoneType' ... 'index'
    layers = [dl.fullyConnectedLayer(3, name="fc"), dl.reluLayer()]
    with pytest.raises((ValueError, FormatError), match=r"(?s)example input.*fc.*format"):
        dl.dlnetwork(layers, np.ones((4, 5), np.float32))
    net = dl.dlnetwork(layers, dl.dlarray(np.ones((4, 5), np.float32), "CB"))
    assert net.InputNames == ["fc"]


def test_disconnect_errors_name_disconnectLayers():
    g = dl.layerGraph([dl.featureInputLayer(2, name="in"), dl.reluLayer(name="r")])
    with pytest.raises(ValueError, match=r"^disconnectLayers: no layer named 'nope'"):
        dl.disconnectLayers(g, "nope", "r")
    with pytest.raises(ValueError, match=r"^removeLayers"):
        dl.removeLayers(g, "nope")


def test_sequence_input_layer_checks_its_channels():
    # sequenceInputLayer(3) fed 5 channels passed them on (MATLAB refuses the input)
    net = dl.dlnetwork([dl.sequenceInputLayer(3, name="seq"), dl.reluLayer()])
    X = dl.dlarray(np.ones((5, 2, 4), np.float32), "CBT")
    with pytest.raises((ValueError, FormatError), match=r"(?s)seq.*3.*5"):
        dl.predict(net, X)
    assert dl.predict(net, dl.dlarray(np.ones((3, 2, 4), np.float32), "CBT")).shape == (3, 2, 4)


def test_feature_input_layer_checks_its_features():
    net = dl.dlnetwork([dl.featureInputLayer(3, name="feat"), dl.reluLayer()])
    with pytest.raises((ValueError, FormatError), match=r"(?s)feat.*3.*5"):
        dl.predict(net, dl.dlarray(np.ones((5, 2), np.float32), "CB"))


def test_editing_a_trained_network_keeps_its_values_and_factors():
    # MATLAB's transfer learning: removeLayers / addLayers / connectLayers on a trained dlnetwork, then
    # initialize, which fills only the new layers. The edits dropped every trained value and factor,
    # and initialize silently drew fresh weights.
    net = dl.dlnetwork([dl.featureInputLayer(4, name="in"), dl.fullyConnectedLayer(8, name="body"),
                        dl.batchNormalizationLayer(name="bn"), dl.reluLayer(name="r"),
                        dl.fullyConnectedLayer(3, name="head")])
    net = dl.dlupdate(lambda p: p + 5.0, net)
    net.State = net.State.map(lambda v: v + 2.0)
    net = dl.setLearnRateFactor(net, "body", "Weights", 0)
    edited = dl.removeLayers(net, "head")
    edited = dl.connectLayers(dl.addLayers(edited, dl.fullyConnectedLayer(2, name="head")), "r", "head")
    assert not edited.Initialized
    edited = dl.initialize(edited)
    for table, new in ((net.Learnables, edited.Learnables), (net.State, edited.State)):
        for layer, parameter, value in table:
            if layer != "head":
                np.testing.assert_array_equal(dl.extractdata(new[layer, parameter]), dl.extractdata(value))
    assert edited.Learnables["head", "Weights"].shape == (2, 8)
    assert not np.array_equal(dl.extractdata(edited.Learnables["head", "Bias"]),
                              dl.extractdata(net.Learnables["head", "Bias"])[:2])
    assert dl.getLearnRateFactor(edited, "body", "Weights") == 0.0


def test_edit_that_changes_a_kept_parameter_size_is_a_clear_error():
    net = dl.dlnetwork([dl.featureInputLayer(4, name="in"), dl.fullyConnectedLayer(8, name="a"),
                        dl.fullyConnectedLayer(3, name="b")])
    edited = dl.removeLayers(net, "a")
    edited = dl.connectLayers(dl.addLayers(edited, dl.fullyConnectedLayer(5, name="a2")), "in", "a2")
    edited = dl.connectLayers(edited, "a2", "b")
    with pytest.raises(ValueError, match=r"(?s)'b'.*Weights.*\(3, 8\).*\(3, 5\)"):
        dl.initialize(edited)
