"""Learning-rate schedules: callables iteration -> learning rate (iterations count from 1)."""
from __future__ import annotations

import bisect
from typing import Callable


class timeBasedDecay:
    """lr0 / (1 + decay * iteration) (the time-based decay of a custom training loop)."""

    def __init__(self, initialLearnRate: float, decay: float) -> None:
        self.initialLearnRate, self.decay = float(initialLearnRate), float(decay)

    def __call__(self, iteration: float) -> float:
        return self.initialLearnRate / (1 + self.decay * iteration)


class piecewiseSchedule:
    """Step decay: the rate is multiplied by dropFactor every dropPeriod iterations, or at each of
    the given boundaries when dropPeriod is a list (piecewise constant)."""

    def __init__(self, initialLearnRate: float, dropFactor: float = 0.1,
                 dropPeriod: int | list[int] | tuple[int, ...] = 10) -> None:
        self.initialLearnRate, self.dropFactor, self.dropPeriod = float(initialLearnRate), dropFactor, dropPeriod

    def __call__(self, iteration: int) -> float:
        if isinstance(self.dropPeriod, (list, tuple)):
            drops = bisect.bisect_right(sorted(self.dropPeriod), iteration)
        else:
            drops = iteration // self.dropPeriod
        return self.initialLearnRate * self.dropFactor ** drops


class warmupSchedule:
    """Linear warm-up from initialFactor * rate to the rate over numSteps iterations, then `after`
    (a schedule, or a constant learning rate)."""

    def __init__(self, after: float | Callable[[int], float], numSteps: int = 10,
                 initialFactor: float = 0.0) -> None:
        self.after, self.numSteps, self.initialFactor = after, int(numSteps), float(initialFactor)

    def __call__(self, iteration: int) -> float:
        rate = self.after(iteration) if callable(self.after) else float(self.after)
        if iteration >= self.numSteps:
            return rate
        fraction = iteration / self.numSteps
        return rate * (self.initialFactor + (1 - self.initialFactor) * fraction)
