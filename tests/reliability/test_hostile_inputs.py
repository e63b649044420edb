"""Awkward inputs at call time: views, strides, read-only, dtypes, NaN/Inf, empty, 0-d, aliasing,
and 64-bit index arithmetic in the generated C."""
import os
import re
import subprocess

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlaccelerate, dlarray, dlfeval, dlgradient, extractdata, lower
from dlgrad.codegen.csyntax import index_expr
from dlgrad.errors import ShapeError
from dlgrad.frontend.backend import backend_name
from dlgrad.frontend.cache import cache_for, clear_caches
from dlgrad.frontend.dlarray import dlarray as _dlarray
from dlgrad.runtime import compiler


def objective(x, w):
    y = dl.sum((x @ w) ** 2) + dl.sum(dl.sin(x))
    return y, dlgradient(y, x), dlgradient(y, w)


def reference(x, w):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    p = x @ w
    return np.sum(p ** 2) + np.sum(np.sin(x)), 2 * p @ w.T + np.cos(x), 2 * x.T @ p


BASE = np.arange(24.0).reshape(4, 6) / 7.0
W = np.linspace(-1.0, 1.0, 12).reshape(6, 2)


def check(result, x, w, rtol=1e-12):
    for got, want in zip(result, reference(x, w)):
        np.testing.assert_allclose(extractdata(got), want, rtol=rtol, atol=1e-12)


VIEWS = {
    "transposed": lambda: np.ascontiguousarray(BASE.T).T,
    "negative strides": lambda: BASE[::-1, ::-1],
    "every other column": lambda: np.concatenate([BASE, BASE], axis=1)[:, ::2],
    "fortran order": lambda: np.asfortranarray(BASE),
    "broadcast (zero strides)": lambda: np.broadcast_to(BASE[0], (4, 6)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_non_contiguous_views(backend, name):
    view = VIEWS[name]()
    assert not view.flags.c_contiguous or view.strides != BASE.strides
    check(dlfeval(objective, dlarray(view), dlarray(W)), view, W)   # dlarray arguments
    check(dlfeval(objective, view, W), view, W)                     # numpy arguments
    check(dlaccelerate(objective)(view, dlarray(W[::-1][::-1])), view, W)


def test_compiled_function_rejects_non_contiguous_arrays_instead_of_reading_wrong_bytes():
    if backend_name() != "c":
        pytest.skip("the compiled backend is not selected")
    clear_caches()
    dlfeval(objective, BASE, W)
    (call,) = cache_for(objective).entries.values()
    run = call.__globals__["run"]          # the CompiledFunction's entry, joined with the wrapping
    with pytest.raises(ShapeError, match="C-contiguous"):
        run([BASE.T.copy().T, W])
    with pytest.raises(TypeError, match="float64"):
        run([BASE.astype(np.float32), W])


def test_read_only_inputs(backend):
    x, w = BASE.copy(), W.copy()
    x.flags.writeable = w.flags.writeable = False
    check(dlfeval(objective, dlarray(x), w), x, w)
    check(dlfeval(objective, x, dlarray(w)), x, w)


def test_float32_where_float64_was_traced_retraces(backend):
    dlfeval(objective, dlarray(BASE), dlarray(W))
    x32, w32 = BASE.astype(np.float32), W.astype(np.float32)
    y, gx, gw = dlfeval(objective, dlarray(x32), dlarray(w32))
    assert cache_for(objective).misses == 2
    assert extractdata(y).dtype == extractdata(gx).dtype == extractdata(gw).dtype == np.float32
    check((y, gx, gw), x32, w32, rtol=2e-5)
    # and back: the float64 entry is still the float64 one
    y64 = dlfeval(objective, dlarray(BASE), dlarray(W))[0]
    assert extractdata(y64).dtype == np.float64
    assert float(extractdata(y64)) == pytest.approx(reference(BASE, W)[0], rel=1e-14)


def test_integer_arrays_become_float64(backend):
    xi = np.arange(24).reshape(4, 6)
    check(dlfeval(objective, xi, W), xi, W)


def ieee(x):
    y = dl.sum(dl.exp(x) * x + dl.sqrt(dl.abs(x)) + 1 / x)
    return y, dlgradient(y, x), dl.exp(x) * x + dl.log(x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_inf_follow_ieee(backend, dtype):
    with np.errstate(all="ignore"):   # 1e308 is inf and 5e-324 is 0 in float32
        x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e308, 5e-324], dtype=dtype)
    _, grad, values = dlfeval(ieee, dlarray(x))
    with np.errstate(all="ignore"):
        want = np.exp(x) * x + np.log(x)
        want_grad = (np.exp(x) + np.exp(x) * x + np.sign(x) * 0.5 / np.sqrt(np.abs(x)) - 1 / x ** 2)
    got = extractdata(values)
    # the same IEEE classes element by element: NaN where numpy has NaN, the same infinities
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5 if dtype == np.float32 else 1e-13)
    g = extractdata(grad)
    assert np.isnan(g[0])                          # NaN in, NaN out
    assert not np.isnan(g[5:7]).any()
    np.testing.assert_allclose(g[5:7], want_grad[5:7], rtol=1e-5)


