"""8 threads calling one compiled function 10^5 times each with different inputs: every result
must equal the single-threaded one (workspaces are per thread; cffi releases the GIL).

Run: python tests/stress/threads.py [calls_per_thread]
"""
import sys
import threading
import time

import numpy as np

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata


def objective(x, w):
    h = dl.tanh(x @ w)
    y = dl.sum(h * h) + dl.sum(dl.exp(-x * x))
    return y, dlgradient(y, x), dlgradient(y, w)


def main(calls: int = 10 ** 5, threads: int = 8) -> int:
    rng = np.random.default_rng(1)
    inputs = [(dlarray(rng.standard_normal((16, 32))), dlarray(rng.standard_normal((32, 8))))
              for _ in range(8 * threads)]
    expected = [[extractdata(o).copy() for o in dlfeval(objective, x, w)] for x, w in inputs]
    errors, barrier = [], threading.Barrier(threads)

    def worker(t):
        barrier.wait()
        mine = range(t, len(inputs), threads)
        for n in range(calls):
            i = mine[n % len(mine)]
            got = dlfeval(objective, *inputs[i])
            if not all(np.array_equal(extractdata(g), e) for g, e in zip(got, expected[i])):
                errors.append((t, n, i))
                return

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - start
    print(f"threads={threads} calls_per_thread={calls} total={threads * calls} time={elapsed:.1f}s "
          f"mismatches={len(errors)} {'PASS' if not errors else 'FAIL ' + repr(errors[:5])}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10 ** 5))
