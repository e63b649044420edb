"""examples/train_digits.py shows progress with tqdm when it is installed, plain lines without."""
import importlib.util
import os
import sys

import dlgrad as dl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))


def load_example():
    spec = importlib.util.spec_from_file_location("train_digits", os.path.join(ROOT, "examples", "train_digits.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batches_without_tqdm_are_a_plain_range(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)   # import tqdm raises ImportError
    assert load_example().batches_of(1, 3, 5) == range(5)


def test_batches_with_tqdm_are_a_progress_bar():
    tqdm = __import__("pytest").importorskip("tqdm")
    bar = load_example().batches_of(2, 3, 4)
    try:
        assert isinstance(bar, tqdm.tqdm) and list(bar) == [0, 1, 2, 3] and "epoch  2/3" in bar.desc
    finally:
        bar.close()
