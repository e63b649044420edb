"""The spmd functions with two MPI processes: each test is one `mpiexec -n 2` launch of a script
(the checks in spmd_checks.py, the faults in faults.py), with a timeout, so a hang fails."""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHECKS = ("world", "plus_nested", "plus_through_reused_buffers", "reduce", "cat_and_broadcast", "shard_gradients",
          "accelerated_function_travels", "traced_value_refused")


def mpiexec():
    pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py, mpich) is not installed")
    found = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = found if os.path.exists(found) else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpi4py is installed but no mpiexec was found (pip install mpich)")
    return found


def launch(script, *args, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MPI_", "HYDRA"))}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    return subprocess.run([mpiexec(), "-n", "2", sys.executable, os.path.join(HERE, script), *args],
                          env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_spmd_functions_on_two_ranks(tmp_path):
    done = launch("spmd_checks.py", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stdout + done.stderr
    for check in CHECKS:
        for rank in (0, 1):
            assert f"passed {check} on rank {rank}" in done.stdout, done.stdout + done.stderr
    # the pickled accelerated function computed on rank 1 (own empty cache) without a trace
    assert "rank 1 traced the accelerated function 0 times" in done.stdout


def test_an_exception_on_one_rank_ends_the_job_with_its_rank_and_error():
    done = launch("faults.py", "raise", timeout=60)
    assert done.returncode != 0
    assert "dlgrad: rank 1 of 2 failed, aborting the job" in done.stderr, done.stderr
    assert "ValueError: deliberate failure of rank 1" in done.stderr
    assert "never left waiting" not in done.stdout


def test_a_killed_rank_ends_the_job():
    done = launch("faults.py", "kill", timeout=60)
    assert done.returncode != 0
    assert "signal 9" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    assert "never left waiting" not in done.stdout


def test_parallel_example_gives_the_single_process_accuracy():
    """examples/train_parallel.py (15 epochs) on two ranks against one process with the same global
    batch: the final test accuracies within 0.5% (each rank normalizes its half batch with its own
    batch statistics, as in MATLAB, so the trajectories differ slightly)."""
    pytest.importorskip("sklearn", reason="the example's data needs scikit-learn (the examples extra)")
    script = os.path.join(ROOT, "examples", "train_parallel.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    single = subprocess.run([sys.executable, script], env=env, capture_output=True,
                            text=True, timeout=240, cwd=ROOT)
    double = launch(os.path.join("..", "..", "examples", "train_parallel.py"))
    assert single.returncode == 0 and double.returncode == 0, single.stderr + double.stderr

    def final(out):
        line = [line for line in out.splitlines() if line.startswith("test accuracy")][-1]
        return float(line.split()[2]), line
    (one, line1), (two, line2) = final(single.stdout), final(double.stdout)
    assert "on 1 process(es)" in line1 and "on 2 process(es)" in line2
    assert abs(one - two) <= 0.005, (line1, line2)
