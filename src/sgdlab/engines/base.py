"""The interface every engine implements: an *epoch program*.

An epoch program is compiled (or otherwise made ready) for one problem, sampler, kind of step
schedule, optimizer, loop unit (an epoch, or a number of steps: a piece of an epoch or a chunk) and
placement, and for ``lanes`` runs at once (None: one run). The
run loop (:mod:`sgdlab.run.loop`) drives any program the same way:

0. ``initial_state(θ⁰)`` gives the optimizer's or method's state to start from, in the engine's layout;
1. ``prepare(record)`` compiles the program that records a history row (``record=True``) and, when
   some units skip the row, the one that does not, so compilation is timed apart from the run;
2. ``evaluate(params)`` gives the metrics of one run's θ (the history's first row);
3. ``epoch(carry, seeds, epoch, schedule, record, steps)`` advances every lane by one loop unit — an epoch
   of a finite sum or the steps (first, end) of one, a chunk of steps of an expectation — from ``carry`` = (θ,
   optimizer state, k, gradients counted, sampler state)
   and returns the new carry and the metrics at the unit's end (F, ‖∇F‖, … when ``record``, else
   only whether θ stayed finite).

Every program draws the indices of epoch e of the run with seed s from (s, e) alone
(``sampler.plan``), so the same run gives the same indices on every engine. A sampler whose plans depend on the
run (``sampler.depends_on_run``: GraB orders an epoch by the gradients of the one before) keeps what it needs in
the carry's ``sampler_state``, from ``initial_sampler_state(θ⁰, seeds)``: the program takes the epoch's plan from
it and returns it updated, the run loop passes it on and checkpoints save it, so such a run too is replayable
from its start or from any checkpoint.
"""

from __future__ import annotations

import typing
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

from sgdlab.schedules import Schedule

#: A parameter pytree θ (arrays), or a stack of them with a leading lane axis.
Params = Any
#: The seed of one run (an int), or the seeds of a program's lanes (an array with one entry a lane).
Seeds = int | np.ndarray


class Metrics(typing.NamedTuple):
    """What an epoch reports: whether θ stayed finite and, when recorded, F, ‖∇F‖, ‖θ − θ*‖, the
    constraint violation (NaN where θ* or the constraint is absent) and the problem's own
    diagnostics (a dict of numbers, e.g. a ReLU network's count of zero pre-activations).

    On the host, each field is a Python number for one run and an array with one entry a lane for
    a program of several lanes."""

    finite: Any
    loss: Any
    grad_norm: Any
    dist: Any
    violation: Any
    extras: dict
    #: The same metrics at the averaged iterate θ̄ of a run that averages (:mod:`sgdlab.methods.averaging`).
    averaged: Any = None

    def lane(self, i: int) -> Metrics:
        """The metrics of run i of a program of several lanes, as Python numbers."""
        return jax.tree.map(lambda value: value[i].item(), self)

    def host(self) -> Metrics:
        """The metrics of one run as Python numbers."""
        return jax.tree.map(lambda value: np.asarray(value).item(), self)


class Carry(typing.NamedTuple):
    """Where a program's runs stand between loop units: θ, the optimizer's (or method's) state (``()``
    without either), the iteration counter k (shared by the lanes, which advance in step), the
    per-example gradients computed so far (an int, or one a lane: SVRG's and SAGA's full passes
    count too; for an expectation, the gradients drawn) and the sampler's state, for a sampler whose
    plans depend on the run (``sampler.depends_on_run``, e.g. GraB's order; None for every other)."""

    params: Params
    opt_state: Any
    iteration: int
    gradients: Any = 0
    sampler_state: Any = None


@runtime_checkable
class EpochProgram(Protocol):
    """An engine's program for one (problem, sampler, schedule kind, optimizer, unit, lanes, placement)."""

    #: The engine's name, as ``Result.engine`` reports it: "jax", "native" or "streamed".
    engine: str
    #: None for one run; R for R runs whose θ, plans and step sizes carry a leading axis of length R.
    lanes: int | None

    @property
    def epochs_per_call(self) -> int:
        """How many whole epochs one call of ``epochs`` may run (1: the program runs one loop unit a call)."""
        ...

    def initial_state(self, params: Params) -> Any:
        """The state of the run's optimizer or method at θ⁰ (``()`` for plain SGD), in this engine's layout."""
        ...

    def initial_sampler_state(self, params: Params, seeds: Seeds) -> Any:
        """The sampler's state at the run's start (one a lane), or None when its plans come from (seed, epoch)."""
        ...

    def prepare(self, record: bool) -> float:
        """Make the program (with a history row if ``record``) ready to run; return the seconds spent."""
        ...

    def evaluate(self, params: Params) -> Metrics:
        """F, ‖∇F‖, ‖θ − θ*‖, the violation and the diagnostics at one run's θ, on the host."""
        ...

    def epoch(self, carry: Carry, seeds: Seeds, epoch: int, schedule: Schedule | None,
              record: bool, steps: tuple[int, int] | None = None) -> tuple[Carry, Metrics]:
        """Advance every lane by one loop unit (epoch ``epoch``, counted from 0, or only its ``steps`` (first,
        end) of a program made for pieces of that length) with step sizes from ``schedule`` (None when an
        optimizer sets the steps); return the new carry and the metrics at the unit's end, on the host (see
        :class:`Metrics`)."""
        ...


@runtime_checkable
class ManyEpochsProgram(EpochProgram, Protocol):
    """An epoch program that also runs several whole epochs in one call (its ``epochs_per_call`` > 1)."""

    def epochs(self, carry: Carry, seeds: Seeds, first: int, count: int, schedule: Schedule | None,
               record: bool) -> tuple[Carry, Metrics]:
        """Advance every lane by the whole epochs ``first`` … ``first + count − 1`` (2 ≤ count ≤ ``epochs_per_call``)
        in one call, to where ``count`` calls of :meth:`epoch` would leave them, without changing ``carry``; return
        the new carry and the metrics at the last epoch's end. Only a program whose update keeps a non-finite entry
        of θ non-finite offers it (a finite θ after the call then means a finite θ after every epoch in it)."""
        ...


class OneUnitACall:
    """For a program that runs one loop unit a call: it offers no ``epochs``."""

    epochs_per_call = 1


class PlansFromSeeds:
    """For a program whose samplers draw their plans from (seed, epoch) alone: no sampler state to carry."""

    def initial_sampler_state(self, params: Params, seeds: Seeds) -> None:
        """None: the plans depend on nothing the run computes."""
        return None


def lane_metrics(metrics: Metrics, lane: int, lanes: int | None) -> Metrics:
    """The metrics of run ``lane`` of a program of ``lanes`` lanes (the metrics themselves for one run)."""
    return metrics if lanes is None else metrics.lane(lane)


def lane_params(params: Params, lane: int, lanes: int | None) -> Params:
    """θ of run ``lane`` of a program of ``lanes`` lanes (θ itself for one run)."""
    return params if lanes is None else jax.tree.map(lambda leaf: leaf[lane], params)
