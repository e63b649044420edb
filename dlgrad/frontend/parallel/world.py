"""The processes of an spmd job: MPI's world communicator under mpiexec, else one process.

MPI is used only when mpi4py is installed and the script was started by an MPI launcher
(mpiexec, srun: its environment names the ranks); `DLGRAD_MPI=1` forces it and `DLGRAD_MPI=0`
forbids it. Connecting installs an excepthook that prints the failing rank and its error and
aborts the whole job, so the other ranks never wait forever in a collective.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Any

# set by MPI launchers in every rank's environment (MPICH/hydra, Open MPI, PMIx, Slurm's PMI)
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class Single:
    """The world of a script not started by mpiexec: one process, index 0."""

    rank, size = 0, 1
    mpi: Any = None
    comm: Any = None

    def __repr__(self):
        return "<spmd world: one process (not started by mpiexec)>"


class Mpi:
    """MPI's world communicator (mpi4py)."""

    def __init__(self, mpi: Any):
        self.mpi = mpi
        self.comm: Any = mpi.COMM_WORLD
        self.rank: int = self.comm.Get_rank()
        self.size: int = self.comm.Get_size()
        self.sums: Any = None   # reuse.ReusedSum, made at the first spmdPlus

    def __repr__(self):
        return f"<spmd world: rank {self.rank} of {self.size} (MPI)>"


_world: "Single | Mpi | None" = None


def launched() -> bool:
    """Whether this process was started by an MPI launcher (or DLGRAD_MPI asks for MPI)."""
    forced = os.environ.get("DLGRAD_MPI", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def world() -> "Single | Mpi":
    """The world this process belongs to (connected on first use)."""
    global _world
    if _world is None:
        _world = _connect()
    return _world


def _connect() -> "Single | Mpi":
    if not launched():
        return Single()
    try:
        from mpi4py import MPI
    except ImportError:
        if os.environ.get("DLGRAD_MPI", "").strip() == "1":
            raise ImportError("DLGRAD_MPI=1 needs mpi4py: pip install 'dlgrad[mpi]'") from None
        return _single_with_warning()
    found = Mpi(MPI)
    if found.size > 1:
        install_excepthook(found)
    return found


def _single_with_warning():
    import warnings
    warnings.warn("this process was started by an MPI launcher but mpi4py is not installed: every "
                  "rank runs alone as index 0 of 1 (pip install 'dlgrad[mpi]')", RuntimeWarning, stacklevel=4)
    return Single()


def install_excepthook(found: Mpi) -> None:
    """An uncaught exception prints its rank and traceback, then aborts every rank of the job."""
    def abort_job(kind, value, tb):
        message = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"dlgrad: rank {found.rank} of {found.size} failed, aborting the job:\n{message}")
        sys.stderr.flush()
        sys.stdout.flush()
        found.comm.Abort(1)
        os._exit(1)   # Abort does not return; should it, this rank still ends

    sys.excepthook = abort_job
