"""Generated C compiles warning-free under strict C99 (`-Wall -Wextra -Wpedantic -Werror`)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from dlgrad.codegen.lower import lower
from dlgrad.graph.ops import elementwise as E
from dlgrad.graph.ops import movement as M
from dlgrad.graph.ops import reduce as R
from dlgrad.graph.registry import apply, const, input_node
from graph.support import Inputs, vjp_graph

from .op_cases import check_set
from .test_memory import intermediates_graph
from .test_rosenbrock import SPEC, rosenbrock_graph

GCC = shutil.which("gcc")
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-c"]


def batch_program(check, dtype):
    checks = check_set(check, dtype)
    outputs = [n for nodes in checks.batch.cases.values() for n in nodes]
    return lower(outputs, checks.inputs.specs)


def structural_program():
    """Every kernel kind in float32: reduce, matmul, gather, scatter, strided pad, constant tables."""
    x = input_node(0, (4, 6), "float32")
    y = input_node(1, (6,), "float32")
    table = const(np.linspace(-1, 1, 12).reshape(2, 6), "float32")
    gathered = M.gather(x, [[0, 5, 5], [23, 1, 2]])
    outputs = [R.reduce("max", E.mul(x, y), 1), apply("matmul", M.permute(x, (1, 0)), x),
               gathered, M.scatter(gathered, gathered.attr("indices"), (4, 6)),
               M.pad(y, (12,), [(0, 12, 2)]), E.add(M.broadcast_to(table, (2, 2, 6)), y),
               R.reduce("prod", x, None, keepdims=True)]
    return lower(outputs, [((4, 6), "float32"), ((6,), "float32")])


def intermediates_program():
    outputs, inputs = intermediates_graph()
    return lower(outputs, inputs.specs)


def constant_body_program():
    """Bodies that sympy reduces to a constant: x - x, and the second derivative of relu."""
    x = input_node(0, (3,), "float64")
    u = input_node(1, (3,), "float64")
    (hessian,) = vjp_graph(apply("partial", x, of="relu", wrt=(0,)), [x], u)
    return lower([E.sub(x, x), hessian], [((3,), "float64"), ((3,), "float64")])


def products_program():
    """Packed products (k in blocks, edge panels, overlapping last rows) and epilogues."""
    from .test_gemm_epilogue import SHAPES, layer
    from .test_gemm_packed import product_case
    outputs, specs, _, _ = product_case([(13, 2100, 21), (129, 7, 40)], "float32", [(False, True), (True, False)])
    inputs, rng = Inputs(), np.random.default_rng(0)
    for i in range(len(specs)):
        inputs.add(np.zeros(specs[i][0], "float32"))
    for m, k, n in SHAPES:
        h, params = layer(inputs, m, k, n, "float32", rng)
        u = inputs.add(np.ones((m, n)), "float32")
        outputs += [h, *vjp_graph(h, list(params), u)]
    return lower(outputs, inputs.specs)


PROGRAMS = {
    "rosenbrock": lambda: lower(rosenbrock_graph(), SPEC),
    "values-float64": lambda: batch_program("values", "float64"),
    "values-float32": lambda: batch_program("values", "float32"),
    "vjp-float64": lambda: batch_program("vjp", "float64"),
    "structural-float32": structural_program,
    "workspace": intermediates_program,
    "products": products_program,
}


def compile_strictly(source, tmp_path, extra=()):
    path = tmp_path / "generated.c"
    path.write_text(source)
    done = subprocess.run([GCC, *FLAGS, *extra, str(path), "-o", str(tmp_path / "generated.o")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[:4000]


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_compiles_warning_free(name, tmp_path):
    compile_strictly(PROGRAMS[name]().source, tmp_path)


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_constant_bodies_compile_warning_free(tmp_path):
    compile_strictly(constant_body_program().source, tmp_path)


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("openmp", [(), ("-fopenmp", "-DDLGRAD_NUM_THREADS=2")], ids=["serial", "openmp"])
def test_parallel_products_compile_warning_free(openmp, tmp_path):
    from .test_gemm import parallel_products
    outputs, specs, _, _ = parallel_products("float64")
    compile_strictly(lower(outputs, specs).source, tmp_path, openmp)
    compile_strictly(products_program().source, tmp_path, openmp)
    from .test_conv_kernels import programs   # conv, conv_transpose and conv_filter, each split
    compile_strictly(lower(*programs(24, 37)).source, tmp_path, openmp)
