"""The native call path (runtime/c/fastcall.c): one Dispatcher per compiled signature, called with
boxed arrays (dlarrays here); everything it does not take goes to `miss`."""
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

from dlgrad import dlarray
from dlgrad.errors import DlgradError
from dlgrad.runtime import fastcall, load
import runtime_programs as programs

SLOTS = (dlarray._data, dlarray._node, dlarray._trace, dlarray._fmt, dlarray._logical)
OUT, CONST, TUPLE, LIST = 0, 1, 2, 3


class Counter:
    hits = 0


def missed(*args, **kwargs):
    return ("missed", args, kwargs)


def box(data, fmt=None):
    x = dlarray(data)
    x._fmt = fmt
    return x


def native(program, template=(TUPLE, ((OUT, 0), (OUT, 1))), formats=None, out_formats=None, build=None,
           counter=None):
    f = load(program)
    d = f.native(dlarray, SLOTS, formats or (None,) * len(f.program.inputs),
                 out_formats or (None,) * len(f.program.outputs), template, build, missed, counter)
    assert d is not None, "the native call path should build on this machine"
    return d


def test_rosenbrock_through_the_dispatcher():
    counter = Counter()
    d = native(programs.rosenbrock(), counter=counter)
    value, grad = d(box([-1.0, 2.0]))
    assert type(value) is dlarray and value._node is None and value._fmt is None
    assert float(value) == 104.0 and grad._data.tolist() == [396.0, 200.0] and counter.hits == 1


def test_anything_else_is_a_miss():
    d = native(programs.rosenbrock(), formats=("CB",))
    x = box(np.array([-1.0, 2.0]), "CB")
    assert float(d(x)[0]) == 104.0
    assert float(d(box(np.array([-1.0, 2.0]), "C" + "B"))[0]) == 104.0   # an equal, not identical format
    others = [box(np.array([-1.0, 2.0])),                           # another format
              box(np.array([-1.0, 2.0, 3.0]), "CB"),                # another shape
              box(np.array([-1.0, 2.0], np.float32), "CB"),         # another dtype
              np.array([-1.0, 2.0])]                                 # not a dlarray
    strided = box(np.zeros(4), "CB")
    strided._data = np.arange(4.0)[::2]                              # not contiguous
    swapped = box(np.zeros(2), "CB")
    swapped._data = np.array([-1.0, 2.0], ">f8")                     # not native-endian
    for arg in [*others, strided, swapped]:
        assert d(arg) == ("missed", (arg,), {})
    assert d() == ("missed", (), {}) and d(x, x) == ("missed", (x, x), {})
    assert d(x=x) == ("missed", (), {"x": x})

    class Sub(dlarray):
        __slots__ = ()
    sub = Sub(np.array([-1.0, 2.0]))
    sub._fmt = "CB"
    assert d(sub)[0] == "missed"


def test_templates_and_build():
    d = native(programs.rosenbrock(), (LIST, ((OUT, 1), (CONST, "tag"), (TUPLE, ((OUT, 0), (OUT, 0))))),
               out_formats=(None, "C"))
    grad, tag, (v1, v2) = d(box([-1.0, 2.0]))
    assert type(grad) is dlarray and grad._fmt == "C" and tag == "tag" and v1 is v2 and float(v1) == 104.0
    built = native(programs.rosenbrock(), None, build=lambda value, grad: {"value": value, "grad": grad})
    result = built(box([-1.0, 2.0]))
    assert type(result["value"]) is np.ndarray and result["grad"].tolist() == [396.0, 200.0]


def test_bad_construction_is_a_python_error():
    f = load(programs.rosenbrock())
    spec = ((None,), (None, None), None, missed)
    with pytest.raises(ValueError, match="template"):
        f.native(dlarray, SLOTS, *spec[:2], (TUPLE, ((OUT, 2),)), None, missed)
    with pytest.raises(ValueError, match="template"):
        f.native(dlarray, SLOTS, *spec[:2], (7, ()), None, missed)
    with pytest.raises(TypeError, match="slot"):
        f.native(dlarray, (dlarray.shape,) * 5, *spec[:2], (OUT, 0), None, missed)
    with pytest.raises(ValueError, match="build"):
        f.native(dlarray, SLOTS, *spec[:2], None, None, missed)
    with pytest.raises(ValueError):
        f.native(dlarray, SLOTS, (None, None), (None, None), (OUT, 0), None, missed)   # 2 formats, 1 input


