"""sgdlab's sampling schemes inside a PyTorch training loop (the optional extra ``sgdlab[torch]``).

:class:`BatchSampler` hands a ``torch.utils.data.DataLoader`` the index batches of any sgdlab sampler, epoch after
epoch, exactly as ``sl.minimize`` runs them (``sampler.batches(n, epoch, seed)``)::

    loader = DataLoader(dataset, batch_sampler=sl.torch.BatchSampler(sl.shuffled_cyclic(64), n=len(dataset)))
    for epoch in range(epochs):
        for x, y in loader:        # each pass over the loader is the next epoch's plan: no set_epoch
            ...

What it adds to PyTorch's own samplers:

- **Every scheme**: minibatches without replacement, shuffle once, shuffled chunks, flip-flop, importance sampling
  (its unbiased weights 1/(N pᵢ) in :attr:`BatchSampler.example_weights`), the partial last batch or ``drop_last``.
- **No set_epoch**: epoch e's plan is a pure function of (seed, e), and the sampler moves to the next epoch
  itself when one ends, so no two epochs repeat an order by mistake.
- **Resumption mid-epoch**: ``state_dict()`` holds (seed, epoch, position); a sampler (and a loader) rebuilt and
  given it with ``load_state_dict`` continues with the next batch, bit for bit.
- **Distributed** (``rank``, ``world_size``; by default from ``torch.distributed`` when it is initialised): every
  rank draws the same plan from the shared seed and takes its share of every batch, split as ``sl.distributed``
  splits a batch over devices — the batch padded to a multiple of D = world_size and cut into D consecutive
  pieces, rank r holding the real entries of piece r. The shares of a batch are disjoint and together are the
  single-process batch. When D does not divide a batch, the shares differ in size (one may be empty): to step on
  the batch mean as one process would, sum a share's per-example losses and scale by D/|batch| before DDP's mean.

:class:`Sampler` gives the same stream one index at a time, for loaders built with ``sampler=`` and a
``batch_size``.

The position counts what the sampler has handed out. A loader with ``num_workers > 0`` asks for batches ahead of
the loop (``prefetch_factor`` per worker): save ``state_dict()`` with the position your loop has consumed, e.g.
``{**sampler.state_dict(), "epoch": e, "position": k}``, or use ``num_workers=0`` when resuming exactly matters.
"""

from __future__ import annotations

import collections.abc
from typing import Any

import numpy as np

from sgdlab._helpers import validation
from sgdlab.samplers.base import Sampler as _Scheme

try:
    import torch
    import torch.distributed
    import torch.utils.data
except ImportError as error:   # pragma: no cover - the message is the point
    raise ImportError("sgdlab.torch needs PyTorch: pip install 'sgdlab[torch]' (or torch itself)") from error

__all__ = ["BatchSampler", "Sampler"]

#: The keys of a saved state, in order.
STATE_KEYS = ("scheme", "n", "rank", "world_size", "seed", "epoch", "position")


