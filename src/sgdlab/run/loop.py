"""The one run loop: ``minimize``, ``maximize`` and ``compare`` all advance their runs here.

A program of the chosen engine (:mod:`sgdlab.engines.select`) runs one loop unit at a time — an
epoch of a finite sum, a chunk of steps of an expectation — for one run or for R *lanes* (runs that
differ only in seed or step size, stacked along a leading axis and run together). After each unit
every run's :class:`~sgdlab.run.history.RunLog` applies the stopping rules and records its row; the
loop stops when the budget is spent or every run has stopped. A single run may also save a
checkpoint and record the gradient-noise scale after a unit.
"""

from __future__ import annotations

import functools
import time
import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from sgdlab._helpers import pytrees
from sgdlab.engines import compiled, select
from sgdlab.engines.base import Carry, EpochProgram, ManyEpochsProgram, Seeds, lane_metrics, lane_params
from sgdlab.engines.processes import peer_loss_named
from sgdlab.run import checkpoint
from sgdlab.run.history import RunLog
from sgdlab.run.identity import run_identity
from sgdlab.run.options import RunOptions, uses_thinned_units
from sgdlab.run.result import Result
from sgdlab.schedules import Schedule

#: Called after each loop unit with (unit, carry, elapsed seconds).
AfterUnit = Callable[[int, Carry, float], None]


class Programs:
    """The epoch programs a run (or a group of lanes) needs: one per distinct loop-unit length (an
    expectation's last chunk may be shorter), each prepared with and, when some units skip the
    history row, without it. ``seconds`` is the time spent building and compiling them."""

    def __init__(self, options: RunOptions, params: Any, schedule: Schedule | None, lanes: int | None = None):
        started = time.perf_counter()
        self.budget = options.budget
        self.by_length: dict[int | None, EpochProgram] = {
            length: select.program(options.engine, options.problem, options.sampler, params, schedule,
                                   options.reference, lanes=lanes, rule=options.update_rule,
                                   chunk=length, placement=options.placement)
            for length in options.budget.unit_lengths()}
        for program in self.by_length.values():
            for record in (True, False) if uses_thinned_units(options) else (True,):
                program.prepare(record)
        self.seconds = time.perf_counter() - started

    @property
    def first(self) -> EpochProgram:
        """The program of the first loop unit (it evaluates the start)."""
        return self.by_length[self.budget.unit_length(1)]

    def for_unit(self, unit: int) -> EpochProgram:
        """The program that runs loop unit ``unit`` (counted from 1)."""
        return self.by_length[self.budget.unit_length(unit)]


def advance(programs: Programs, logs: list[RunLog], carry: Carry, seeds: Seeds, schedule: Schedule | None, *,
            unit: int = 0, elapsed: float = 0.0, after_unit: AfterUnit | None = None,
            pause_every: int | None = None) -> Carry:
    """Run loop units ``unit`` + 1, … of every lane until the budget is spent or every run has stopped.

    ``logs`` holds one log a lane (the runs share their options but for seed and step); each run's
    time is its share of the program's wall time (the seconds divided by the lanes). Whole epochs that need nothing
    of the host between them (:func:`stretch`) run in one call of the program (``program.epochs``); every
    ``pause_every``-th unit ends such a call (a checkpoint's). A run whose θ left the finite numbers inside a call
    has those epochs run again one at a time, so it stops at the epoch where it did, as it would have unfused.
    """
    budget = logs[0].options.budget
    replay_until = 0
    while unit < budget.units and not all(log.done for log in logs):
        program = programs.for_unit(unit + 1)
        count = 1 if unit < replay_until else stretch(program, logs, unit, pause_every)
        tic = time.perf_counter()
        if count > 1:
            many = typing.cast(ManyEpochsProgram, program)
            advanced, metrics = many.epochs(carry, seeds, budget.epoch_of(unit + 1), count, schedule,
                                            logs[0].measured(unit + count))
            if not _live_lanes_finite(metrics, logs, program.lanes):
                replay_until = unit + count
                continue
        else:
            advanced, metrics = program.epoch(carry, seeds, budget.epoch_of(unit + 1), schedule,
                                              logs[0].measured(unit + 1), budget.steps(unit + 1))
        carry, unit = advanced, unit + count
        elapsed += time.perf_counter() - tic
        for lane, log in enumerate(logs):
            if not log.done:
                gradients = carry.gradients if program.lanes is None else carry.gradients[lane]
                log.observe(unit, carry.iteration, lane_metrics(metrics, lane, program.lanes), elapsed / len(logs),
                            params=functools.partial(lane_params, carry.params, lane, program.lanes),
                            gradients=int(gradients))
        if after_unit is not None:
            after_unit(unit, carry, elapsed)
    return carry