def test_failure_status_raises():
    d = native(programs.failing(), (OUT, 0))
    with pytest.raises(DlgradError, match="failed with status 3"):
        d(box([1.0]))


def test_donated_input_is_overwritten_unless_unsafe():
    program = programs.Program(programs.fresh() + r"""
int step(const void *const *in, void *const *out, void *work) {
    const double *p = (const double *)in[0], *g = (const double *)in[1];
    double *q = (double *)out[0];
    (void)work;
    for (int i = 0; i < 3; i++) q[i] = p[i] - g[i];
    return 0;
}
""", "step", (((3,), "float64"), ((3,), "float64")), (((3,), "float64"),), aliases=((0, 0),))
    d = native(program, (OUT, 0), formats=(None, None))
    p, g = box([1.0, 2.0, 3.0]), box([1.0, 1.0, 1.0])
    q = d(p, g)
    assert q._data is p._data and p._data.tolist() == [0.0, 1.0, 2.0]  # in place: p holds the result
    q = d(p, g)                                                        # p's array is q's too: copied
    assert q._data is not p._data and q._data.tolist() == [-1.0, 0.0, 1.0] and p._data.tolist() == [0.0, 1.0, 2.0]
    p = q
    del q
    p._data.flags.writeable = False
    q = d(p, g)
    assert q._data is not p._data and q._data.tolist() == [-2.0, -1.0, 0.0] and p._data.tolist() == [-1.0, 0.0, 1.0]
    both = box([5.0, 5.0, 5.0])
    q = d(both, both)                                                  # the same memory twice: copied
    assert q._data.tolist() == [0.0] * 3 and both._data.tolist() == [5.0] * 3


def test_no_references_leak():
    d = native(programs.rosenbrock(), (TUPLE, ((OUT, 0), (CONST, "tag"), (OUT, 1))), formats=("CB",),
               out_formats=("CB", "CB"))
    x = box(np.array([-1.0, 2.0]), "CB")
    fmt, data = x._fmt, x._data
    d(x)
    before = sys.getrefcount(fmt), sys.getrefcount(data), sys.getrefcount("tag")
    for _ in range(2000):
        value, tag, grad = d(x)
    del value, tag, grad
    d(box(np.zeros(3), "CB"))   # a miss
    assert (sys.getrefcount(fmt), sys.getrefcount(data), sys.getrefcount("tag")) == before
    value = d(x)[0]
    ref = weakref.ref(value._data)
    del value
    assert ref() is None


def test_dispatcher_is_collected_with_a_cycle_through_miss():
    class Holder:
        pass
    holder = Holder()
    holder.d = load(programs.rosenbrock()).native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None,
                                                  lambda *a, h=holder: h, None)
    ref = weakref.ref(holder)
    del holder
    gc.collect()
    assert ref() is None


def test_threads_get_their_own_workspace():
    d = native(programs.smooth(), (TUPLE, ((OUT, 0), (OUT, 1))))
    inputs = [np.random.default_rng(seed).standard_normal(2048) for seed in range(4)]
    expected = [programs.smooth_reference(x) for x in inputs]
    errors = []

    def work(k):
        for _ in range(20):
            y, total = d(box(inputs[k]))
            if not (np.allclose(y._data, expected[k][0]) and np.isclose(float(total), expected[k][1])):
                errors.append(k)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_cannot_build_means_python_calls(monkeypatch):
    def cannot_build():
        raise OSError("no Python headers")
    # a fresh, unbuilt extension for this test; the built one is restored afterwards
    monkeypatch.setattr(fastcall, "_extension", type(fastcall._extension)(cannot_build, "the native call path",
                                                                         "compiled functions are called through Python"))
    with pytest.warns(RuntimeWarning, match="native call path"):   # built with the first program
        f = load(programs.rosenbrock())
    assert f.native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed) is None
    assert f(np.array([-1.0, 2.0]))[0] == 104.0
    monkeypatch.undo()
    monkeypatch.setenv(fastcall.DISABLE_VARIABLE, "0")
    assert f.native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed) is None


