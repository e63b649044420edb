"""The standalone C export: strict compilation, linking, running from C, threads, two exports in one
program, the self-test driver, and the symbols the object files define."""
import os
import re
import shutil

import numpy as np
import pytest

from dlgrad.codegen.export import TAKEN, export
from dlgrad.codegen.lower import lower
from dlgrad.graph.interpret import evaluate

import export_graphs as graphs
import export_tools
from export_tools import GCC, STRICT, run

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed")
CLANG = next(filter(None, map(shutil.which, ["clang", *(f"clang-{v}" for v in range(30, 9, -1))])), None)
COMPILERS = [c for c in (GCC, CLANG) if c]
TOLERANCE = {"float64": 1e-12, "float32": 2e-5}


def export_case(case, name, directory, self_test=False):
    return export(case.outputs, case.inputs, name, str(directory), case.input_names, case.output_names,
                  signature=f"{name}({', '.join(case.input_names)})",
                  golden_inputs=case.examples if self_test else None)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each test graph exported once, with its self-test: {name: (case, paths)}."""
    directory = tmp_path_factory.mktemp("export")
    cases = {"rosen": graphs.rosenbrock(), "mlp": graphs.mlp(), "several": graphs.several()}
    cases["alpha"], cases["beta"] = graphs.pair()
    return {name: (case, export_case(case, name, directory, self_test=True)) for name, case in cases.items()}


def drive(case, paths, threads=None):
    inputs = [np.asarray(a, dtype=d) for a, (_, d) in zip(case.examples, case.inputs)]
    return export_tools.drive(paths, inputs, [(o.shape, o.dtype) for o in case.outputs], threads)


@pytest.mark.parametrize("name", ["rosen", "mlp", "several"])
def test_c_matches_the_reference_interpreter(exports, name):
    case, paths = exports[name]
    got, _ = drive(case, paths)
    want = evaluate(case.outputs, case.examples)
    for label, g, w, node in zip(case.output_names, got, want, case.outputs):
        assert g.dtype == np.dtype(node.dtype)
        scale = max(1.0, float(np.abs(w).max(initial=0)))
        np.testing.assert_allclose(g, w, rtol=TOLERANCE[node.dtype], atol=TOLERANCE[node.dtype] * scale,
                                   err_msg=f"{name} output {label}")


def test_rosenbrock_value_and_gradient(exports):
    got, interface = drive(*exports["rosen"])
    assert got[0] == 104.0 and got[1].tolist() == [396.0, 200.0]
    assert interface == ["in 0 x 1 2", "out 0 y 0", "out 1 dydx 1 2", "work 0", "invalid 1 1 -1"]


def test_interface_queries_describe_every_leaf(exports):
    case, paths = exports["several"]
    _, interface = drive(case, paths)
    assert interface[:4] == ["in 0 a 1 3", "in 1 b 2 2 3", "in 2 s 0", "in 3 v 1 4"]
    assert interface[4:11] == ["out 0 u 2 2 3", "out 1 total 0", "out 2 da 1 3", "out 3 db 2 2 3",
                               "out 4 ds 0", "out 5 w 0", "out 6 v_copy 1 4"]
    header = " ".join(open(paths["header"]).read().split())
    assert "int several(const double *in0, const double *in1, const double *in2, const float *in3, " \
           "double *out0, double *out1, double *out2, double *out3, double *out4, float *out5, " \
           "float *out6, void *work);" in header
    assert "#define SEVERAL_N_IN 4" in header and "#define SEVERAL_N_OUT 7" in header
    assert "#define SEVERAL_OUT0_SIZE 6" in header
    mlp_header = open(exports["mlp"][1]["header"]).read()
    work = int(re.search(r"#define MLP_WORK_BYTES (\d+)", mlp_header).group(1))
    assert work > 0 and f"work {work}" in drive(*exports["mlp"])[1]


def test_threads_with_their_own_workspaces_agree(exports):
    case, paths = exports["mlp"]
    _, interface = drive(case, paths, threads=4)
    assert interface[-1] == "mismatches 0"


@pytest.mark.parametrize("compiler", COMPILERS, ids=os.path.basename)
def test_strict_flags_and_only_libm(exports, compiler, tmp_path):
    for name, (case, paths) in exports.items():
        obj = tmp_path / f"{name}.o"
        run([compiler, *STRICT, "-c", paths["source"], "-o", obj])
        run([compiler, "-O3", *STRICT, "-c", paths["source"], "-o", tmp_path / f"{name}_O3.o"])
        undefined = set(run(["nm", "-u", obj]).stdout.split()) - {"U"}
        allowed = TAKEN | {n + "f" for n in TAKEN} | {"memset", "memcpy", "memmove"}
        assert undefined <= allowed, f"{name} needs {undefined - allowed}"


def test_every_defined_symbol_carries_the_name_and_nothing_is_writable(exports, tmp_path):
    if shutil.which("nm") is None:
        pytest.skip("nm is not installed")
    for name, (case, paths) in exports.items():
        obj = tmp_path / f"{name}.o"
        run([GCC, "-O0", "-std=c99", "-fPIC", "-c", paths["source"], "-o", obj])
        symbols = [line.split() for line in run(["nm", obj]).stdout.splitlines()]
        defined = [(kind, sym) for *_, kind, sym in symbols if kind != "U"]
        assert all(sym == name or sym.startswith(name + "_") for _, sym in defined), defined
        exported = [sym for kind, sym in defined if kind.isupper()]
        assert {f"{name}", f"{name}_eval", f"{name}_work_bytes", f"{name}_n_in", f"{name}_out_shape"} \
            <= set(exported)
        writable = [sym for kind, sym in defined if kind in "DdBbGgSs"]
        assert not writable, f"{name} has mutable data: {writable}"


def test_header_compiles_as_cpp(exports, tmp_path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    case, paths = exports["several"]
    main = tmp_path / "main.cpp"
    main.write_text('#include "several.h"\nint main() { return several_n_in() != SEVERAL_N_IN; }\n')
    run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
         f"-I{os.path.dirname(paths['header'])}", "-fsyntax-only", main])


def test_two_exports_link_into_one_program(exports, tmp_path):
    (_, a), (_, b) = exports["alpha"], exports["beta"]
    directory = os.path.dirname(a["source"])
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "alpha.h"\n#include "beta.h"\n'
        "int main(void) {\n"
        "    const double x[4] = {0.5, -1.0, 2.0, -0.25};\n"
        "    double f, df[ALPHA_OUT1_SIZE], g[BETA_OUT0_SIZE], work[BETA_WORK_BYTES / 8 + 1];\n"
        "    if (alpha(x, &f, df, NULL) || beta(x, g, work)) return 1;\n"
        '    printf("%.17g %.17g %.17g %.17g\\n", f, df[2], g[0], g[2]);\n'
        "    return 0;\n}\n")
    separate = tmp_path / "separate"
    run([GCC, *STRICT, f"-I{directory}", main, a["source"], b["source"], "-o", separate, "-lm"])
    # a unity build: both sources in one translation unit
    unity = tmp_path / "unity.c"
    unity.write_text('#include "alpha.c"\n#include "beta.c"\n')
    run([GCC, *STRICT, f"-I{directory}", "-c", unity, "-o", tmp_path / "unity.o"])
    f, df2, g0, g2 = map(float, run([separate]).stdout.split())
    x = np.array([0.5, -1.0, 2.0, -0.25])
    assert f == pytest.approx(0.5 + 6.0) and df2 == 3.0
    assert g0 == pytest.approx(np.log1p(np.exp(6.0))) and g2 == pytest.approx(np.log1p(np.exp(x[0])))


@pytest.mark.parametrize("name", ["rosen", "mlp", "several"])
def test_self_test_driver_passes(exports, name):
    case, paths = exports[name]
    directory = os.path.dirname(paths["source"])
    exe = os.path.join(directory, f"{name}_selftest")
    run([GCC, *STRICT, paths["source"], paths["test"], "-o", exe, "-lm"])
    assert f"{name} self-test: passed" in run([exe]).stdout


def test_self_test_driver_fails_on_a_wrong_golden_value(exports, tmp_path):
    case, paths = exports["rosen"]
    source = open(paths["test"]).read().replace("{396.0, 200.0}", "{396.0, 200.001}")
    assert "200.001" in source
    test = tmp_path / "rosen_test.c"
    test.write_text(source)
    exe = tmp_path / "selftest"
    run([GCC, *STRICT, f"-I{os.path.dirname(paths['header'])}", paths["source"], test, "-o", exe, "-lm"])
    done = run([exe], check=False)
    assert done.returncode == 1 and "dydx[1]" in done.stderr and "FAILED" in done.stdout


def test_export_shares_the_runtime_kernels(exports):
    """The kernels exported are byte for byte the kernels the runtime compiles."""
    case, paths = exports["mlp"]
    runtime = lower(case.outputs, case.inputs, name="mlp").source
    exported = open(paths["source"]).read()

    def kernels(text):
        return text[text.index("DLGRAD_KERNEL void mlp_k0"):text.index("int mlp(")]
    assert kernels(runtime) == kernels(exported)
    assert exported.startswith("/* mlp.c: generated by dlgrad")
    assert '#include "mlp.h"' in exported


def test_kernel_comments_name_operations_and_source_lines(tmp_path):
    case = graphs.rosenbrock()
    y, g = case.outputs
    paths = export(case.outputs, case.inputs, "rosen", str(tmp_path), case.input_names,
                   case.output_names, provenance={id(y): "objective.py:12", id(g): "objective.py:13"})
    source = open(paths["source"]).read()
    assert re.search(r"/\* kernel 0: elementwise over \[\]: .*pow.*\*/\n/\* from objective.py:12 \*/", source)
    assert "objective.py:13" in source


@pytest.mark.parametrize("name, message", [
    ("1rosen", "not a C identifier"), ("my-fn", "not a C identifier"), ("", "not a C identifier"),
    ("for", "keyword"), ("class", "keyword"), ("exp", "already defined"), ("main", "already defined"),
    ("__f", "reserved"), ("_F", "reserved"), ("dl_f", "prefix"), ("r\u00e9sum\u00e9", "not a C identifier"),
])
def test_bad_names_are_rejected(tmp_path, name, message):
    case = graphs.rosenbrock()
    with pytest.raises(ValueError, match=message) as error:
        export(case.outputs, case.inputs, name, str(tmp_path))
    assert repr(name) in str(error.value)
    assert not os.listdir(tmp_path)


def test_header_states_the_stack_the_packed_products_use(exports):
    header = open(exports["mlp"][1]["header"]).read()
    panels = [4 * int(n) for n in re.findall(r"\bfloat (?:panel|packed)\[(\d+)\];",
                                             open(exports["mlp"][1]["source"]).read())]
    assert panels and f"panels of up to {max(panels)} bytes on the stack" in header
    assert "Stack:" not in open(exports["rosen"][1]["header"]).read()