def test_nan_input_reduction_and_matmul(backend):
    x = BASE.copy()
    x[1, 2] = np.nan
    y, gx, gw = dlfeval(objective, x, W)
    assert np.isnan(float(extractdata(y)))
    assert np.isnan(extractdata(gw)).all()          # every column of W meets the NaN row
    assert np.isnan(extractdata(gx)[1]).all() and not np.isnan(extractdata(gx)[[0, 2, 3]]).any()


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)])
def test_empty_arrays(backend, shape):
    def f(x):
        y = dl.sum(x ** 2) + 1.0
        return y, dlgradient(y, x), dl.exp(x)

    y, g, e = dlfeval(f, dlarray(np.zeros(shape)))
    assert float(extractdata(y)) == 1.0
    assert extractdata(g).shape == shape and extractdata(e).shape == shape


def test_zero_dimensional_arrays(backend):
    def f(x, c):
        y = dl.sin(x) * c
        return y, dlgradient(y, x)

    for x in (dlarray(np.array(0.5)), dlarray(np.float64(0.5)), np.array(0.5), dlarray(0.5)):
        y, g = dlfeval(f, x, dlarray(np.array(2.0)))
        assert extractdata(y).shape == () and extractdata(g).shape == ()
        assert float(extractdata(y)) == pytest.approx(2 * np.sin(0.5), rel=1e-15)
        assert float(extractdata(g)) == pytest.approx(2 * np.cos(0.5), rel=1e-15)


def test_outputs_never_alias_inputs_or_each_other(backend):
    def f(x, w):
        return x, x, w * 1.0, (x + 0.0), dl.reshape(x, (24,)) if hasattr(dl, "reshape") else x

    x, w = dlarray(BASE.copy()), dlarray(W.copy())
    for _ in range(2):   # the miss and a hit
        outs = [extractdata(o) for o in dlfeval(f, x, w)]
        ins = [extractdata(x), extractdata(w), BASE, W]
        for i, a in enumerate(outs):
            assert a.flags.writeable
            for b in ins:
                assert not np.shares_memory(a, b)
            for b in outs[i + 1:]:
                assert not np.shares_memory(a, b)
        outs[0][...] = -1.0       # writing a result changes nothing else
        np.testing.assert_array_equal(extractdata(x), BASE)
        np.testing.assert_array_equal(outs[1], BASE)


def test_numpy_arguments_are_not_written(backend):
    x, w = BASE.copy(), W.copy()
    dlfeval(objective, x, w)
    dlfeval(objective, x, w)
    np.testing.assert_array_equal(x, BASE)
    np.testing.assert_array_equal(w, W)


# --- 64-bit index arithmetic -------------------------------------------------------------------

def _shape_only(shape):
    """An untraced dlarray of `shape` that owns no memory (a broadcast of one zero): tracing and
    lowering need only its shape and dtype."""
    x = object.__new__(_dlarray)
    x._data, x._node, x._trace, x._fmt = np.broadcast_to(np.float64(0), shape), None, None, None
    return x


def _big(x):
    y = dl.sum(x[1:, ::2] ** 2) + dl.sum(dl.sin(x))
    return y, dlgradient(y, x)


N = 2 ** 31 + 6   # one row is already past the range of a 32-bit int


def _kernels(source):
    """The C of the computation (without the interface's shape table)."""
    return source.split("/* Interface:")[0]


def test_generated_loops_index_with_ptrdiff_t_past_two_to_the_31():
    source = lower(_big, _shape_only((3, N))).c_source
    body = _kernels(source)
    loops = re.findall(r"for \((\w[\w ]*?) \w+ = 0; \w+ < (\d+);", body)
    assert loops and all(kind == "ptrdiff_t" for kind, _ in loops)
    assert {int(bound) for _, bound in loops} >= {3 * N}          # the flat loop over 3N elements
    assert f"2*i0 + {N}" in body                                    # row 1, every other column
    assert not re.search(r"\b(int|unsigned|long)\b(?! \w+\()", body.split("{", 1)[1]), \
        "an index held in a narrower type than ptrdiff_t"


def test_index_expressions_past_two_to_the_31_evaluate_exactly_in_c(tmp_path):
    cases = [(N, [2], ["i"]), (-(2 ** 33), [3 * N, 1], ["i", "j"]), (0, [2 ** 40 + 1, -(2 ** 35)], ["i", "j"])]
    lines = ["#include <stdio.h>", "#include <stddef.h>", "int main(void) {",
             "    ptrdiff_t i = 3, j = 5;"]
    want = []
    for offset, coefs, names in cases:
        text = index_expr(offset, coefs, names)
        lines.append(f'    printf("%td\\n", (ptrdiff_t)({text}));')
        want.append(offset + sum(c * v for c, v in zip(coefs, (3, 5))))
    lines += ["    return 0;", "}"]
    src = tmp_path / "index.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "index"
    cc = compiler.find_compiler()
    subprocess.run([*cc, "-std=c99", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == want


def test_interface_shape_table_holds_dimensions_past_two_to_the_31():
    source = lower(_big, _shape_only((3, N))).c_source
    table = re.search(r"static const (\w+) \w+_dims\[", source).group(1)
    assert table == "ptrdiff_t" and f", {N}, " in source
    assert re.search(r"const ptrdiff_t \*\w+_in_shape\(int i\)", source)
