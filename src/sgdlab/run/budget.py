"""A run's budget: how many steps it takes and in what units its loop counts them (epochs, pieces of epochs between
history rows, or an expectation's chunks of steps), read from ``epochs``, ``steps``, ``record_every`` and
``record_steps``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from sgdlab._helpers import validation
from sgdlab.problems.base import Problem
from sgdlab.samplers import Sampler


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long a run goes, in the units its loop counts.

    A finite sum's loop unit is an epoch, or a piece of one: when rows are recorded inside epochs (``cuts``,
    the steps of an epoch after which its pieces end) or a budget in steps ends mid-epoch. An expectation,
    which has no epochs, runs in chunks of ``chunk`` steps (its ``record_every``), the last one possibly shorter.
    """

    #: Loop units to run: epochs or pieces of them, or chunks of steps.
    units: int
    #: Steps in all.
    iterations: int
    #: Steps per loop unit of an expectation; None for a finite sum.
    chunk: int | None = None
    #: Steps per epoch of a finite sum (None for an expectation).
    epoch_steps: int | None = None
    #: The steps of an epoch after which a finite sum's units end, ascending, the last the epoch's end (): whole epochs.
    cuts: tuple[int, ...] = ()

    @classmethod
    def of_finite_sum(cls, iterations: int, epoch_steps: int, cuts: tuple[int, ...] = ()) -> Budget:
        """The budget of ``iterations`` steps of a finite sum whose epochs have ``epoch_steps`` steps, in units
        ending at ``cuts`` inside every epoch (whole epochs when empty); the last unit may end early."""
        epochs, rest = divmod(iterations, epoch_steps)
        pieces = cuts or (epoch_steps,)
        partial = 0 if rest == 0 else sum(1 for cut in pieces if cut < rest) + 1
        return cls(epochs * len(pieces) + partial, iterations, None, epoch_steps, tuple(cuts))

    def span(self, unit: int) -> tuple[int, int, int]:
        """(epoch, first step, end step) of a finite sum's loop unit ``unit`` (counted from 1), steps counted
        inside its epoch."""
        assert self.epoch_steps is not None   # a finite sum's budget
        pieces = self.cuts or (self.epoch_steps,)
        epoch, piece = divmod(unit - 1, len(pieces))
        start = pieces[piece - 1] if piece else 0
        return epoch, start, min(pieces[piece], self.iterations - epoch * self.epoch_steps)

    def steps(self, unit: int) -> tuple[int, int] | None:
        """The steps (first, end) of the epoch that loop unit ``unit`` runs, or None when it runs a whole epoch
        (or is a chunk of an expectation)."""
        if self.chunk is not None:
            return None
        _, start, stop = self.span(unit)
        return None if (start, stop) == (0, self.epoch_steps) else (start, stop)

    def epoch_of(self, unit: int) -> int:
        """The epoch (counted from 0) loop unit ``unit`` belongs to; for an expectation, its chunk."""
        return unit - 1 if self.chunk is not None else self.span(unit)[0]

    def position(self, unit: int) -> float:
        """The history's epoch after loop unit ``unit``: a whole number at an epoch's end, else the epoch plus the
        fraction of its steps done; for an expectation, the unit itself."""
        if self.chunk is not None:
            return unit
        assert self.epoch_steps is not None
        epoch, _, stop = self.span(unit)
        return epoch + 1 if stop == self.epoch_steps else epoch + stop / self.epoch_steps

    def unit_length(self, unit: int) -> int | None:
        """Steps in loop unit ``unit`` (counted from 1): None for a whole epoch; the chunk, or what is left."""
        if self.chunk is not None:
            return min(self.chunk, self.iterations - (unit - 1) * self.chunk)
        steps = self.steps(unit)
        return None if steps is None else steps[1] - steps[0]

    def unit_lengths(self) -> list[int | None]:
        """The distinct unit lengths a run needs programs for: those of the first epoch's units, and the last's."""
        first = range(1, min(self.units, len(self.cuts) or 1) + 1)
        return list(dict.fromkeys(self.unit_length(unit) for unit in (*first, self.units)))