FLOAT = 4


def test_raw_mode_takes_and_returns_plain_arrays():
    # box = the ndarray type: numpy arrays in, arrays (or floats) out, no slots (dlgrad.optimize's path)
    f = load(programs.rosenbrock())
    counter = Counter()
    d = f.native(np.ndarray, (), (None,), (None, None), (TUPLE, ((FLOAT, 0), (OUT, 1))), None, missed, counter)
    x = np.array([-1.0, 2.0])
    value, grad = d(x)
    assert type(value) is float and value == 104.0
    assert type(grad) is np.ndarray and grad.tolist() == [396.0, 200.0] and counter.hits == 1
    plain = f.native(np.ndarray, (), (None,), (None, None), (OUT, 0), None, missed)
    assert type(plain(x)) is np.ndarray and plain(x).shape == () and float(plain(x)) == 104.0

    class Sub(np.ndarray):
        pass
    for other in ([-1.0, 2.0], x.astype(np.float32), np.arange(4.0)[::2], np.zeros(3), x.view(Sub),
                  x.astype(">f8"), dlarray(x)):
        assert d(other) == ("missed", (other,), {})


def test_a_float_template_needs_a_one_element_float64_output():
    f = load(programs.rosenbrock())
    with pytest.raises(ValueError, match="float entry needs a one-element float64 output"):
        f.native(np.ndarray, (), (None,), (None, None), (FLOAT, 1), None, missed)
    with pytest.raises(ValueError, match="template"):
        f.native(np.ndarray, (), (None,), (None, None), (FLOAT, 2), None, missed)
    with pytest.raises(ValueError, match="slots"):
        f.native(dlarray, (), (None,), (None, None), (OUT, 0), None, missed)   # a box needs its slots


KEYED = programs.Program(r"""
int keyed(const void *const *in, void *const *out, void *work) {
    const double *x = (const double *)in[0];
    const long long *key = (const long long *)in[1];
    double *y = (double *)out[0];
    (void)work;
    y[0] = x[0] + (double)key[0];
    y[1] = x[1] + (double)key[1];
    return 0;
}
""", "keyed", (((2,), "float64"), ((2,), "int64")), (((2,), "float64"),))


def _keyed(stream):
    f = load(KEYED)
    return f.native(dlarray, SLOTS, (None, None), (None,), (OUT, 0), None, missed, stream=stream)


def test_a_stream_feeds_the_last_input_and_advances():
    """With a stream (seed, counter, busy), the caller passes all inputs but the key: the call
    takes (seed, counter) and advances the counter (mod 2^63); busy set: a miss, nothing taken."""
    import tracemalloc
    stream = np.array([7, 40, 0], dtype=np.int64)
    d = _keyed(stream)
    x = box([0.5, 0.25])
    assert d(x)._data.tolist() == [7.5, 40.25] and stream.tolist() == [7, 41, 0]
    assert d(x)._data.tolist() == [7.5, 41.25] and stream.tolist() == [7, 42, 0]
    assert d(x, x)[0] == "missed" and stream.tolist() == [7, 42, 0]   # the key is not an argument
    stream[2] = 1
    assert d(x)[0] == "missed" and stream.tolist() == [7, 42, 1]
    stream[:] = [7, 2 ** 63 - 1, 0]
    d(x)
    assert stream.tolist() == [7, 0, 0]
    tracemalloc.start()   # the key arrays are freed with the call
    for _ in range(200):
        d(x)
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(5000):
        d(x)
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert growth < 10_000 and stream[1] == 5200


def test_a_bad_stream_is_a_python_error():
    for bad in (np.zeros(3, np.float64), np.zeros(2, np.int64), np.zeros(6, np.int64)[::2], [0, 0, 0]):
        with pytest.raises(ValueError, match="stream"):
            _keyed(bad)
    read_only = np.zeros(3, np.int64)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="stream"):
        _keyed(read_only)
    with pytest.raises(ValueError, match="stream"):   # the last input is not an int64 pair
        load(programs.rosenbrock()).native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed,
                                           stream=np.zeros(3, np.int64))


