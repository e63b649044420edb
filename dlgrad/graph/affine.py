"""Affine index maps in graph terms: how an op's output coordinates address its input.

A movement op states, per axis of its input, which input coordinate an output
coordinate c reads: a + b * c[p] (or the constant a when p is None), valid only where
every c[p] lies in its interval. Code generators compose these maps so that kernels
read through movement ops without copies.
"""
from __future__ import annotations

from dataclasses import dataclass


class NotAffine(Exception):
    """The op's access is not affine here: its input (or the op) must be materialised."""


@dataclass(frozen=True)
class Affine:
    axes: tuple     # per input axis: (p, a, b) meaning a + b * c[p]; p None -> the constant a
    bounds: tuple   # per output coordinate: (lo, hi), the valid interval, or None


def broadcast_affine(from_shape, to_shape) -> Affine:
    """Coordinates of an operand of shape from_shape inside a broadcast result of to_shape."""
    lead = len(to_shape) - len(from_shape)
    axes = tuple((lead + d, 0, 1) if n == to_shape[lead + d] else (None, 0, 0)
                 for d, n in enumerate(from_shape))
    return Affine(axes, (None,) * len(to_shape))
