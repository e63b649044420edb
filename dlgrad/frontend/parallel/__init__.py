"""Scale-out: MATLAB's spmd functions on MPI (started with mpiexec), and training checkpoints."""
from .spmd import spmdBarrier, spmdBroadcast, spmdCat, spmdIndex, spmdPlus, spmdReduce, spmdSize

__all__ = ["spmdBarrier", "spmdBroadcast", "spmdCat", "spmdIndex", "spmdPlus", "spmdReduce", "spmdSize"]
