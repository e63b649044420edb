"""A 2-rank job in which rank 1 fails while rank 0 waits in a collective (test_mpi.py runs it).

    mpiexec -n 2 python faults.py raise   # rank 1 raises: dlgrad's excepthook aborts the job
    mpiexec -n 2 python faults.py kill    # rank 1 is killed (SIGKILL): mpiexec ends the job
"""
import os
import signal
import sys

import dlgrad as dl

dl.spmdBarrier()
if dl.spmdIndex() == 1:
    if sys.argv[1] == "raise":
        raise ValueError("deliberate failure of rank 1")
    os.kill(os.getpid(), signal.SIGKILL)
dl.spmdPlus({"waits": dl.dlarray([1.0, 2.0])})   # rank 0 waits for rank 1 here
print("rank 0 was never left waiting", flush=True)
