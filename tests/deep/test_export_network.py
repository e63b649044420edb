"""export_c with a dlnetwork argument: leaves named by table row, C that passes its self-test."""
import shutil
import subprocess

import numpy as np
import pytest

import dlgrad as dl

GCC = shutil.which("gcc")


def model_loss(net, X, T):
    loss = dl.mse(dl.forward(net, X), T)
    return loss, dl.dlgradient(loss, net.Learnables)


def test_export_names_network_leaves_and_compiles(tmp_path):
    net = dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(3), dl.reluLayer(),
                        dl.batchNormalizationLayer(), dl.fullyConnectedLayer(2)], seed=2)
    # (batchnorm after the relu: a bias right before batchnorm has a gradient of rounding noise only)
    rng = np.random.default_rng(0)
    X = dl.dlarray(rng.standard_normal((4, 5)).astype(np.float32), "CB")
    T = dl.dlarray(rng.standard_normal((2, 5)).astype(np.float32), "CB")
    paths = dl.export_c(model_loss, net, X, T, directory=tmp_path, self_test=True)
    header = open(paths["header"]).read()
    for label in ("net.Learnables['fc', 'Weights']", "net.Learnables['fc_1', 'Bias']",
                  "net.State['batchnorm', 'TrainedVariance']", "['batchnorm', 'Scale']"):
        assert label in header
    assert "MODEL_LOSS_N_IN 10" in header         # 6 learnables, 2 state arrays, X, T
    if GCC is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path / "model_loss_test"
    subprocess.run([GCC, "-std=c99", "-O1", paths["source"], paths["test"], "-lm", "-o", str(exe)],
                   check=True, capture_output=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