class _PlanStream:
    """The epochs of an sgdlab sampler's plans as a stream of units (batches, or single indices), with a cursor
    (epoch, position) that moves as units are handed out."""

    def __init__(self, sampler: _Scheme, n: int, seed: int = 0, epochs: int | None = None,
                 rank: int | None = None, world_size: int | None = None):
        self.scheme = _checked_scheme(sampler)
        self.n = validation.integer("n", n)
        self.scheme.validate(self.n)
        self.scheme.example_scales(self.n)   # importance sampling's weights must be known here
        self.seed = validation.integer("seed", seed, low=0)
        self.epochs = None if epochs is None else validation.integer("epochs", epochs)
        self.rank, self.world_size = _placement(rank, world_size)
        self.epoch, self.position = 0, 0
        self._cached: tuple[int, list[np.ndarray]] | None = None
        width = getattr(self.scheme, "batch_size", self.n)   # a plan's batch width (N for gradient descent)
        if width < self.world_size:
            validation.fail("world_size", f"at most the batch size {width} (each rank needs a share of every batch)",
                            f"{self.world_size}")

    def shares(self, epoch: int) -> list[np.ndarray]:
        """This rank's share of each batch of epoch ``epoch``'s plan (int64 index arrays, one a step)."""
        if self._cached is None or self._cached[0] != epoch:
            indices, mask = self.scheme.plan(self.n, self.seed, epoch)
            width = -(-indices.shape[1] // self.world_size)   # the padded batch cut into world_size pieces
            piece = slice(self.rank * width, (self.rank + 1) * width)
            self._cached = (epoch, [row[piece][keep[piece] != 0].astype(np.int64)
                                    for row, keep in zip(indices, mask, strict=True)])
        return self._cached[1]

    def units(self, epoch: int) -> collections.abc.Sequence | np.ndarray:
        """What one epoch hands out, in order."""
        raise NotImplementedError

    def handed(self, unit):
        """A unit as the loader receives it."""
        raise NotImplementedError

    def __iter__(self):
        """From the cursor to the end of its epoch (``epochs=None``), or to the end of epoch ``epochs`` − 1."""
        last = self.epoch if self.epochs is None else self.epochs - 1
        while self.epoch <= last:
            units = self.units(self.epoch)
            if self.position >= len(units):   # an epoch with nothing for this rank
                self.epoch, self.position = self.epoch + 1, 0
                continue
            unit = units[self.position]
            self.position += 1
            if self.position == len(units):
                self.epoch, self.position = self.epoch + 1, 0
            yield self.handed(unit)

    def __len__(self) -> int:
        """How many units one full pass yields: one epoch's (``epochs=None``) or all ``epochs`` epochs'."""
        return len(self.units(self.epoch)) * (1 if self.epochs is None else self.epochs)

    @property
    def example_weights(self) -> torch.Tensor | None:
        """For an importance sampler, the weight 1/(N pᵢ) of example i in a step, as a float64 tensor of N: the
        unbiased batch loss is ``(example_weights[idx] * per_example_loss).mean()``. None for the uniform schemes
        (every weight 1)."""
        scales = self.scheme.example_scales(self.n)
        return None if scales is None else torch.from_numpy(np.array(scales))

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands: the next unit is number ``position`` of epoch ``epoch`` (with the scheme, N and
        the rank it was saved from, checked when loaded)."""
        return dict(zip(STATE_KEYS, (repr(self.scheme), self.n, self.rank, self.world_size, self.seed, self.epoch,
                                     self.position), strict=True))

    def load_state_dict(self, state: collections.abc.Mapping[str, Any]) -> None:
        """Continue from a saved :meth:`state_dict`; it must come from the same scheme, N and rank."""
        if not isinstance(state, collections.abc.Mapping) or set(state) != set(STATE_KEYS):
            validation.fail("state", f"a mapping with the keys {', '.join(STATE_KEYS)} (a state_dict())",
                            validation.shown(state))
        mine = self.state_dict()
        for key in ("scheme", "n", "rank", "world_size"):   # the stream it was saved from
            if state[key] != mine[key]:
                validation.fail("state", f"a state saved from {key} = {mine[key]!r}", f"{key} = {state[key]!r}")
        epoch = validation.integer("epoch", state["epoch"], low=0, context="state")
        position = validation.integer("position", state["position"], low=0, context="state")
        if position >= max(len(self.units(epoch)), 1):
            validation.fail("position", f"below the {len(self.units(epoch))} units of epoch {epoch}", f"{position}",
                            context="state")
        self.seed = validation.integer("seed", state["seed"], low=0, context="state")
        self._cached = None
        self.epoch, self.position = epoch, position


class BatchSampler(_PlanStream, torch.utils.data.Sampler[list[int]]):
    """The index batches of an sgdlab sampler, for ``DataLoader(dataset, batch_sampler=...)``.

    Parameters
    ----------
    sampler : sgdlab sampler
        Any scheme over N examples (``sl.shuffled_cyclic(64)``, ``sl.without_replacement(32)``, …); importance
        sampling with ``weights="lipschitz"`` needs its problem first: ``sl.importance(1).for_problem(problem)``.
    n : int
        N, the number of examples (``len(dataset)``).
    seed : int
        The run's seed: the same seed gives the batches ``sl.minimize(problem, sampler, step, seed=seed)`` uses.
    epochs : int, optional
        None (default): each pass over the sampler is one epoch, the next one each time. An integer E: one pass
        runs through the end of epoch E − 1 (for loops that count steps, not epochs).
    rank, world_size : int, optional
        This process's share of every batch (see the module's notes); by default from ``torch.distributed`` when it
        is initialised, else 0 and 1.

    Examples
    --------
    >>> import sgdlab as sl
    >>> batches = sl.torch.BatchSampler(sl.cyclic(4), n=10)
    >>> [list(b) for b in batches]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    >>> batches.state_dict()["epoch"], len(batches)
    (1, 3)
    """

    def units(self, epoch: int) -> list[np.ndarray]:
        return self.shares(epoch)

    def handed(self, unit: np.ndarray) -> list[int]:
        return unit.tolist()


class Sampler(_PlanStream, torch.utils.data.Sampler[int]):
    """The same stream one index at a time (the batches of :class:`BatchSampler` one after another), for
    ``DataLoader(dataset, sampler=..., batch_size=B)``; the position counts indices. With a sampler of batch size
    1 (or a permutation scheme and the loader's ``batch_size`` dividing N) the loader's batches are sgdlab's.

    Examples
    --------
    >>> import sgdlab as sl
    >>> list(sl.torch.Sampler(sl.flip_flop(2), n=4, seed=3, epochs=2))
    [1, 0, 3, 2, 2, 3, 0, 1]
    """

    def units(self, epoch: int) -> np.ndarray:
        shares = self.shares(epoch)
        return np.concatenate(shares) if shares else np.zeros(0, dtype=np.int64)

    def handed(self, unit: np.int64) -> int:
        return int(unit)


def _checked_scheme(sampler) -> _Scheme:
    """The sampler, when its plans can be drawn ahead of a run from (seed, epoch) over N examples."""
    if not isinstance(sampler, _Scheme):
        validation.fail("sampler", "an sgdlab sampler (sl.shuffled_cyclic(64), sl.with_replacement(1), …)",
                        validation.shown(sampler), error=TypeError)
    if sampler.depends_on_run:
        validation.fail("sampler", "a scheme whose plans depend on (seed, epoch) alone (the order of "
                        f"{sampler.name} is made from the run's gradients)", repr(sampler))
    if not sampler.serves_finite_sums:
        validation.fail("sampler", "a scheme over N examples (iid draws ω for an expectation: no indices)",
                        repr(sampler))
    return sampler


def _placement(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world_size): the ones given, else torch.distributed's when initialised, else (0, 1)."""
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    if world_size is None:
        world_size = torch.distributed.get_world_size() if initialised else 1
    if rank is None:
        rank = torch.distributed.get_rank() if initialised else 0
    world_size = validation.integer("world_size", world_size)
    rank = validation.integer("rank", rank, low=0)
    if rank >= world_size:
        validation.fail("rank", f"below world_size = {world_size}", f"{rank}")
    return rank, world_size
