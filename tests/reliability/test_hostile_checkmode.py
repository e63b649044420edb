"""CheckMode='tolerance' as a MATLAB user would turn it on: on the README's donated training step."""
import copy
import warnings

import numpy as np

import dlgrad as dl
from dlgrad.frontend.checkmode import AccelerationCheckWarning


def _train_step(net, X, T, m, v, it):
    loss = dl.crossentropy(dl.forward(net, X), T)
    net, m, v = dl.adamupdate(net, dl.dlgradient(loss, net.Learnables), m, v, it)
    return net, m, v, loss


def test_checkmode_with_donated_arguments_does_not_warn_falsely():
    # The check evaluated the function afresh *after* the compiled call had overwritten the donated
    # arguments in place, so every call reported differences that were not there.
    rng = np.random.default_rng(0)
    net = dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(3), dl.softmaxLayer()])
    X = dl.dlarray(rng.random((4, 8)).astype(np.float32), "CB")
    T = dl.dlarray(np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 8)], "CB")
    step = dl.dlaccelerate(_train_step, donate=(0, 3, 4))
    step.CheckMode = "tolerance"
    plain = dl.dlaccelerate(_train_step)
    zeros = lambda p: dl.dlarray(np.zeros(p.shape, p.dtype))
    m, v = dl.dlupdate(zeros, net.Learnables), dl.dlupdate(zeros, net.Learnables)
    ref = (copy.deepcopy(net), dl.dlupdate(zeros, net.Learnables), dl.dlupdate(zeros, net.Learnables))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccelerationCheckWarning)
        for it in range(1, 4):
            net, m, v, loss = dl.dlfeval(step, net, X, T, m, v, dl.dlarray(float(it)))
            *ref, ref_loss = dl.dlfeval(plain, *ref[:1], X, T, *ref[1:], dl.dlarray(float(it)))
            assert float(loss) == float(ref_loss)
    for a, b in zip(net.Learnables.Value, ref[0].Learnables.Value):
        np.testing.assert_array_equal(dl.extractdata(a), dl.extractdata(b))


def _double(x):
    return 2 * x


def test_pickle_keeps_check_mode_and_tolerance():
    # copy.deepcopy kept them; a pickle came back with CheckMode 'none'
    import pickle
    f = dl.dlaccelerate(_double)
    f.CheckMode, f.CheckTolerance = "tolerance", 1e-6
    g = pickle.loads(pickle.dumps(f))
    assert (g.CheckMode, g.CheckTolerance) == ("tolerance", 1e-6)
