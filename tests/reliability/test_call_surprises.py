"""Issue 16, items 12-16: cache options, retraces for static values and lambdas, copies and
pickles of accelerated functions, keyword arguments and clear errors."""
import copy
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import dlgrad as dl
from dlgrad import TraceError, dlaccelerate, dlarray, dlfeval, dlgradient, extractdata
from dlgrad.frontend.cache import MAX_ENTRIES, cache_for
from dlgrad.frontend.retrace import RetraceWarning

from . import accelerated_functions as helpers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X, W = dlarray(np.array([1.0, 2.0])), dlarray(np.array([0.5, -1.0]))


# --- item 12: cache options are checked when the function is made -------------------------------

@pytest.mark.parametrize("size, error", [(0, ValueError), (-1, ValueError), ("3", TypeError), (1.5, TypeError),
                                         (True, TypeError), (None, TypeError)])
def test_max_cache_size_is_validated_at_construction(size, error):
    with pytest.raises(error, match="max_cache_size"):
        dlaccelerate(helpers.step, size)


@pytest.mark.parametrize("donate", ["0", 1.0, (0, "1"), True])
def test_donate_is_validated_at_construction(donate):
    with pytest.raises(TypeError, match="donate"):
        dlaccelerate(helpers.step, donate=donate)


def test_a_cache_of_one_signature_works():
    step = dlaccelerate(helpers.step, 1)
    assert float(step(dlarray(1.0), dlarray(2.0))) == 0.0
    assert step(dlarray(np.ones(2)), dlarray(np.ones(2))).shape == (2,)
    assert step.cache_size == 1 and step.Occupancy == 100.0


# --- item 13: a changing static argument is warned about, and the caches stay bounded -----------

def test_a_changing_float_argument_warns_naming_it(backend):
    def train_step(x, lr):
        y = dl.sum(x ** 2) * lr
        return y, dlgradient(y, x)

    with pytest.warns(RetraceWarning, match=r"argument 2 \(lr\), now 0\.0\d+ \(a Python float\).*dlarray") as seen:
        for i in range(8):
            dlfeval(train_step, X, 0.1 * 0.9 ** i)
    assert len([w for w in seen if w.category is RetraceWarning]) == 1   # once per function
    assert seen[0].filename == __file__
    with warnings.catch_warnings():   # the fix: the rate as a dlarray is one signature
        warnings.simplefilter("error")
        for i in range(8):
            y, _ = dlfeval(train_step, X, dlarray(0.1 * 0.9 ** i))
        assert float(y) == pytest.approx(5 * 0.1 * 0.9 ** 7)
        for mode in ("a", "b"):       # a few static values are no surprise
            dlfeval(train_step, X, 1.0 if mode == "a" else 2.0)


def test_keyword_static_argument_is_named_too(backend):
    accfun = dlaccelerate(lambda x, *, scale: dl.sum(x) * scale)
    with pytest.warns(RetraceWarning, match="keyword argument 'scale'"):
        for i in range(6):
            assert float(accfun(X, scale=float(i))) == 3.0 * i


def test_in_memory_caches_are_bounded(backend):
    f = lambda x, c: x * c   # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetraceWarning)
        for i in range(MAX_ENTRIES + 5):
            dlfeval(f, X, float(i))
    assert len(cache_for(f).entries) == MAX_ENTRIES and float(dlfeval(f, X, 3.0)[1]) == 6.0


# --- item 14: a lambda written in a loop is traced once -------------------------------------------

def test_a_lambda_in_a_loop_is_traced_once(backend):
    traces = []

    def objective(x, w):
        traces.append(1)
        y = dl.sum((x * w) ** 2)
        return y, dlgradient(y, x)

    for _ in range(5):
        y, g = dlfeval(lambda x: objective(x, W), X)   # a new function object every time
    assert len(traces) == 1 and float(y) == 4.25 and extractdata(g).tolist() == [0.5, 4.0]


def test_lambdas_with_other_closure_values_do_not_reuse_constants(backend):
    def scaled(s):
        return dlfeval(lambda x: dl.sum(x) * s, X)

    assert [float(scaled(s)) for s in (1.0, 2.0, 1.0, -0.5)] == [3.0, 6.0, 3.0, -1.5]
    results = []
    for s in (1.0, 2.0, 2.0, 1.0):   # one cell, rebound: the guard on it sees the change
        results.append(float(dlfeval(lambda x: dl.sum(x) * s, X)))
    assert results == [3.0, 6.0, 6.0, 3.0]
    results = [float(dlfeval(lambda x, s=s: dl.sum(x) * s, X)) for s in (1.0, 2.0, 1.0)]   # defaults
    assert results == [3.0, 6.0, 3.0]


def test_lambdas_closing_over_other_cells_with_equal_values_later_rebound(backend):
    def make(s):
        f = lambda x: dl.sum(x) * s   # noqa: E731

        def rebind(v):
            nonlocal s
            s = v
        return f, rebind

    f1, rebind1 = make(1.0)
    assert float(dlfeval(f1, X)) == 3.0
    rebind1(2.0)
    assert float(dlfeval(f1, X)) == 6.0
    f2, rebind2 = make(1.0)          # the same code, its own cell holding 1.0
    assert float(dlfeval(f2, X)) == 3.0
    rebind2(4.0)
    assert float(dlfeval(f2, X)) == 12.0


