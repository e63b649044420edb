"""L2 regularization and factors through every form of parameters the update functions take."""
import numpy as np

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
