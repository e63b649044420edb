"""spmdPlus of large buffers between the processes of one machine, through an MPI shared-memory window.

MPICH's Allreduce of a buffer of megabytes sends it through small shared-memory cells in
several rounds and allocates temporaries at every call: on two ranks it costs 5-7 ms of CPU per
call for the 7 MB of float32 gradients of an MLP 784-1024-1024-10 (page faults among them),
a tenth of a training step. When every rank runs on one machine, each rank packs its buffer
straight into its own segment of one window that all of them map (MPI_Win_allocate_shared),
sums all segments (two or three ranks) or its slice of them (more ranks, then copies the other
slices from the ranks that summed them) in index order: one copy in, one pass of additions, no
temporaries. The sums are the same fold in the same order on every rank, so all ranks get the
same bits, run after run.

Small buffers (MPI's latency-optimised Allreduce is faster there), several machines and
buffers beyond MAX_BYTES go through MPI's Allreduce.
"""
from __future__ import annotations

from typing import Any

import numpy as np

MIN_BYTES = 1 << 14    # below: MPI's Allreduce (measured 2x faster at 1 kB, 2x slower at 16 kB)
MAX_BYTES = 1 << 28    # above: MPI's Allreduce (the window holds two buffers per rank in shared memory)
# Up to this many ranks each rank sums all the parts itself: one synchronisation per call, and for
# two ranks less memory traffic than summing half and copying the other half back; beyond it each
# rank sums a slice and copies the others' (two synchronisations, 2 reads per value at any count)
WHOLE_MAX_RANKS = 3
_ALIGN = 4096


class SharedSum:
    """Sums over all ranks of buffers laid out alike on every rank (MPI's SUM, in index order)."""

    def __init__(self, comm: Any, mpi: Any):
        self.comm, self.mpi = comm, mpi
        self.node: Any = None       # the ranks on this machine; shared memory only when that is all of them
        self.usable: bool | None = None
        self.window: Any = None
        self.segments: list[np.ndarray] = []   # each rank's part of the window, as bytes
        self.capacity = 0           # bytes of one buffer; a segment holds two, used alternately
        self.parity = 0
        self.calls = 0              # sums that went through the window (tests read it)
        self.packed: np.ndarray | None = None   # the last part of the window buffer() gave out

    def buffer(self, size: int, dtype: np.dtype) -> np.ndarray:
        """Where to pack this rank's next buffer of `size` values: its part of the window when
        the buffer goes through it and fits, else new memory."""
        nbytes = size * dtype.itemsize
        if self.usable is False or not MIN_BYTES <= nbytes <= min(self.capacity, MAX_BYTES):
            return np.empty(size, dtype)
        self.packed = self._part(self.comm.Get_rank(), size, dtype)
        return self.packed

    def total(self, buffer: np.ndarray) -> np.ndarray:
        """The sum over all ranks of `buffer` (from buffer()), in new memory or in `buffer` itself."""
        if buffer.nbytes < MIN_BYTES:
            return self._allreduce(buffer)
        self._agree(buffer)
        if self.usable is None:   # every rank is here (they agreed): Split_type, a collective, is safe
            self.node = self.comm.Split_type(self.mpi.COMM_TYPE_SHARED, key=self.comm.Get_rank())
            self.usable = self.node.Get_size() == self.comm.Get_size()
        if not self.usable or buffer.nbytes > MAX_BYTES:
            return self._allreduce(buffer)
        rank, ranks, size, dtype = self.comm.Get_rank(), self.comm.Get_size(), buffer.size, buffer.dtype
        mine, self.packed = self.packed, None
        if buffer is not mine:   # packed in new memory: the window grows first if it must
            if buffer.nbytes > self.capacity:
                self._grow(buffer.nbytes)
            mine = self._part(rank, size, dtype)
            mine[...] = buffer
            self._synchronize()
        parts = [self._part(r, size, dtype) for r in range(ranks)]
        out = np.empty(size, dtype)
        if ranks <= WHOLE_MAX_RANKS:
            _fold(parts, out)
        else:
            bounds = [size * r // ranks for r in range(ranks + 1)]
            lo, hi = bounds[rank], bounds[rank + 1]
            _fold([part[lo:hi] for part in parts], out[lo:hi])
            mine[lo:hi] = out[lo:hi]
            self._synchronize()
            for r in range(ranks):
                if r != rank:
                    out[bounds[r]:bounds[r + 1]] = parts[r][bounds[r]:bounds[r + 1]]
        # the next call packs into the other half, so a rank still reading this one is never
        # overwritten: the call after next starts only when every rank has agreed on the next one
        self.parity ^= 1
        self.calls += 1
        return out

    def _allreduce(self, buffer: np.ndarray) -> np.ndarray:
        self.comm.Allreduce(self.mpi.IN_PLACE, buffer, self.mpi.SUM)
        return buffer

    def _agree(self, buffer: np.ndarray) -> None:
        """Every rank's buffer has the same size and dtype, else the same error on every rank; also
        the synchronisation after which the ranks' packed parts are visible to each other."""
        if self.window is not None:
            self.window.Sync()
        size, kind = buffer.size, buffer.dtype.num
        head = np.array([size, kind, -size, -kind], np.int64)
        self.comm.Allreduce(self.mpi.IN_PLACE, head, self.mpi.MAX)
        if self.window is not None:
            self.window.Sync()
        if head[0] != -head[2] or head[1] != -head[3]:
            raise ValueError(f"spmdPlus: every process must pass values of the same structure, shapes and "
                             f"dtypes (MPI requires it), but the processes' values pack into buffers of "
                             f"{-head[2]} to {head[0]} numbers or of different dtypes; this process has "
                             f"{size} numbers of dtype {buffer.dtype}")

    def _synchronize(self) -> None:
        self.window.Sync()
        self.comm.Barrier()
        self.window.Sync()

    def _grow(self, nbytes: int) -> None:
        """A window for buffers of `nbytes` (collective: every rank grows it in the same call)."""
        if self.window is not None:
            self.window.Unlock_all()
            self.window.Free()
        self.capacity = -(-nbytes // _ALIGN) * _ALIGN
        self.window = self.mpi.Win.Allocate_shared(2 * self.capacity, 1, comm=self.node)
        self.window.Lock_all(self.mpi.MODE_NOCHECK)
        self.segments = [np.frombuffer(self.window.Shared_query(r)[0], np.uint8, count=2 * self.capacity)
                         for r in range(self.node.Get_size())]

    def _part(self, rank: int, size: int, dtype: np.dtype) -> np.ndarray:
        start = self.parity * self.capacity
        return self.segments[rank][start:start + size * dtype.itemsize].view(dtype)


def _fold(parts: list[np.ndarray], out: np.ndarray) -> None:
    """out = ((parts[0] + parts[1]) + parts[2]) + ..., MPI's SUM in index order."""
    np.add(parts[0], parts[1], out=out)
    for part in parts[2:]:
        np.add(out, part, out=out)
