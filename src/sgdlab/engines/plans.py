"""The plans of the epoch an engine runs, drawn once however many loop units the epoch is cut into."""

from __future__ import annotations

import numpy as np

from sgdlab.samplers import Sampler


class EpochPlans:
    """``sampler.stacked_plans(n, seeds, epoch)``, with the last epoch's kept: a run recording rows inside its
    epochs runs each epoch in pieces, and every piece takes its steps from the same plans."""

    def __init__(self, sampler: Sampler, n: int):
        self.sampler, self.n = sampler, n
        self._last: tuple[tuple[bytes, int], tuple[np.ndarray, np.ndarray]] | None = None

    def __call__(self, seeds: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, masks) of epoch ``epoch`` of the runs with ``seeds`` (R × S × B each)."""
        key, last = (np.asarray(seeds).tobytes(), epoch), self._last
        if last is None or last[0] != key:
            last = self._last = key, self.sampler.stacked_plans(self.n, seeds, epoch)
        return last[1]


def plan_steps(plan: tuple, steps: tuple[int, int] | None) -> tuple:
    """The parts of lanes' plans (each R × S × …) restricted to their ``steps`` (first, end), contiguous; all of
    them when ``steps`` is None."""
    if steps is None:
        return plan
    first, end = steps
    return tuple(np.ascontiguousarray(part[:, first:end]) for part in plan)
