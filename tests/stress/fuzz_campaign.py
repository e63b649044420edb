"""Differential fuzzing campaign: random graphs (tests/graph/randgraph.py) compiled to C vs the
reference interpreter vs central finite differences, for values and gradients (float64).

Reuses the body of tests/codegen/test_random_graphs.py; every failure is recorded (graph seed and
error) and the campaign goes on. Prints one summary line for tests/stress/README.md.

Run: python tests/stress/fuzz_campaign.py [examples]        (default 10000)
"""
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: the `graph` and `codegen` test packages

from hypothesis import HealthCheck, given, settings  # noqa: E402

from codegen import test_random_graphs as property_test  # noqa: E402
from graph.randgraph import random_graphs  # noqa: E402


def main(examples: int = 10_000) -> int:
    body = property_test.test_compiled_matches_interpreter_and_finite_differences.hypothesis.inner_test
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
    print(f"examples={count[0]} failures={len(failures)} time={elapsed:.0f}s "
          f"{'PASS' if not failures else 'FAIL'}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
