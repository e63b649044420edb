"""The public API is typed: a py.typed marker ships, every public function is annotated, and mypy
passes in strict mode on the public modules listed in pyproject.toml's [tool.mypy]."""
import importlib.resources
import inspect
import os
import subprocess
import sys

import pytest

import dlgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_py_typed_marker_ships_with_the_package():
    assert importlib.resources.files("dlgrad").joinpath("py.typed").is_file()


def _unannotated(fn):
    signature = inspect.signature(fn)
    missing = [p.name for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty and not inspect.isclass(fn):
        missing.append("return")
    return missing


def test_every_public_function_is_annotated():
    gaps = {}
    for name in dlgrad.__all__:
        obj = getattr(dlgrad, name)
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            init = obj.__init__
            if init is object.__init__:
                continue
            missing = [m for m in _unannotated(init) if m not in ("self", "return")]
        elif callable(obj):
            missing = _unannotated(obj)
        else:
            continue
        if missing:
            gaps[name] = missing
    assert not gaps, f"public functions without type hints (name: parameters): {gaps}"


USER_CODE = """
import numpy as np
import dlgrad as dl


def rosen(x: dl.dlarray) -> tuple[dl.dlarray, dl.dlarray]:
    y = dl.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return y, dl.dlgradient(y, x)


fval, g = dl.dlfeval(rosen, dl.dlarray(np.zeros(3)))
total: float = float(fval) + float(dl.sum(g))
net = dl.dlnetwork([dl.featureInputLayer(4), dl.fullyConnectedLayer(3), dl.leakyReluLayer(scale=0.1),
                    dl.softmaxLayer()], seed=1)
loss: dl.dlarray = dl.crossentropy(dl.forward(net, dl.dlarray(np.ones((4, 2)), "CB")), np.eye(3, 2))
rate: float = dl.timeBasedDecay(0.1, 0.01)(3)
step = dl.dlaccelerate(rosen, donate=(0,))
"""


def test_mypy_strict_passes_on_the_public_modules_and_on_code_that_uses_them(tmp_path):
    pytest.importorskip("mypy", reason="the typing extra is not installed (pip install 'dlgrad[typing]')")
    cache = ["--cache-dir", str(tmp_path / "mypy-cache")]
    done = subprocess.run([sys.executable, "-m", "mypy", *cache, "--config-file", os.path.join(ROOT, "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "Success" in done.stdout
    # a user's script, strict: the public names resolve (re-exports), layers take their fields, types flow
    (tmp_path / "user.py").write_text(USER_CODE)
    env = {**os.environ, "MYPYPATH": ROOT}
    done = subprocess.run([sys.executable, "-m", "mypy", *cache, "--strict", "--follow-imports=silent",
                           "--config-file", os.devnull, "user.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def test_layer_names_in_nn_all_are_the_layers():
    """nn.__all__ lists the layers by name (a type checker cannot run a generator); they must be LAYERS."""
    from dlgrad.frontend import nn
    from dlgrad.frontend.nn.layers import LAYERS
    listed = [name for name in nn.__all__ if name.endswith("Layer")]
    assert sorted(listed) == sorted(layer.__name__ for layer in LAYERS)
