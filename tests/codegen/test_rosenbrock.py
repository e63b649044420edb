"""Rosenbrock through graph builders: the documented numbers, and its generated C as golden text.

Set DLGRAD_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change of the
generated code; review the diff like any other change.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dlgrad
from dlgrad.codegen.lower import lower
from dlgrad.graph.autodiff import gradients
from dlgrad.graph.interpret import evaluate
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.registry import input_node
from dlgrad.graph.verify import verify
from dlgrad.runtime import load

from .compiled import GOLDEN_DIR, assert_golden

GOLDEN = GOLDEN_DIR / "rosenbrock.c"
SPEC = [((2,), "float64")]


def rosenbrock_graph():
    """[f, grad f] for f(x) = 100 (x1 - x0^2)^2 + (1 - x0)^2, x of shape (2,)."""
    x = input_node(0, (2,), "float64")
    x0 = M.reshape(M.slice_(x, [(0, 1, 1)]), ())
    x1 = M.reshape(M.slice_(x, [(1, 2, 1)]), ())
    f = E.add(E.mul(100.0, E.power(E.sub(x1, E.power(x0, 2.0)), 2.0)), E.power(E.sub(1.0, x0), 2.0))
    (g,) = gradients(f, [x])
    return [f, g]


def test_documented_numbers_through_c():
    outputs = rosenbrock_graph()
    verify(outputs)
    fn = load(lower(outputs, SPEC))
    value, grad = fn(np.array([-1.0, 2.0]))
    assert value.shape == () and value == 104.0
    assert grad.tolist() == [396.0, 200.0]
    # and the reference interpreter agrees exactly
    value, grad = evaluate(outputs, [np.array([-1.0, 2.0])])
    assert value == 104.0 and grad.tolist() == [396.0, 200.0]


def test_generated_c_matches_golden():
    assert_golden(GOLDEN, lower(rosenbrock_graph(), SPEC, name="rosenbrock").source)


CHILD = """
import sys
sys.path[:0] = {paths!r}
from codegen.test_rosenbrock import rosenbrock_graph, SPEC
from codegen.test_memory import intermediates_graph
from dlgrad.codegen.lower import lower
outputs, inputs = intermediates_graph()
sys.stdout.write(lower(rosenbrock_graph(), SPEC).source + lower(outputs, inputs.specs).source)
"""


def test_generated_c_is_the_same_in_another_process():
    """Byte-stable C: hash seeds, node serials and interning order change nothing."""
    from .test_memory import intermediates_graph
    outputs, inputs = intermediates_graph()
    here = lower(rosenbrock_graph(), SPEC).source + lower(outputs, inputs.specs).source
    tests = str(Path(__file__).parents[1])
    root = str(Path(dlgrad.__file__).parents[1])
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    child = subprocess.run([sys.executable, "-c", CHILD.format(paths=[tests, root])], env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout == here
