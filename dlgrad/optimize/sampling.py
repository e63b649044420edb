"""Common random numbers: the key an objective's random draws use, fixed between evaluations.

scipy's line searches and trust regions assume the objective is a deterministic function: a
fn that drew new numbers at each evaluation would give values and gradients of different
functions. So an objective's compiled functions take one key (seed, counter), taken from the
global stream (dl.rng) when fn is first seen to draw, and every evaluation draws the same numbers
until resample() takes the next key: the sample-average approximation of E[fn].
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..frontend.random import next_key


class Sample:
    """The key (an int64 array (seed, counter), or None until fn draws) of an objective's draws;
    shared by the objective and its constraints. The array is updated in place, since the native
    dispatchers hold it."""

    __slots__ = ("key",)

    def __init__(self) -> None:
        self.key: Optional[np.ndarray] = None

    def first(self) -> None:
        """fn draws: take the stream's next key, unless this sample has one already."""
        if self.key is None:
            self.key = next_key()

    def resample(self) -> None:
        """Take the stream's next key (a new sample of fn's random numbers); before fn has drawn,
        nothing (its first draw takes the next key then)."""
        if self.key is not None:
            self.key[:] = next_key()