def stretch(program: EpochProgram, logs: list[RunLog], unit: int, pause_every: int | None = None) -> int:
    """How many loop units from ``unit`` + 1 on run in one call of ``program``: whole epochs, up to and including the
    next one the host needs — a row to record or a stopping rule to test for some run still going
    (``RunLog.next_measured``), a pause every ``pause_every`` units, the budget's last whole epoch — and at most
    ``program.epochs_per_call``; 1 when the loop units are pieces of epochs or chunks of steps."""
    budget = logs[0].options.budget
    if program.epochs_per_call == 1 or budget.chunk is not None or budget.cuts:
        return 1
    end = min(log.next_measured(unit) for log in logs if not log.done)
    if pause_every is not None:
        end = min(end, (unit // pause_every + 1) * pause_every)
    last_whole = budget.units if budget.steps(budget.units) is None else budget.units - 1
    return max(1, min(end, last_whole, unit + program.epochs_per_call) - unit)


def _live_lanes_finite(metrics, logs: list[RunLog], lanes: int | None) -> bool:
    """Whether θ is finite in every lane whose run is still going (a run already stopped may have diverged)."""
    return all(bool(lane_metrics(metrics, lane, lanes).finite) for lane, log in enumerate(logs) if not log.done)


@peer_loss_named
def run_one(options: RunOptions) -> Result:
    """One run of ``minimize`` / ``maximize``: resumed from its checkpoint when asked, saved as it goes."""
    schedule = compiled.program_schedule(options.schedule)
    programs = Programs(options, options.params0, schedule)
    carry = Carry(options.params0, programs.first.initial_state(options.params0), 0, 0,
                  programs.first.initial_sampler_state(options.params0, options.seed))
    saving = options.checkpointing
    identity = run_identity(options) if saving is not None else {}
    if saving is not None and saving.resume and saving.path.exists():
        saved = checkpoint.load(saving.path, identity, carry)
        log = RunLog.resumed(options, saved.loss0, saved.rows, saved.verdict, saved.best, saved.best_params)
        carry, unit, elapsed = saved.carry, saved.unit, saved.elapsed
    else:
        log = RunLog(options, programs.first.evaluate(carry.params))
        log.add_noise_scale(0, carry.params)
        unit, elapsed = 0, 0.0

    def after_unit(unit: int, carry: Carry, elapsed: float) -> None:
        log.add_noise_scale(unit, carry.params)
        if saving is not None and (unit % saving.every == 0 or log.done or unit == options.budget.units):
            checkpoint.save(saving.path, identity, carry, unit, elapsed, log)

    carry = advance(programs, [log], carry, options.seed, schedule, unit=unit, elapsed=elapsed, after_unit=after_unit,
                    pause_every=None if saving is None else saving.every)
    averaged = options.update_rule.averaged_point(carry.opt_state)
    return log.result(pytrees.to_numpy(carry.params), programs.seconds,
                      None if averaged is None else pytrees.to_numpy(averaged), pytrees.to_numpy(carry.sampler_state))


@peer_loss_named
def run_lanes(lanes: list[RunOptions], on_unit: Callable[[int], None] | None = None) -> list[RunLog]:
    """Runs that differ only in seed and step size, as the lanes of one program; one log a run.

    Every lane starts from the same θ⁰ (the options' params0). ``on_unit(unit)`` is called after each
    loop unit.
    """
    count, options = len(lanes), lanes[0]
    schedule = compiled.stacked_schedules([lane.schedule for lane in lanes])
    params = compiled.stacked_params(options.params0, count)
    programs = Programs(options, params, schedule, lanes=count)
    start = programs.first.evaluate(options.params0)
    logs = [RunLog(lane, start) for lane in lanes]
    seeds = np.array([lane.seed for lane in lanes])
    carry = Carry(params, programs.first.initial_state(params), 0, np.zeros(count, dtype=np.int64),
                  programs.first.initial_sampler_state(params, seeds))
    advance(programs, logs, carry, seeds, schedule,
            after_unit=None if on_unit is None else lambda unit, carry, elapsed: on_unit(unit))
    return logs
