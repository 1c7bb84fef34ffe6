"""Which indices each step uses: one small class per sampling scheme.

A sampler turns (N, seed, epoch) into the epoch's *plan*: S index batches, where an epoch is N
per-example gradients — one full-batch step, or ⌈N/B⌉ steps of batch size B. Step k of the epoch
uses the stochastic gradient gᵏ = (1/|Iₖ|) Σ_{i ∈ Iₖ} ∇fᵢ(θᵏ) (importance sampling: each term weighted by
1/(N pᵢ), the weights standing in the plan's mask, see ``masked_loss``).

| scheme | Iₖ | per-epoch steps |
| --- | --- | --- |
| ``full_batch()`` | {0, …, N−1} (gradient descent) | 1 |
| ``with_replacement(B)`` | B iid uniform draws (repeats possible) | ⌈N/B⌉ |
| ``without_replacement(B)`` | a fresh uniform B-subset every step | ⌈N/B⌉ |
| ``importance(B, weights)`` | B iid draws with pᵢ ∝ wᵢ (default Lᵢ), each weighted 1/(N pᵢ) | ⌈N/B⌉ |
| ``importance_shuffled(B, weights)`` | blocks of a shuffled epoch holding i ≈ N pᵢ times, weighted 1/(N pᵢ) | ⌈N/B⌉ |
| ``cyclic(B)`` | consecutive blocks of 0, 1, …, N−1 | ⌈N/B⌉ |
| ``shuffled_cyclic(B)`` | blocks of a new random permutation each epoch | ⌈N/B⌉ |
| ``shuffle_once(B)`` | blocks of one permutation drawn once, reused every epoch | ⌈N/B⌉ |
| ``flip_flop(B)`` | blocks of a new permutation on even epochs, of its reverse on the next | ⌈N/B⌉ |
| ``shuffled_chunks(B, C)`` | blocks of chunks of C consecutive rows in random order, shuffled within | ⌈N/B⌉ |
| ``iid(B)`` | for an expectation: B fresh draws of ω (no data, no epoch) | — |

Shuffled chunks is shuffling as data read from disk affords it (as streaming loaders do): the rows
a block of steps needs lie in few chunks, read whole, instead of all over the file. Each example is
still used once per epoch, but it is not random reshuffling: rows of one chunk meet in the same and
neighbouring batches (with C ≥ N it is random reshuffling; with C = 1, a random order of the rows).

When B does not divide N, the last block of the four cyclic schemes holds the N mod B examples
left and is averaged over its own size (``drop_last=True`` drops it, giving ⌊N/B⌋ steps).

Randomness is explicit: the random indices of epoch e of a run with seed s are a pure function of
(s, e) (of s alone for shuffle once), drawn by :mod:`sgdlab.samplers.draws` (SplitMix64, exactly uniform
integers, compiled by Numba: a few ns an index), so any epoch's plan can be recomputed alone. ``plan`` gives
the epoch's plan as NumPy arrays, which both engines run from; ``batches`` shows it as a list of
index arrays.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab.samplers.registry import SAMPLERS


def stacked(plans: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Plans (indices, mask), one a run, stacked along a leading axis (a view with an axis of one for one run: no
    copy of a long plan)."""
    if len(plans) == 1:
        return plans[0][0][None], plans[0][1][None]
    return np.stack([plan[0] for plan in plans]), np.stack([plan[1] for plan in plans])