# --- item 15: copies are independent, pickles travel to other processes --------------------------

def test_deepcopy_is_independent(backend):
    original = dlaccelerate(helpers.loss)
    for _ in range(3):
        original(X, W, 2.0)
    twin = copy.deepcopy(original)
    assert type(twin) is type(original) and twin.function is original.function
    before = len(helpers.TRACES)
    for _ in range(3):
        y, out = twin(X, W, 2.0)
    assert len(helpers.TRACES) == before and float(y) == 2 * 4.25 and out["tag"] == "loss"
    assert (original.hits, twin.hits) == (2, 5)
    twin.enabled = False
    twin(X, W, 2.0)
    twin(X, W, 2.0)
    assert len(helpers.TRACES) == before + 2 and original.enabled
    original(X, W, 2.0)
    assert len(helpers.TRACES) == before + 2 and original.hits == 3
    assert copy.copy(original).hits == 3


def test_pickle_round_trip_in_another_process(backend, tmp_path):
    accfun = dlaccelerate(helpers.loss)
    y, out = accfun(X, W, 2.0)
    accfun(dlarray(np.ones(3, np.float32)), dlarray(np.ones(3, np.float32)), 1.0)
    (tmp_path / "f.pkl").write_bytes(pickle.dumps(accfun))
    script = "\n".join([
        "import pickle, sys, numpy as np, dlgrad as dl",
        f"import importlib; helpers = importlib.import_module({helpers.__name__!r})",
        f"f = pickle.loads(open({str(tmp_path / 'f.pkl')!r}, 'rb').read())",
        "x, w = dl.dlarray(np.array([1.0, 2.0])), dl.dlarray(np.array([0.5, -1.0]))",
        "ys = [f(x, w, 2.0) for _ in range(3)]",
        "y32, _ = f(dl.dlarray(np.ones(3, np.float32)), dl.dlarray(np.ones(3, np.float32)), 1.0)",
        "print(len(helpers.TRACES), f.misses, f.cache_size, float(ys[-1][0]), dl.extractdata(ys[-1][1]['gx']).tolist(),",
        "      ys[-1][1]['tag'], y32.dtype, float(y32))",
        "f(x, w, 3.0)",   # a new signature traces as usual
        "print(len(helpers.TRACES))",
    ])
    base = helpers.__file__[:-len(helpers.__name__.replace(".", os.sep) + ".py") - 1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, base]))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.split("\n")[:2]
    expected = (f"0 2 2 {float(y)} {extractdata(out['gx']).tolist()} loss float32 3.0")
    assert first == expected if backend == "c" else first.startswith("2 4 2")
    assert second == ("1" if backend == "c" else "3")


def test_pickle_keeps_options_and_donation(backend):
    step = dlaccelerate(helpers.step, 7, donate=0)
    p = dlarray(np.array([1.0, 2.0]))
    p = step(p, dlarray(np.ones(2)))
    again = pickle.loads(pickle.dumps(step))
    assert (again.max_cache_size, again.donate, again.enabled) == (7, (0,), True)
    address = p._data.ctypes.data   # no reference kept: a held array is copied, not donated
    q = again(p, dlarray(np.ones(2)))
    assert extractdata(q).tolist() == [0.0, 1.0]
    if backend == "c":
        assert q._data.ctypes.data == address   # donated: updated in place


# --- item 16: keyword arguments and clear errors --------------------------------------------------

def test_keyword_arguments_are_part_of_the_signature(backend):
    traces = []

    def f(x, *, w=None, scale=1.0, opts=None):
        traces.append(1)
        y = dl.sum(x * (w if w is not None else 1.0)) * scale
        return y + (0 if opts is None else opts["a"])

    accfun = dlaccelerate(f)
    for call in (lambda g: g(X, w=W), lambda g: dlfeval(g, X, w=W)):
        assert float(call(accfun)) == -1.5 and float(call(f)) == -1.5
    assert float(accfun(X, w=W, scale=2.0)) == -3.0 and float(accfun(X, scale=2.0, w=W)) == -3.0
    assert float(accfun(X, w=dlarray(np.array([1.0, 1.0])))) == 3.0   # traced by type: no retrace
    assert float(accfun(X, opts={"a": 1.0})) == 4.0
    assert accfun.misses == 3 and accfun.hits == 3
    with pytest.raises(TypeError, match=r"f\(\) got an unexpected keyword argument 'bogus'"):
        accfun(X, bogus=1)
    with pytest.raises(TypeError, match=r"f\(\) got an unexpected keyword argument 'bogus'"):
        dlfeval(f, X, bogus=1)


def test_using_a_traced_value_after_its_dlfeval_says_it_escaped():
    kept = []

    def f(x):
        kept.append(x * 2)
        return dl.sum(x)

    dlfeval(f, X)
    with pytest.raises(TraceError, match="escaped a finished dlfeval"):
        float(kept[0])
    with pytest.raises(TraceError, match="escaped a finished dlfeval"):
        bool(kept[0])
