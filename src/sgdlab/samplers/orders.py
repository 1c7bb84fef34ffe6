"""Samplers that cut an ordering of {0, …, N−1} into consecutive blocks of B: cyclic, shuffled cyclic (random
reshuffling), shuffle once, flip-flop, shuffled chunks, and the base of orders a run computes (GraB)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab.samplers import draws
from sgdlab.samplers.base import Minibatch, stacked
from sgdlab.samplers.registry import SAMPLERS


@dataclasses.dataclass(frozen=True, repr=False)
class Blocks(Minibatch):
    """Schemes that cut an ordering of {0, …, N−1} into consecutive blocks of B."""

    drop_last: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.drop_last, bool):
            validation.fail("drop_last", "True or False", validation.shown(self.drop_last), error=TypeError,
                            context=self.name)

    def steps_per_epoch(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def validate(self, n: int) -> None:
        if self.drop_last:
            validation.integer("batch_size", self.batch_size, high=n,
                               context=f"{self.name} with drop_last=True (N={n})")

    def order(self, n: int, seed: int, epoch: int) -> np.ndarray:
        """The epoch's ordering of {0, …, N−1} (int32)."""
        raise NotImplementedError

    def plan(self, n, seed, epoch):
        """The ordering cut into the steps' blocks of B (:meth:`blocks`)."""
        return self.blocks(n, self.order(n, seed, epoch))

    def blocks(self, n: int, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An ordering of {0, …, N−1} (or several: … × N) cut into the steps' blocks of B (… × S × B); the last
        block is padded with index 0 and masked out where N mod B leaves it short, or dropped with drop_last."""
        steps, b = self.steps_per_epoch(n), self.batch_size
        if steps * b > n:
            padding = np.zeros((*order.shape[:-1], steps * b - n), dtype=np.int32)
            order = np.concatenate([order, padding], axis=-1)
        mask = np.ones(steps * b, dtype=bool)
        mask[n:] = False
        indices = order[..., : steps * b].reshape(*order.shape[:-1], steps, b)
        return indices, np.broadcast_to(mask.reshape(steps, b), indices.shape).copy()

    def epochs_draws(self, n, seeds, first, count):
        """The orders of the epochs ``first`` … of the runs ``seeds`` (:meth:`orders`), cut into blocks."""
        return self.blocks(n, self.orders(n, seeds, first, count))

    def orders(self, n: int, seeds: np.ndarray, first: int, count: int) -> np.ndarray:
        """The orderings of epochs ``first`` … ``first + count − 1`` of the runs ``seeds`` (R × count × N, int32):
        epoch by epoch, unless the scheme draws them in one call."""
        return np.array([[self.order(n, int(seed), epoch) for epoch in range(first, first + count)]
                         for seed in seeds], dtype=np.int32).reshape(len(seeds), count, n)


class RunOrdered(Blocks):
    """Blocks of an order the run computes as it goes (GraB's, :mod:`sgdlab.samplers.grab`): its plans depend on the
    run's state, not on (seed, epoch) alone. The engines carry the state (a NamedTuple whose ``order`` is the epoch's
    order) beside θ, cut each epoch's plan from its order (:meth:`plans_of`), show every step its per-example
    gradients (:meth:`observe`, a pure JAX function) and close the epoch (:meth:`after_steps`)."""

    depends_on_run = True

    def initial_state(self, n: int, seed: int, params):
        """The state at the run's start, for N examples and parameters shaped like ``params``."""
        raise NotImplementedError

    def observe(self, state, gradients, indices, mask):
        """The state after a step whose batch (``indices``, ``mask``) has the per-example gradients ``gradients``
        (a leading axis of B) at the step's θ."""
        raise NotImplementedError

    def after_steps(self, state, iteration, n: int):
        """The state after the steps up to ``iteration``: the next epoch's at an epoch's end, else as it is."""
        raise NotImplementedError

    def plans_of(self, n: int, orders) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's plans of runs from the orders their states hold (R × N, one a lane, or one order): each cut
        into blocks of B, the last one padded and masked; indices and mask R × S × B."""
        return stacked([self.blocks(n, order) for order in np.asarray(orders, dtype=np.int32).reshape(-1, n)])


@dataclasses.dataclass(frozen=True, repr=False)
class Cyclic(Blocks):
    """Blocks of 0, 1, …, N−1 in order, the same every epoch (deterministic)."""

    name = "cyclic"
    exact_law = "cyclic"
    native = "plans"
    theorems = (theorem.SHUFFLED_ORDERS,)

    def order(self, n, seed, epoch):
        return np.arange(n, dtype=np.int32)

    def orders(self, n, seeds, first, count):
        return np.broadcast_to(np.arange(n, dtype=np.int32), (len(seeds), count, n))


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffledCyclic(Blocks):
    """Blocks of a fresh uniform permutation each epoch (random reshuffling; deep learning's default)."""

    name = "shuffled_cyclic"
    exact_law = "reshuffled"
    native = "plans"
    theorems = (theorem.SHUFFLED_ORDERS,)

    def order(self, n, seed, epoch):
        return draws.permutation(n, seed, epoch)

    def orders(self, n, seeds, first, count):
        """permutation(N | seed, epoch) for every (seed, epoch), in one call."""
        epochs = np.arange(first, first + count, dtype=np.int64)
        entropies = np.stack(np.broadcast_arrays(seeds[:, None], epochs[None, :]), axis=-1).reshape(-1, 2)
        return draws.permutations(n, entropies).reshape(len(seeds), count, n)


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffleOnce(Blocks):
    """Blocks of one uniform permutation, drawn from the seed alone and reused every epoch."""

    name = "shuffle_once"
    exact_law = "shuffled_once"
    native = "plans"
    theorems = (theorem.SHUFFLED_ORDERS,)

    def order(self, n, seed, epoch):
        return draws.permutation(n, seed)

    def orders(self, n, seeds, first, count):
        """The seed's one permutation, every epoch."""
        once = draws.permutations(n, seeds[:, None])
        return np.broadcast_to(once[:, None], (len(seeds), count, n))


@dataclasses.dataclass(frozen=True, repr=False)
class FlipFlop(Blocks):
    """Blocks of a fresh uniform permutation on even epochs, and of the same permutation reversed on the odd epoch
    after it (Rajput, Lee and Papailiopoulos 2022): epoch 2j + 1 visits the examples of epoch 2j backwards."""

    name = "flip_flop"
    native = "plans"
    theorems = ()

    def order(self, n, seed, epoch):
        """permutation(N | seed, 2⌊e/2⌋), reversed when e is odd."""
        order = draws.permutation(n, seed, epoch - epoch % 2)
        return order[::-1].copy() if epoch % 2 else order


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffledChunks(Blocks):
    """Blocks of an order that takes the chunks {0, …, C−1}, {C, …, 2C−1}, … (the last one shorter) in a
    uniform random order and the rows of each chunk in a uniform random order, fresh each epoch."""

    name = "shuffled_chunks"
    native = "plans"
    theorems = ()
    chunk: int = 65_536

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "chunk", validation.integer("chunk", self.chunk, context=self.name))

    def order(self, n, seed, epoch):
        """Chunk j of the epoch is chunk π(j) for π = permutation(⌈N/C⌉ | seed, epoch, 0); its rows come in
        the order of permutation(its size | seed, epoch, π(j) + 1)."""
        chunks = draws.permutation(math.ceil(n / self.chunk), seed, epoch, 0).tolist()
        rows = [start + draws.permutation(min(self.chunk, n - start), seed, epoch, chunk + 1)
                for chunk, start in ((chunk, chunk * self.chunk) for chunk in chunks)]
        return np.concatenate(rows).astype(np.int32, copy=False)


@SAMPLERS.register
def cyclic(batch_size: int = 1, drop_last: bool = False) -> Cyclic:
    """Incremental gradient: consecutive blocks of 0, …, N−1, in order, every epoch.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    Cyclic
        The sampler; an epoch is ⌈N/B⌉ steps (⌊N/B⌋ with ``drop_last``).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.cyclic(2).batches(5)
    [array([0, 1], dtype=int32), array([2, 3], dtype=int32), array([4], dtype=int32)]
    >>> sl.cyclic(2, drop_last=True).batches(5)
    [array([0, 1], dtype=int32), array([2, 3], dtype=int32)]
    """
    return Cyclic(batch_size, drop_last)


@SAMPLERS.register
def shuffled_cyclic(batch_size: int = 1, drop_last: bool = False) -> ShuffledCyclic:
    """Random reshuffling: a new permutation each epoch, cut into blocks of B.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    ShuffledCyclic
        The sampler; every example is used once an epoch.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> plan = sl.shuffled_cyclic(2).batches(5, epoch=0, seed=0)
    >>> plan
    [array([1, 0], dtype=int32), array([3, 2], dtype=int32), array([4], dtype=int32)]
    >>> sorted(np.concatenate(plan).tolist())
    [0, 1, 2, 3, 4]
    """
    return ShuffledCyclic(batch_size, drop_last)


@SAMPLERS.register
def shuffle_once(batch_size: int = 1, drop_last: bool = False) -> ShuffleOnce:
    """One permutation for the whole run, drawn from the seed alone, cut into blocks of B.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N.

    Returns
    -------
    ShuffleOnce
        The sampler; every epoch repeats the same order.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sampler = sl.shuffle_once(2)
    >>> sampler.batches(5, epoch=0, seed=0)
    [array([1, 0], dtype=int32), array([3, 4], dtype=int32), array([2], dtype=int32)]
    >>> sampler.batches(5, epoch=3, seed=0)
    [array([1, 0], dtype=int32), array([3, 4], dtype=int32), array([2], dtype=int32)]
    """
    return ShuffleOnce(batch_size, drop_last)


@SAMPLERS.register
def flip_flop(batch_size: int = 1, drop_last: bool = False) -> FlipFlop:
    """Random reshuffling with every other epoch reversed: a new permutation on epochs 0, 2, 4, …, and on each odd
    epoch the permutation of the epoch before, backwards, cut into blocks of B.

    On a quadratic, the reversed epoch cancels the first-order drift that a random order leaves (Rajput, Lee and
    Papailiopoulos 2022, "Permutation-based SGD: is random optimal?"), so at a constant step its error after an
    even number of epochs is no larger than random reshuffling's. When B divides N the odd epoch runs the even
    epoch's batches in reverse order; otherwise the blocks are cut from the reversed order of the examples.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    FlipFlop
        The sampler; every example is used once an epoch.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sampler = sl.flip_flop(2)
    >>> sampler.batches(6, epoch=0, seed=0)
    [array([2, 1], dtype=int32), array([0, 4], dtype=int32), array([3, 5], dtype=int32)]
    >>> sampler.batches(6, epoch=1, seed=0)   # epoch 0 backwards
    [array([5, 3], dtype=int32), array([4, 0], dtype=int32), array([1, 2], dtype=int32)]
    >>> sampler.batches(6, epoch=2, seed=0)   # a new permutation
    [array([3, 4], dtype=int32), array([0, 2], dtype=int32), array([5, 1], dtype=int32)]
    """
    return FlipFlop(batch_size, drop_last)


@SAMPLERS.register
def shuffled_chunks(batch_size: int = 1, chunk: int = 65_536, drop_last: bool = False) -> ShuffledChunks:
    """Chunks of ``chunk`` consecutive rows in a new random order each epoch, each chunk shuffled, cut into
    blocks of B: for data read from disk (each block of steps reads few chunks).

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    chunk : int, default 65,536
        C, the consecutive rows read together (about a Parquet row group).
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N.

    Returns
    -------
    ShuffledChunks
        The sampler (random reshuffling when C ≥ N).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.shuffled_chunks(2, chunk=2).batches(6, epoch=0, seed=1)
    [array([0, 1], dtype=int32), array([3, 2], dtype=int32), array([4, 5], dtype=int32)]
    """
    return ShuffledChunks(batch_size, drop_last, chunk)
