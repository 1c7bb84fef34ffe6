"""Samplers whose steps draw their batches afresh: with replacement, and a fresh B-subset without replacement."""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab.samplers import draws
from sgdlab.samplers.base import Minibatch
from sgdlab.samplers.registry import SAMPLERS


class Drawn(Minibatch):
    """A scheme whose epoch plan is one draw of :mod:`sgdlab.samplers.draws` from (seed, epoch), with no padding."""

    def draw(self, n: int, shape: tuple[int, int], seed: int, epoch: int) -> np.ndarray:
        raise NotImplementedError

    def draw_rows(self, n: int, shape: tuple[int, int], entropies: np.ndarray) -> np.ndarray:
        """:meth:`draw` for each (seed, epoch) row of ``entropies`` (M × 2), M × shape (a scheme drawing them in one
        compiled call overrides it)."""
        return np.stack([self.draw(n, shape, int(seed), int(epoch)) for seed, epoch in entropies])

    def plan(self, n, seed, epoch):
        shape = (self.steps_per_epoch(n), self.batch_size)
        return self.draw(n, shape, seed, epoch), np.ones(shape, dtype=bool)

    def epochs_draws(self, n, seeds, first, count):
        """Every (seed, epoch)'s draw in one call of :meth:`draw_rows`."""
        epochs = np.arange(first, first + count, dtype=np.int64)
        entropies = np.stack(np.broadcast_arrays(seeds[:, None], epochs[None, :]), axis=-1).reshape(-1, 2)
        shape = (self.steps_per_epoch(n), self.batch_size)
        indices = self.draw_rows(n, shape, entropies).reshape(len(seeds), count, *shape)
        return indices, np.ones(indices.shape, dtype=bool)


@dataclasses.dataclass(frozen=True, repr=False)
class WithReplacement(Drawn):
    """Each step draws B indices iid uniform on {0, …, N−1}; repeats count each time."""

    name = "with_replacement"
    exact_law = "fresh_draws"
    native = "plans"
    theorems = (theorem.FRESH_BATCHES, theorem.PL_SGD, theorem.NONCONVEX_SGD)

    def draw(self, n, shape, seed, epoch):
        return draws.with_replacement(n, shape, seed, epoch)

    def draw_rows(self, n, shape, entropies):
        return draws.with_replacement_rows(n, shape, entropies)


@dataclasses.dataclass(frozen=True, repr=False)
class WithoutReplacement(Drawn):
    """Each step draws a fresh uniform B-subset of {0, …, N−1}: no repeat inside a batch (O(B) a step,
    by a partial Fisher–Yates shuffle; every B-subset has probability 1/C(N, B))."""

    name = "without_replacement"
    exact_law = "fresh_draws"
    native = "plans"
    theorems = (theorem.FRESH_BATCHES, theorem.PL_SGD, theorem.NONCONVEX_SGD)

    def validate(self, n: int) -> None:
        validation.integer("batch_size", self.batch_size, high=n, context=f"{self.name} (N={n})")

    def draw(self, n, shape, seed, epoch):
        return draws.without_replacement(n, shape, seed, epoch)

    def draw_rows(self, n, shape, entropies):
        return draws.without_replacement_rows(n, shape, entropies)


@SAMPLERS.register
def with_replacement(batch_size: int = 1) -> WithReplacement:
    """SGD with B iid uniform indices per step (B = 1 is the textbook SGD); repeats are possible.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step draws.

    Returns
    -------
    WithReplacement
        The sampler; an epoch is ⌈N/B⌉ steps.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.with_replacement(2).batches(5, epoch=0, seed=0)
    [array([4, 3], dtype=int32), array([4, 0], dtype=int32), array([3, 2], dtype=int32)]
    """
    return WithReplacement(batch_size)


@SAMPLERS.register
def without_replacement(batch_size: int = 1) -> WithoutReplacement:
    """Minibatch SGD with a fresh uniform B-subset per step (no repeats within a step, any across steps).

    Parameters
    ----------
    batch_size : int, default 1
        B, the size of each step's subset (at most N).

    Returns
    -------
    WithoutReplacement
        The sampler; an epoch is ⌈N/B⌉ steps.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.without_replacement(2).batches(5, epoch=0, seed=0)
    [array([4, 2], dtype=int32), array([4, 0], dtype=int32), array([3, 2], dtype=int32)]
    """
    return WithoutReplacement(batch_size)