@dataclasses.dataclass(frozen=True)
class Sampler:
    """Base of all samplers. A plan is (indices, mask), both of shape (steps, padded batch size).

    What a sampler supports is declared in its own class body and read for that class alone
    (:func:`sgdlab._helpers.declared.declared`): ``native = "plans"`` when the native loop needs nothing but its
    plans, ``theorems = (...)`` the theorems of :mod:`sgdlab._helpers.theorem` that apply to it. A subclass that
    declares neither runs on the JAX engine and gets "no theorem known", never its parent's."""

    name = "sampler"

    def steps_per_epoch(self, n: int) -> int:
        """How many steps make one epoch of N per-example gradients."""
        raise NotImplementedError

    def plan(self, n: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's indices (int32) and mask (True on real entries), both S × B NumPy arrays."""
        raise NotImplementedError

    def validate(self, n: int) -> None:
        """Raise a ValueError when this sampler cannot serve a problem with N = n terms."""

    #: Whether the plan's mask holds each entry's weight in the step (importance sampling), not True/False.
    weighted = False
    #: Whether the plans depend on the run's state, not on (seed, epoch) alone (GraB: :mod:`sgdlab.samplers.grab`).
    depends_on_run = False

    def for_problem(self, problem) -> Sampler:
        """This sampler as it runs on ``problem``: itself, or (a sampler that needs the problem's numbers, such as
        importance sampling's per-example constants) a copy holding them."""
        return self

    def example_scales(self, n: int) -> np.ndarray | None:
        """The weight each example's entry carries in a step's mean, N numbers (1/(N pᵢ) for importance sampling,
        the plan's mask on that example's entries); None when every entry weighs 1."""
        return None

    def stacked_plans(self, n: int, seeds, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The plans of several runs in one epoch, one per seed, stacked: indices and mask R × S × B."""
        return stacked([self.plan(n, int(seed), epoch) for seed in seeds])

    def epochs_plans(self, n: int, seeds, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The plans of epochs ``first`` … ``first + count − 1`` of several runs, one a seed, each run's epochs one
        after the other along the step axis: indices and mask R × (count · S) × B. A scheme that draws many epochs
        in one call says so by overriding :meth:`epochs_draws`; the plans are the same either way."""
        indices, masks = self.epochs_draws(n, np.asarray(seeds, dtype=np.int64), first, count)
        runs, steps = len(indices), count * self.steps_per_epoch(n)
        return (np.ascontiguousarray(indices.reshape(runs, steps, -1)),
                np.ascontiguousarray(masks.reshape(runs, steps, -1)))

    def epochs_draws(self, n: int, seeds: np.ndarray, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, mask) of the epochs ``first`` … of the runs ``seeds``, R × count × S × B: epoch by epoch."""
        plans = [self.stacked_plans(n, seeds, epoch) for epoch in range(first, first + count)]
        return tuple(np.stack([plan[part] for plan in plans], axis=1) for part in (0, 1))   # type: ignore[return-value]

    def batches(self, n: int, epoch: int = 0, seed: int = 0) -> list[np.ndarray]:
        """The plan of one epoch as a list of index arrays, one per step (inspectable, replayable)."""
        n = validation.integer("n", n)
        epoch = validation.integer("epoch", epoch, low=0)
        seed = validation.integer("seed", seed, low=0)
        self.validate(n)
        indices, mask = self.plan(n, seed, epoch)
        return [row[keep != 0] for row, keep in zip(indices, mask, strict=True)]

    @property
    def is_full_batch(self) -> bool:
        """True for gradient descent, whose every step uses all N terms."""
        return False

    #: Whether it samples the terms of a finite sum (an expectation's sampler draws ω instead).
    serves_finite_sums = True

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.name}({fields})"


@dataclasses.dataclass(frozen=True, repr=False)
class FullBatch(Sampler):
    """Gradient descent: every step uses all N terms, so one step is one epoch."""

    name = "full_batch"
    exact_law = "full_batch"
    native = "plans"
    theorems = (theorem.GRADIENT_DESCENT, theorem.PL_GRADIENT_DESCENT)

    def steps_per_epoch(self, n: int) -> int:
        return 1

    def plan(self, n, seed, epoch):
        return np.arange(n, dtype=np.int32)[None, :], np.ones((1, n), dtype=bool)

    @property
    def is_full_batch(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True, repr=False)
class Minibatch(Sampler):
    """A sampler with a batch size B ≥ 1 and ⌈N/B⌉ steps per epoch."""

    batch_size: int = 1

    def __post_init__(self):
        object.__setattr__(self, "batch_size", validation.integer("batch_size", self.batch_size, context=self.name))

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil(n / self.batch_size)


@dataclasses.dataclass(frozen=True, repr=False)
class IID(Minibatch):
    """For an expectation: B fresh, independent draws of ω at every step (no index plan)."""

    name = "iid"
    serves_finite_sums = False
    theorems = ()

    def validate(self, n) -> None:
        if n is not None:
            validation.fail("sampler", "a finite-sum sampler such as with_replacement(B) for a problem with N terms",
                            f"iid(batch_size={self.batch_size})")


@SAMPLERS.register
def full_batch() -> FullBatch:
    """Gradient descent: gᵏ = ∇F(θᵏ), one step per epoch.

    Returns
    -------
    FullBatch
        The sampler whose one batch an epoch is all N indices.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.full_batch().batches(4)
    [array([0, 1, 2, 3], dtype=int32)]
    """
    return FullBatch()


@SAMPLERS.register
def iid(batch_size: int = 1) -> IID:
    """For an expectation E_ω[f]: B fresh iid draws of ω per step.

    Parameters
    ----------
    batch_size : int, default 1
        B, the draws of ω a step averages.

    Returns
    -------
    IID
        The sampler of an :func:`~sgdlab.expectation` (which has no epochs: give ``steps=``).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.iid(8)
    iid(batch_size=8)
    """
    return IID(batch_size)