# structured arguments (patterns) and results (objects): dlnetworks and Learnables tables use these
LEAF, ARRAY, OBJECT = 0, 4, 5


class Slotted:
    __slots__ = ("tag", "items")


class Plain:
    pass


def test_structured_arguments_and_object_results():
    counter = Counter()
    patterns = ((OBJECT, (Plain, (("items", (LIST, ((CONST, 7), (LEAF, 0)))), ("tag", (CONST, "w"))))),)
    template = (OBJECT, (Slotted, (("tag", (CONST, "out")), ("items", (TUPLE, ((OUT, 0), (OUT, 1)))))))
    f = load(programs.rosenbrock())
    d = f.native(dlarray, SLOTS, (None,), (None, None), template, None, missed, counter, arguments=patterns)
    arg = Plain()
    arg.tag, arg.items = "w", [7, box([-1.0, 2.0])]
    result = d(arg)
    assert type(result) is Slotted and result.tag == "out" and counter.hits == 1
    assert float(result.items[0]) == 104.0 and result.items[1]._data.tolist() == [396.0, 200.0]
    others = []
    for change in [("tag", "v"), ("items", (7, arg.items[1])), ("items", [7]), ("items", [8, arg.items[1]]),
                   ("items", [7, box([1.0, 2.0, 3.0])]), ("items", [7, np.array([-1.0, 2.0])])]:
        other = Plain()
        other.tag, other.items = arg.tag, arg.items
        setattr(other, *change)
        others.append(other)
    missing = Plain()
    missing.tag = "w"
    for other in [*others, missing, Slotted(), box([-1.0, 2.0])]:
        assert d(other) == ("missed", (other,), {})
    assert counter.hits == 1
    data, items = arg.items[1]._data, arg.items
    before = sys.getrefcount(data), sys.getrefcount(items), sys.getrefcount(arg)
    for _ in range(1000):   # hits and misses (after a leaf was taken) keep no references
        d(arg)
        d(others[0])
    assert (sys.getrefcount(data), sys.getrefcount(items), sys.getrefcount(arg)) == before
    raw = f.native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed, arguments=((ARRAY, 0),))
    assert float(raw(np.array([-1.0, 2.0]))) == 104.0
    assert raw(box([-1.0, 2.0]))[0] == "missed" and raw(np.array([-1.0, 2.0], np.float32))[0] == "missed"


def test_bad_patterns_and_guards_are_python_errors():
    f = load(programs.rosenbrock())
    spec = (dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed)
    for bad in [((LEAF, 1),), ((LEAF, 0), (LEAF, 1)), (), ((9, 0),), ((OBJECT, (Plain, (("x", (LEAF, 0)), 3))),),
                ((OBJECT, ("Plain", ())),), [(LEAF, 0)]]:
        with pytest.raises(ValueError, match="arguments|object"):
            f.native(*spec, arguments=bad)
    with pytest.raises(ValueError, match="object"):
        f.native(*spec[:4], (OBJECT, (Plain, (("x", (OUT, 0)), ("y",)))), None, missed)
    with pytest.raises(ValueError, match="instantiated"):   # no tp_new
        f.native(*spec[:4], (OBJECT, (type(sys._getframe()), ())), None, missed)
    with pytest.raises(TypeError, match="guard"):
        f.native(*spec, guard=3)


def test_a_guard_sends_calls_to_miss_while_it_is_false():
    state = {"valid": True}

    def guard():
        if state.get("raise"):
            raise KeyError("guard failed")
        return state["valid"]
    d = load(programs.rosenbrock()).native(dlarray, SLOTS, (None,), (None, None), (OUT, 0), None, missed,
                                           guard=guard)
    x = box([-1.0, 2.0])
    assert float(d(x)) == 104.0
    state["valid"] = False
    assert d(x) == ("missed", (x,), {})
    state["raise"] = True
    with pytest.raises(KeyError, match="guard failed"):
        d(x)
