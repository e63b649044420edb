"""Matrix product with batch broadcasting: (..., m, k) @ (..., k, n) -> (..., m, n)."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import batching, layout
from ..registry import MATMUL, Op, apply, broadcast_shapes, register, result_dtype
from . import elementwise as E
from . import movement as M
from . import reduce as R


def _infer(inputs):
    a, b = inputs
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"matmul core needs operands with at least 2 dimensions, got {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                         f"({a.shape[-1]} != {b.shape[-2]})")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], what="matmul batch dimensions")
    return batch + (a.shape[-2], b.shape[-1]), result_dtype(inputs)


def swap_last(x):
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return M.permute(x, axes)


def _vjp(g, out, inputs):
    a, b = inputs
    return [E.fit(matmul(g, swap_last(b)), a), E.fit(matmul(swap_last(a), g), b)]


register(Op("matmul", MATMUL, _infer, lambda a, b: np.asarray(np.matmul(a, b), dtype=np.result_type(a, b)), _vjp,
            batch=batching.broadcasting, layout=layout.contraction))


def matmul(a, b):
    return apply("matmul", a, b)
