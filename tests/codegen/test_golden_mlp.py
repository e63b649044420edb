"""The MLP training step (784-128-10, batch 128, float32: forward, backward and Adam in one
program, parameters and optimizer state donated) as golden C, so that changes to the code
generated for a real workload show in review. DLGRAD_UPDATE_GOLDEN=1 rewrites the file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import dlgrad
import dlgrad as dl
from dlgrad.codegen.lower import lower
from dlgrad.frontend.cache import donation_pairs
from dlgrad.frontend.capture import capture

from .compiled import GOLDEN_DIR, assert_golden

GOLDEN = GOLDEN_DIR / "mlp_step.c"
SIZES, BATCH = (784, 128, 10), 128


def train_step(net, X, T, m, v, iteration):
    loss = dl.crossentropy(dl.forward(net, X), T)
    grads = dl.dlgradient(loss, net.Learnables)
    net, m, v = dl.adamupdate(net, grads, m, v, iteration)
    return net, m, v, loss


def mlp_step_program():
    layers = [dl.featureInputLayer(SIZES[0]), dl.fullyConnectedLayer(SIZES[1]), dl.reluLayer(),
              dl.fullyConnectedLayer(SIZES[2]), dl.softmaxLayer()]
    net = dl.dlnetwork(layers, seed=0)
    state = dl.dlupdate(lambda p: dl.dlarray(np.zeros(p.shape, p.dtype)), net.Learnables)
    args = (net, np.zeros((SIZES[0], BATCH), np.float32), np.zeros((SIZES[2], BATCH), np.float32),
            state, state, dl.dlarray(1.0))
    captured = capture(train_step, args)
    pairs = donation_pairs(args, (0, 3, 4), captured)
    return lower(captured.outputs, captured.specs, name="mlp_step", donate=tuple(pairs))


def test_mlp_step_matches_golden_and_updates_in_place():
    program = mlp_step_program()
    # weights, biases, and both Adam moments of each: all twelve written over their inputs
    assert len(program.aliases) == 12
    assert_golden(GOLDEN, program.source)


CHILD = """
import sys
sys.path[:0] = {paths!r}
from codegen.test_golden_mlp import mlp_step_program
sys.stdout.write(mlp_step_program().source)
"""


def test_mlp_step_c_is_the_same_in_another_process():
    here = mlp_step_program().source
    paths = [str(Path(__file__).parents[1]), str(Path(dlgrad.__file__).parents[1])]
    child = subprocess.run([sys.executable, "-c", CHILD.format(paths=paths)],
                           env={**os.environ, "PYTHONHASHSEED": "777"}, capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == 0, child.stderr
    assert child.stdout == here
