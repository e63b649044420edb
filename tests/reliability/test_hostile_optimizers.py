"""L2 regularization and factors through every form of parameters the update functions take."""
import numpy as np
import pytest

import dlgrad as dl


def test_learnables_table_gets_matlab_default_l2_factors():
    # MATLAB's default L2 factor is 0 for biases: a dlnetwork honoured it, but its Learnables table
    # passed to the same update function decayed the biases too
    net = dl.dlnetwork([dl.featureInputLayer(2), dl.fullyConnectedLayer(3, name="fc")])
    net = dl.dlupdate(lambda p: p + 1.0, net)
    zero = dl.dlupdate(lambda p: p * 0.0, net.Learnables)
    by_net, _ = dl.sgdmupdate(net, zero, None, 0.1, 0.0, L2Regularization=1.0)
    by_table, _ = dl.sgdmupdate(net.Learnables, zero, None, 0.1, 0.0, L2Regularization=1.0)
    for key in (("fc", "Weights"), ("fc", "Bias")):
        np.testing.assert_array_equal(dl.extractdata(by_table[key]), dl.extractdata(by_net.Learnables[key]))
    np.testing.assert_array_equal(dl.extractdata(by_table["fc", "Bias"]), np.ones((3, 1), np.float32))


def _net():
    return dl.dlnetwork([dl.featureInputLayer(2), dl.fullyConnectedLayer(3, name="fc")])


def test_adamupdate_iteration_errors_name_it():
    net = _net()
    g = dl.dlupdate(lambda p: p * 0.0, net.Learnables)
    # a two-element dlarray said "The truth value of an array ... is ambiguous"
    with pytest.raises(ValueError, match=r"iteration must be a scalar, got shape \(2,\)"):
        dl.adamupdate(net, g, None, None, dl.dlarray(np.array([1.0, 2.0])))
    with pytest.raises(TypeError, match="iteration must be a positive integer.*'1'"):
        dl.adamupdate(net, g, None, None, "1")


def test_factor_must_be_a_number():
    net = _net()
    with pytest.raises(TypeError, match="factor must be a nonnegative number, got '2'"):
        dl.setLearnRateFactor(net, "fc", "Weights", "2")
    with pytest.raises(TypeError, match="factor must be a nonnegative number, got True"):
        dl.setL2Factor(net, "fc", "Weights", True)


def test_factor_on_a_missing_parameter_of_an_uninitialized_network_is_reported():
    # the misspelt parameter could not be checked before initialisation, and was then ignored
    blank = dl.dlnetwork([dl.featureInputLayer(2), dl.fullyConnectedLayer(3, name="fc")], Initialize=False)
    with pytest.raises(ValueError, match="fc/Wieghts"):
        dl.initialize(dl.setLearnRateFactor(blank, "fc", "Wieghts", 0))
    ok = dl.initialize(dl.setLearnRateFactor(blank, "fc", "Weights", 0))
    assert dl.getLearnRateFactor(ok, "fc", "Weights") == 0.0


def test_empty_outputs_list_is_an_error():
    net = _net()
    with pytest.raises(ValueError, match="Outputs must name at least one"):
        dl.predict(net, dl.dlarray(np.ones((2, 1), np.float32), "CB"), Outputs=[])
