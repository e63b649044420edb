"""Differential fuzzing campaign: random graphs (tests/graph/randgraph.py) compiled to C vs the
reference interpreter vs central finite differences, for values and gradients (float64).

Reuses the body of tests/codegen/test_random_graphs.py; every failure is recorded (graph and
error) and the campaign goes on. Prints one summary line for tests/stress/README.md.

With --special, the inputs are drawn from 0, -0, +-1, 0.5, +-Inf and NaN instead, and the C must
be NaN, +Inf or -Inf exactly where the interpreter is, in values and gradients (the body of
tests/codegen/test_constants.py::test_random_graphs_agree_on_zeros_infs_and_nans).

Run: python tests/stress/fuzz_campaign.py [examples] [--special]        (default 10000)
"""
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: the `graph` and `codegen` test packages

from hypothesis import HealthCheck, given, settings  # noqa: E402

from codegen import test_constants, test_random_graphs  # noqa: E402
from graph.randgraph import random_graphs  # noqa: E402


def main(examples: int = 10_000, special: bool = False) -> int:
    test = (test_constants.test_random_graphs_agree_on_zeros_infs_and_nans if special
            else test_random_graphs.test_compiled_matches_interpreter_and_finite_differences)
    body = test.hypothesis.inner_test
    count, failures = [0], []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(random_graphs())
    def campaign(graph):
        count[0] += 1
        try:
            body(graph)
        except Exception as exc:  # noqa: BLE001 - recorded, the campaign goes on
            failures.append((getattr(graph, "seed", None), f"{type(exc).__name__}: {exc}"[:500],
                             traceback.format_exc(limit=12)))
            print(f"FAILURE on graph:\n{graph}\n{traceback.format_exc(limit=12)}", flush=True)

    start = time.perf_counter()
    campaign()
    elapsed = time.perf_counter() - start
    for seed, message, _ in failures[:20]:
        print(f"FAILURE seed={seed}: {message}")
    print(f"{'special ' if special else ''}examples={count[0]} failures={len(failures)} time={elapsed:.0f}s "
          f"{'PASS' if not failures else 'FAIL'}")
    return 0 if not failures else 1


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a != "--special"]
    sys.exit(main(int(numbers[0]) if numbers else 10_000, special="--special" in sys.argv[1:]))
