"""Workspace plan: offsets for intermediate buffers, reusing memory whose last reader has run."""
from __future__ import annotations

ALIGN = 64
ITEMSIZE = {"float64": 8, "float32": 4, "int64": 8}


def plan_workspace(buffers, first_write, last_read):
    """Byte offsets for `buffers` (nodes) alive from first_write[id] to last_read[id] (kernel indices).

    Greedy best fit over kernels in order: a block freed after its last reader is reused by
    buffers written later. Returns (offsets by id, total bytes).
    """
    def size(node):
        return -(-max(node.size, 1) * ITEMSIZE[node.dtype] // ALIGN) * ALIGN

    offsets, free, end = {}, [], 0
    by_start = sorted(buffers, key=lambda n: (first_write[id(n)], n.serial))
    live = []
    for node in by_start:
        start = first_write[id(node)]
        for other in [o for o in live if last_read[id(o)] < start]:
            live.remove(other)
            free.append((offsets[id(other)], size(other)))
        need = size(node)
        fits = [block for block in free if block[1] >= need]
        if fits:
            block = min(fits, key=lambda b: b[1])
            free.remove(block)
            offsets[id(node)] = block[0]
            if block[1] > need:
                free.append((block[0] + need, block[1] - need))
        else:
            offsets[id(node)] = end
            end += need
        live.append(node)
    return offsets, end


def workspace_report(buffers, first_write, last_read):
    """(workspace bytes of plan_workspace, peak live bytes) for the same arguments.

    The peak is the most bytes alive at any one kernel, each buffer rounded up to ALIGN as the
    plan rounds it: no plan can use less, so the first over the second measures the plan's waste.
    """
    live = {}
    for node in buffers:
        nbytes = -(-max(node.size, 1) * ITEMSIZE[node.dtype] // ALIGN) * ALIGN
        for k in range(first_write[id(node)], last_read[id(node)] + 1):
            live[k] = live.get(k, 0) + nbytes
    return plan_workspace(buffers, first_write, last_read)[1], max(live.values(), default=0)
