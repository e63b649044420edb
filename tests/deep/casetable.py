"""A table of (function, inputs, numpy reference) cases checked in one compiled graph per dtype:
values in float64 and float32 against the reference, gradients along a random direction against
central differences of the eager function (float64), float32 gradients against float64 ones."""
import numpy as np
import pytest

import dlgrad as dl


class CaseTable:
    """cases: name -> (fn, [(array, fmt or None, differentiable)], reference or None)."""

    def __init__(self, cases, rtol32=2e-4, atol32=2e-5):
        self.cases, self.names = cases, list(cases)
        self.rtol32, self.atol32 = rtol32, atol32
        self._weights, self._compiled = {}, {}

    def _args(self, name, dtype, shift=None):
        return [dl.dlarray(a.astype(dtype), f) if f else dl.dlarray(a.astype(dtype))
                for a, f, _ in self._shifted(name, shift)]

    def _shifted(self, name, shift):
        spec = self.cases[name][1]
        return spec if shift is None else [(a + shift[i], f, d) if i in shift else (a, f, d)
                                           for i, (a, f, d) in enumerate(spec)]

    def loss(self, name, args):
        y = self.cases[name][0](*args)
        w = self._weights.setdefault(name, np.random.default_rng(len(name)).standard_normal(y.shape))
        return y, dl.sum(dl.stripdims(y) * w.astype(y.dtype))

    def compiled(self, dtype):
        if dtype not in self._compiled:
            def everything(inputs):
                results = []
                for name, args in zip(self.names, inputs):
                    y, loss = self.loss(name, args)
                    wrt = [a for a, (_, _, d) in zip(args, self.cases[name][1]) if d]
                    results.append((y, dl.dlgradient(loss, wrt) if wrt else []))
                return results
            self._compiled[dtype] = dl.dlfeval(everything, [self._args(n, dtype) for n in self.names])
        return dict(zip(self.names, self._compiled[dtype]))

    def check_value(self, name):
        y64, _ = self.compiled(np.float64)[name]
        y32, _ = self.compiled(np.float32)[name]
        fn, spec, reference = self.cases[name]
        eager = fn(*self._args(name, np.float64))
        np.testing.assert_allclose(dl.extractdata(y64), dl.extractdata(eager), rtol=1e-12, atol=1e-12)
        if reference is not None:
            expected = reference(*[a for a, _, _ in spec])
            np.testing.assert_allclose(dl.extractdata(y64), expected, rtol=1e-10, atol=1e-12)
        assert y32.dtype == np.float32
        np.testing.assert_allclose(dl.extractdata(y32), dl.extractdata(y64), rtol=self.rtol32, atol=self.atol32)

    def check_gradient(self, name):
        _, grads64 = self.compiled(np.float64)[name]
        _, grads32 = self.compiled(np.float32)[name]
        spec = self.cases[name][1]
        wrt = [i for i, (_, _, d) in enumerate(spec) if d]
        rng = np.random.default_rng(1)
        directions = {i: rng.standard_normal(spec[i][0].shape) for i in wrt}

        def loss_at(step):
            shift = {i: step * v for i, v in directions.items()}
            return float(self.loss(name, self._args(name, np.float64, shift))[1])

        eps = 1e-6
        numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
        analytic = sum(float(np.sum(dl.extractdata(g) * directions[i])) for g, i in zip(grads64, wrt))
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7)
        for g64, g32 in zip(grads64, grads32):
            np.testing.assert_allclose(dl.extractdata(g32), dl.extractdata(g64), rtol=2e-3, atol=2e-4)
