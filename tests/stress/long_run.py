"""Long run: 10^6 calls of one compiled gradient function through dlfeval.

Resident memory must stay within 5% of its value after warm-up and the number of open file
descriptors must not grow. Prints a line for tests/stress/README.md; exits 1 on failure.

Run: python tests/stress/long_run.py [calls]
"""
import os
import sys
import time

import numpy as np

import dlgrad as dl
from dlgrad import dlarray, dlfeval, dlgradient, extractdata


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def objective(x, w):
    h = dl.tanh(x @ w)
    y = dl.sum(h * h) + dl.sum(dl.exp(-x * x))
    return y, dlgradient(y, x), dlgradient(y, w)


def main(calls: int = 10 ** 6) -> int:
    rng = np.random.default_rng(0)
    x, w = dlarray(rng.standard_normal((8, 16))), dlarray(rng.standard_normal((16, 4)))
    first = [extractdata(o).copy() for o in dlfeval(objective, x, w)]
    for _ in range(20_000):   # warm-up: allocator pools, caches
        dlfeval(objective, x, w)
    rss0, fds0 = rss_kib(), open_fds()
    start = time.perf_counter()
    samples = []
    for i in range(calls):
        out = dlfeval(objective, x, w)
        if i % (calls // 10) == 0:
            samples.append(rss_kib())
    elapsed = time.perf_counter() - start
    rss1, fds1 = rss_kib(), open_fds()
    same = all(np.array_equal(extractdata(o), e) for o, e in zip(out, first))
    growth = (rss1 - rss0) / rss0
    ok = abs(growth) <= 0.05 and fds1 <= fds0 and same
    print(f"calls={calls} time={elapsed:.1f}s ({1e6 * elapsed / calls:.2f} us/call) "
          f"rss_after_warmup={rss0} KiB rss_end={rss1} KiB growth={100 * growth:+.2f}% "
          f"max_sample={max(samples)} KiB fds {fds0}->{fds1} last_result_equal_first={same} "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10 ** 6))
