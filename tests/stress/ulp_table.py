"""Worst ulp errors of every elementwise op against mpmath, on a dense sweep: the table in
docs/numerics.md.

The references, sweeps and judging are those of tests/reliability/test_numerics_mpmath.py,
with thousands of log-uniform points per unary op (|x| from 1e-6 to 1e4) and a denser grid
of pairs for the binary ops, besides the extremes every sweep has. For each op and dtype it
prints the worst value error and the worst gradient error in ulps with the arguments where
they occur; points of documented limitations and known bugs are counted apart. Exits non-zero
if any result is plainly wrong (NaN where the value is finite, a wrong infinity or signed
zero) or beyond the bounds of the CI test.

Run: python tests/stress/ulp_table.py [--numpy]   (--numpy: the numpy reference interpreter
instead of the compiled C)
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: the `reliability`, `graph`, `codegen` packages

from reliability import mpmath_sweep as S  # noqa: E402
from reliability import test_numerics_mpmath as N  # noqa: E402


def _where(args):
    return ", ".join(f"{a:.17g}" for a in args) if args else ""


def _cell(worst, exact):
    if exact and not worst.error:
        return "0 (exact)", ""
    return f"{worst.error:.2f}", _where(worst.args)


def main(argv):
    backend = "numpy" if "--numpy" in argv else "c"
    start = time.time()
    print("| op | dtype | value ulp | at x | gradient ulp | at x | points | notes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failures, over, points = [], [], 0
    for dtype in N.DTYPES:
        results = N.results(N.CHECKED, dtype, backend, dense=True)
        for name in N.CHECKED:
            args, value, grads = results[name]
            worst = N.check(name, dtype, value, grads, dense=True)
            exact = N.REFERENCES[name].exact
            value_cell = _cell(worst["value"], exact)
            gradients = [(w, what) for what, w in worst.items() if what != "value"]
            if gradients:
                w, what = max(gradients, key=lambda item: item[0].error)
                grad_error, grad_at = _cell(w, False)
                if len(gradients) > 1:
                    grad_error += f" ({'d/da' if what == 'd0' else 'd/db'})"
            else:
                grad_error, grad_at = "not differentiable", ""
            notes = []
            skipped = max(w.skipped for w in worst.values())
            if skipped:
                notes.append(f"{skipped} points excluded (limitation or known bug)")
            wrong = sum(len(w.failures) for w in worst.values())
            if wrong:
                notes.append(f"{wrong} WRONG")
                failures += [(name, dtype, what, a, text)
                             for what, w in worst.items() for a, text in w.failures]
            over += N.problems({k: S.Worst(w.error, w.args) for k, w in worst.items()}, name, dtype)
            points += value.size
            print(f"| {name} | {dtype} | {value_cell[0]} | {value_cell[1]} | {grad_error} | {grad_at} | "
                  f"{value.size} | {'; '.join(notes)} |", flush=True)
    for name, dtype, what, a, text in failures[:40]:
        print(f"WRONG {name} {dtype} {what} at {_where(a)}: {text}")
    for line in over:
        print(f"OVER BOUND {line}")
    status = "PASS" if not failures and not over else "FAIL"
    print(f"backend={backend} ops={len(N.CHECKED)} points={points} wrong={len(failures)} "
          f"over_bound={len(over)} time={time.time() - start:.0f}s {status}")
    return 0 if status == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
