"""Scale-out: MATLAB's spmd functions on MPI (started with mpiexec), and training checkpoints."""
from .checkpoint import load_checkpoint, save_checkpoint
from .spmd import spmdBarrier, spmdBroadcast, spmdCat, spmdIndex, spmdPlus, spmdReduce, spmdSize

__all__ = ["load_checkpoint", "save_checkpoint", "spmdBarrier", "spmdBroadcast", "spmdCat", "spmdIndex",
           "spmdPlus", "spmdReduce", "spmdSize"]
