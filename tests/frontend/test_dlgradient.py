"""dlgradient and extractdata: structures, zeros, options, higher derivatives, and the errors."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import GradientError, dlarray, dlfeval, dlgradient, extractdata


def test_gradient_structures_and_unused_inputs(backend):
    def f(w, unused, pair):
        y = dl.sum(w["a"] ** 2) + pair[0] * 3 + dl.sum(pair[1])
        return dlgradient(y, w, unused, pair)

    w = {"a": dlarray(np.array([1.0, 2.0])), "b": dlarray(np.ones((2, 2), np.float32))}
    unused = dlarray(np.ones(3, np.float32))
    gw, gu, gp = dlfeval(f, w, unused, [dlarray(1.0), dlarray(np.ones(2))])
    np.testing.assert_array_equal(extractdata(gw["a"]), [2.0, 4.0])
    assert gw["b"].shape == (2, 2) and gw["b"].dtype == np.float32 and not extractdata(gw["b"]).any()
    assert gu.shape == (3,) and gu.dtype == np.float32 and not extractdata(gu).any()
    assert isinstance(gp, list) and float(gp[0]) == 3.0
    np.testing.assert_array_equal(extractdata(gp[1]), [1.0, 1.0])


def test_gradient_dtype_follows_x():
    def f(x32, x64):
        y = dl.sum(x32) * dl.sum(x64)
        return y, dlgradient(y, x32, x64)

    y, (g32, g64) = dlfeval(f, dlarray(np.ones(2, np.float32)), dlarray(np.ones(3)))
    assert y.dtype == np.float64 and g32.dtype == np.float32 and g64.dtype == np.float64
    np.testing.assert_array_equal(extractdata(g32), [3.0, 3.0])


def test_gradient_with_respect_to_an_intermediate():
    def f(x):
        h = x * 2
        y = dl.sum(dl.sin(h))
        return dlgradient(y, h), dlgradient(y, x)

    x = np.array([0.1, 0.2])
    gh, gx = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(extractdata(gh), np.cos(2 * x), rtol=1e-14)
    np.testing.assert_allclose(extractdata(gx), 2 * np.cos(2 * x), rtol=1e-14)


@pytest.mark.parametrize("spelling", ["enable_higher_derivatives", "EnableHigherDerivatives"])
def test_higher_derivatives_option(spelling):
    def f(x, higher):
        g = dlgradient(dl.sum(x ** 3), x, **{spelling: higher, "RetainData": True})
        return g, dlgradient(dl.sum(g), x)

    x = dlarray(np.array([1.0, 2.0]))
    with pytest.raises(GradientError, match="not traced.*EnableHigherDerivatives=false cannot be differentiated"):
        dlfeval(f, x, False)   # g is a constant: MATLAB's error, not a silent zero
    g, gg = dlfeval(f, x, True)
    np.testing.assert_array_equal(extractdata(gg), [6.0, 12.0])


def test_extractdata_blocks_gradient_flow(backend):
    # the documentation's example: d/dx (x + extractdata(x)^2) is 1 for any x
    def fun(x):
        y = x + extractdata(x) ** 2
        return dlgradient(y, x)

    assert repr(dlfeval(fun, dlarray(2.5))) == "dlarray(1.)"

    def new_variable(x):
        z = extractdata(x ** 2)            # a new independent variable made from a dependent one
        y = dl.sum(z * x)
        return dlgradient(y, z)

    np.testing.assert_array_equal(extractdata(dlfeval(new_variable, dlarray(np.array([1.0, 3.0])))), [1.0, 3.0])


def test_extractdata_outside_dlfeval_is_the_data():
    x = dlarray(np.array([1.0, 2.0]))
    assert isinstance(extractdata(x), np.ndarray)
    np.testing.assert_array_equal(extractdata(x), [1.0, 2.0])


def test_error_outside_dlfeval():
    x = dlarray(1.0)
    with pytest.raises(GradientError, match="dlgradient must be called inside a function evaluated by dlfeval"):
        dlgradient(x, x)


def test_error_non_scalar():
    with pytest.raises(GradientError, match="Value to differentiate is non-scalar"):
        dlfeval(lambda x: dlgradient(x * 2, x), dlarray(np.ones(2)))


def test_size_one_arrays_are_scalars():
    g = dlfeval(lambda x: dlgradient(x[:1] * 2, x), dlarray(np.ones(2)))
    np.testing.assert_array_equal(extractdata(g), [2.0, 0.0])


def test_error_new_dlarray_inside_is_not_traced():
    # the documentation's example: x2 is untraced; the gradient w.r.t. x1 is fine
    def fun(x1, wrt_x2):
        x2 = dlarray(0.0)
        y = x1 + x2
        return dlgradient(y, x2) if wrt_x2 else dlgradient(y, x1)

    assert float(dlfeval(fun, dlarray(1.0), False)) == 1.0
    with pytest.raises(GradientError, match="not traced"):
        dlfeval(fun, dlarray(1.0), True)


def test_error_untraced_y_and_other_dlfeval():
    with pytest.raises(GradientError, match="not traced"):
        dlfeval(lambda x: dlgradient(dlarray(1.0), x), dlarray(1.0))
    with pytest.raises(GradientError, match="not traced"):
        dlfeval(lambda x: dlgradient(dl.sum(x), {"a": x, "b": np.ones(2)}), dlarray(1.0))
    outer_x = []

    def inner(z):
        return dlgradient(z * 2, outer_x[0])

    def outer(x):
        outer_x.append(x)
        return dlfeval(inner, dlarray(1.0))

    with pytest.raises(GradientError, match="not traced"):
        dlfeval(outer, dlarray(1.0))


def test_option_errors():
    with pytest.raises(TypeError, match="RetainData"):
        dlfeval(lambda x: dlgradient(x, x, Retain=True), dlarray(1.0))
    with pytest.raises(TypeError, match="at least one"):
        dlfeval(lambda x: dlgradient(x), dlarray(1.0))


def _second_derivative(x, *options):
    g = dlgradient(x ** 3, x, *options)
    return dlgradient(g, x)


def test_inside_dlaccelerate_higher_derivatives_are_on_by_default(backend):
    # MATLAB: EnableHigherDerivatives defaults to true inside an accelerated function
    assert float(dl.dlaccelerate(_second_derivative)(dlarray(2.0))) == 12.0
    assert float(dlfeval(dl.dlaccelerate(_second_derivative), dlarray(2.0))) == 12.0
    assert float(dlfeval(lambda x: dl.dlaccelerate(_second_derivative)(x) * 1.0, dlarray(2.0))) == 12.0
    with pytest.raises(GradientError, match="EnableHigherDerivatives=false cannot be differentiated"):
        dl.dlaccelerate(_second_derivative)(dlarray(2.0), "EnableHigherDerivatives", False)


def test_a_second_derivative_without_the_option_is_an_error_not_zero():
    with pytest.raises(GradientError, match="value to differentiate is not traced.*EnableHigherDerivatives=false"):
        dlfeval(_second_derivative, dlarray(2.0))
    with pytest.raises(GradientError, match="not traced.*extractdata"):
        dlfeval(lambda x: dlgradient(dl.sum(extractdata(x) * 2.0), x), dlarray(np.ones(2)))
    # a y traced through another path is fine: the gradient-as-constant part contributes nothing
    g = dlfeval(lambda x: dlgradient(dlgradient(x ** 3, x) + x, x), dlarray(2.0))
    assert float(g) == 1.0


def test_matlab_name_value_options():
    assert float(dlfeval(_second_derivative, dlarray(2.0), "EnableHigherDerivatives", True)) == 12.0
    assert float(dlfeval(_second_derivative, dlarray(2.0), "EnableHigherDerivatives", True, "RetainData",
                         False)) == 12.0
    with pytest.raises(TypeError, match="no value"):
        dlfeval(_second_derivative, dlarray(2.0), "EnableHigherDerivatives")
    with pytest.raises(TypeError, match="unknown option 'Bogus'"):
        dlfeval(_second_derivative, dlarray(2.0), "Bogus", 1)
    hessian = dlfeval(lambda x: dl.dljacobian(dlgradient(dl.sum(x ** 3), x, "EnableHigherDerivatives", 1),
                                              x, 0, "EnableHigherDerivatives", False), dlarray(np.array([1.0, 2.0])))
    np.testing.assert_array_equal(extractdata(hessian), [[6.0, 0.0], [0.0, 12.0]])
