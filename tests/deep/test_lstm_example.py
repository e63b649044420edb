"""examples/train_lstm.py on a shortened run: lstm learns the digits read as sequences."""
import importlib.util
import os

import pytest

pytest.importorskip("sklearn")
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "train_lstm.py")


def test_lstm_example_reaches_its_accuracy_in_five_epochs():
    spec = importlib.util.spec_from_file_location("train_lstm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = []
    _, accuracy = module.train(epochs=5, log=lines.append)
    assert len(lines) == 5
    assert accuracy >= 0.85     # 15 epochs, the example's default, reach about 0.96