def budget_of(problem: Problem, sampler: Sampler, epochs: Any, steps: Any, record_every: Any,
            record_steps: Any) -> tuple[Budget, int]:
    """(the budget, record_every in loop units): for a finite sum, epochs or steps, in units of whole epochs or of
    the pieces rows are recorded after (:func:`_cuts`); for an expectation, chunks of record_every steps (the
    last may be shorter)."""
    if problem.n is not None:
        epoch_steps = sampler.steps_per_epoch(problem.n)
        if steps is not None and epochs is not None:
            validation.fail("steps", "left out when epochs is given (a finite sum's budget is one or the other)",
                            validation.shown(steps))
        iterations = (validation.integer("steps", steps) if steps is not None
                      else validation.integer("epochs", 10 if epochs is None else epochs) * epoch_steps)
        every, cuts = _cuts(epoch_steps, record_every, record_steps)
        return Budget.of_finite_sum(iterations, epoch_steps, cuts), every
    if epochs is not None:
        validation.fail("epochs", "left out for an expectation, which has no epochs (give steps)",
                        validation.shown(epochs))
    if steps is None:
        validation.fail("steps", "given for an expectation (its budget is a number of steps)", "steps=None")
    steps = validation.integer("steps", steps)
    if record_steps is not None:
        record_every = _one_of_record_every(record_every, record_steps)
    chunk = min(validation.integer("record_every", record_every), steps)
    return Budget(math.ceil(steps / chunk), steps, chunk), 1


def _cuts(epoch_steps: int, record_every: Any, record_steps: Any) -> tuple[int, tuple[int, ...]]:
    """(record_every in whole epochs, the steps of an epoch after which a row is recorded) of a finite sum:
    record_every = k epochs gives (k, none); record_every = 1/m gives a row after steps ⌊jS/m⌋, j = 1 … m, of
    every epoch of S steps; record_steps = k a row after every k steps of an epoch (and at its end)."""
    if record_steps is not None:
        every = _one_of_record_every(record_every, record_steps)
        every = validation.integer("record_steps", every, high=epoch_steps,
                                   context=f"an epoch of {epoch_steps} steps")
        return 1, (*range(every, epoch_steps, every), epoch_steps) if every < epoch_steps else ()
    allowed = "a positive number: a whole number of epochs, or 1/m of one (0.5, 0.25, 0.2, 0.1, …)"
    if isinstance(record_every, bool) or not isinstance(record_every, int | float | np.integer | np.floating) \
            or not (math.isfinite(record_every) and record_every > 0):
        validation.fail("record_every", allowed, validation.shown(record_every))
    if record_every >= 1:
        if not float(record_every).is_integer():
            validation.fail("record_every", allowed, validation.shown(record_every))
        return int(record_every), ()
    pieces = round(1 / record_every)
    if abs(pieces * record_every - 1) > 1e-9:
        validation.fail("record_every", allowed, validation.shown(record_every))
    if pieces > epoch_steps:
        steps = f"{epoch_steps} step{'s' if epoch_steps > 1 else ''}"
        validation.fail("record_every", f"at least 1/{epoch_steps} of an epoch here (an epoch has {steps}: at least "
                        "one step between rows)", validation.shown(record_every))
    return 1, tuple(piece * epoch_steps // pieces for piece in range(1, pieces + 1))


def _one_of_record_every(record_every: Any, record_steps: Any) -> Any:
    """record_steps, when record_every is left at its default (the two say the same thing two ways)."""
    if not (isinstance(record_every, int | float) and record_every == 1):
        validation.fail("record_steps", "left out when record_every is given (a row every record_every epochs, or "
                        "every record_steps steps)", validation.shown(record_steps))
    return record_steps
