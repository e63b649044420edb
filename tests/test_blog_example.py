"""examples/blog_descent.py: its numbers follow the blog's loop by hand, and it writes its figures."""
import importlib.util
import os

import numpy as np
import pytest

import dlgrad as dl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))


def load_example():
    spec = importlib.util.spec_from_file_location("blog_descent", os.path.join(ROOT, "examples", "blog_descent.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def by_hand(learn_rate, decay, iterations):
    a, b, path = 2.0, 2.0, [(2.0, 2.0)]
    for iteration in range(iterations):
        lr = learn_rate / (1 + decay * iteration)
        ga, gb = -4 * a * (b - a * a) - 2 * (1 - a), 2 * (b - a * a)
        a, b = a - lr * ga, b - lr * gb
        path.append((a, b))
    return np.array(path)


def test_trajectories_rates_and_gradient_field():
    example = load_example()
    for _, learn_rate, decay in example.RUNS:
        trajectory, rates, loss = example.train(learn_rate, decay, iterations=15)
        np.testing.assert_allclose(trajectory, by_hand(learn_rate, decay, 15), rtol=1e-12)
        np.testing.assert_allclose(rates, learn_rate / (1 + decay * np.arange(15)), rtol=1e-15)
    X1, X2, g1, g2 = example.quiver_field(count=4)
    np.testing.assert_allclose(g1, -4 * X1 * (X2 - X1 ** 2) - 2 * (1 - X1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g2, 2 * (X2 - X1 ** 2), rtol=1e-12, atol=1e-12)


def test_example_writes_its_png_where_told(tmp_path, monkeypatch):
    example = load_example()
    target = tmp_path / "blog.png"
    monkeypatch.setenv("DLGRAD_EXAMPLE_OUTPUT", str(target))
    results = example.main(["--iterations", "10"])
    assert [label for label, *_ in results] == [label for label, *_ in example.RUNS]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not target.exists()   # the numbers are printed, no figure is drawn
        return
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_without_plot_prints_only(tmp_path, capsys):
    example = load_example()
    example.main(["--iterations", "5", "--plot", ""])
    out = capsys.readouterr().out
    assert "learn rate 0.1" in out and "time-based decay" in out and "saved" not in out
