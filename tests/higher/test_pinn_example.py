"""examples/pinn_poisson.py: a short Adam run already solves u'' = -pi^2 sin(pi x) closely."""
import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pinn_poisson.py"


def load_example():
    spec = importlib.util.spec_from_file_location("pinn_poisson", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_adam_run_approaches_the_exact_solution():
    pinn = load_example()
    params = pinn.init_params()
    assert pinn.max_error(params) > 0.5
    params = pinn.train_adam(params, iterations=800, points=32, report=0)
    assert pinn.max_error(params) < 2e-2
