"""minimize and maximize: run (projected, stochastic) gradient descent for a budget of epochs.

A run is one problem, one sampler, one step size (or schedule), one seed and a budget. It
returns a :class:`Result` whose history has one row per recorded epoch (epoch 0 is the start):
epoch, iteration, loss F(θ), grad_norm ‖∇F(θ)‖, gap F(θ) − p* and dist ‖θ − θ*‖ (NaN where p*
or θ* is not known), time (seconds since the start, compilation excluded) and, for a constrained
problem, violation (how far θ is from satisfying the constraints; 0 on the feasible set).

With a constraint C the step is projected, θᵏ⁺¹ = P_C(θᵏ − αₖ gᵏ), and θ⁰ is projected first.
``maximize`` minimizes −f and reports f: its history's loss is f itself, gap is p* − f.

Stopping rules, checked after each epoch:

* "converged" — ``tol`` is given and ‖∇F(θ)‖ ≤ tol;
* "diverged" — θ or F(θ) is no longer finite, or F rose above F(θ⁰) + 10¹⁰ · max(|F(θ⁰)|, √eps).
  The margin is relative to the start, so a run started at an optimum where F = 0 stops only
  on a non-finite value;
* "max_epochs" — the budget ran out.

A constant step with α·L ≥ 2, where L is known, gets a :class:`StepSizeWarning` and a note in
the message: gradient descent's guarantee needs α < 2/L.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sgdlab._helpers import pytrees, validation

from sgdlab.run import checkpoint

from sgdlab.engines import compiled as engine, distributed, select as kernels

from sgdlab import theory
from sgdlab import samplers as _samplers
from sgdlab import schedules as _schedules
from sgdlab.problems.base import FiniteSum
from sgdlab.problems.expectation import Expectation

#: F may rise to F(θ⁰) + EXPLOSION · max(|F(θ⁰)|, √eps) before a run counts as diverged.
EXPLOSION = 1e10

HISTORY_COLUMNS = ("epoch", "iteration", "loss", "grad_norm", "gap", "dist", "time")


class StepSizeWarning(UserWarning):
    """A constant step with α·L ≥ 2: beyond the step-size rule of gradient descent."""


@dataclasses.dataclass(frozen=True)
class _Sense:
    """How a run speaks of its objective: minimizing F, or maximizing f = −F."""

    sign: float
    prefix: str
    symbol: str
    worse: str
    gap: str


MINIMIZE = _Sense(1.0, "", "F", "rose", "F − p*")
MAXIMIZE = _Sense(-1.0, "maximizing f: ", "f", "fell", "p* − f")


@dataclasses.dataclass
class Result:
    """The outcome of a run.

    Attributes: ``params`` (final θ, NumPy arrays), ``status`` ("converged", "max_epochs" or
    "diverged"), ``message`` (what happened, in words), ``history`` (a pandas DataFrame with
    columns epoch, iteration, loss, grad_norm, gap, dist, time), ``epochs`` (None for an
    expectation, which has none) and ``iterations`` run, ``compile_time`` (seconds spent compiling for this run; near 0 when the programs were reused), and the run's
    ``sampler``, ``step`` (its schedule) and ``seed``, and the ``engine`` that ran it ("jax" or "native").
    """

    params: object
    status: str
    message: str
    history: pd.DataFrame
    epochs: int | None
    iterations: int
    compile_time: float
    sampler: _samplers.Sampler
    step: _schedules.Schedule
    seed: int
    engine: str = "jax"

    def __repr__(self) -> str:
        return f"Result(status={self.status!r}, epochs={self.epochs}, iterations={self.iterations}, message={self.message!r})"


@dataclasses.dataclass
class Settings:
    """A run's validated arguments (what minimize, maximize and compare run)."""

    problem: FiniteSum
    sampler: _samplers.Sampler
    schedule: _schedules.Schedule
    epochs: int
    params0: object
    seed: int
    tol: float | None
    record_every: int
    sense: _Sense
    step_note: str = ""
    optimizer: object = None
    #: For an expectation: the steps per history row (the loop's unit) and the total budget in steps.
    chunk: int | None = None
    steps: int | None = None
    #: The engine chosen for the run: "jax" or "native" (see sgdlab.engines.select.choose).
    engine: str = "jax"
    #: Where to save the run's state (None: nowhere), every how many epochs, and whether to resume from it.
    checkpoint: Path | None = None
    checkpoint_every: int = 1
    resume: bool = False
    #: The devices a data-parallel run splits its batches over (a DataParallel), or None for one device.
    placement: object = None
    #: Record the gradient-noise scale at recorded epochs that are multiples of this (None: never).
    noise_scale_every: int | None = None


def minimize(problem, sampler=None, step=None, epochs: int | None = None, params0=None, seed: int = 0,
             tol: float | None = None, record_every: int = 1, constraint=None, optimizer=None,
             steps: int | None = None, engine: str = "auto", checkpoint=None, checkpoint_every: int = 1,
             resume: bool = False, devices=None, noise_scale_every: int | None = None) -> Result:
    """Minimize ``problem`` with θᵏ⁺¹ = θᵏ − αₖ gᵏ, gᵏ the mean gradient over the sampler's batch.

    Parameters
    ----------
    problem : FiniteSum
        What to minimize, e.g. ``sl.least_squares(X, y)``.
    sampler : Sampler or str, default ``full_batch()``
        Which indices each step uses, e.g. ``sl.shuffled_cyclic(32)`` or the name "cyclic".
    step : float, Schedule or callable, default 1/L
        The step size αₖ: a constant, a schedule k ↦ αₖ, or None for 1/L when L is known.
    epochs : int, default 10
        The budget of a finite sum, in epochs of N per-example gradients.
    params0 : pytree, default the problem's ``params0``
        The starting point θ⁰.
    seed : int
        Seeds the sampler's randomness: epoch e's plan is drawn from (seed, e) alone (``sgdlab.samplers.draws``);
        an expectation's step k draws ω from the key fold_in(key(seed), k).
    tol : float, optional
        Stop with status "converged" once ‖∇F(θ)‖ ≤ tol (checked after every epoch).
    record_every : int
        Record a history row every this many epochs (steps, for an expectation), and always at the
        start and the end.
    constraint : ConstraintSet, optional
        Project after every step onto this set (box, nonnegative, ball, simplex, affine). For
        many runs, constrain once with ``problem.subject_to(C)`` so the compiled run is reused.
    optimizer : optax.GradientTransformation, optional
        Replaces the plain update θ − αₖ g with θ + u, (u, state) = optimizer.update(g, state, θ),
        e.g. ``optax.sgd(0.1, momentum=0.9)`` or ``optax.adam(1e-3)``; it carries its own step
        size, so ``step`` must then be left out.
    steps : int
        The budget of an expectation (which has no epochs), in steps; required there.
    engine : {"auto", "jax", "native"}
        What runs the epochs: JAX's compiled scan (any problem, any device), or the native CPU
        loop of the built-in linear models (sgdlab.engines.select), which gives the same run and is
        faster at small batch sizes. "auto" picks the native loop where it supports the run and
        the batch size is small (see ``sgdlab.engines.select.choose``); ``Result.engine`` says which ran.
    checkpoint : path, optional
        Save the run's state there (one .npz file, written atomically) every ``checkpoint_every``
        epochs (loop units of ``record_every`` steps for an expectation) and at the end. The path must
        not hold a file yet unless ``resume`` is True.
    resume : bool
        Continue from ``checkpoint`` when it exists (else start afresh): the run must be the same
        (problem, params0, sampler, step, optimizer, seed, record_every, tol, engine); the epoch budget
        may be larger. The final params equal an uninterrupted run's bit for bit.
    devices : list of jax devices or a 1-D jax.sharding.Mesh, optional
        Split every batch across these devices (data parallel, ``sgdlab.engines.distributed``); the run equals
        the single-device one up to the order of sums. Finite sums on the JAX engine only.
    noise_scale_every : int, optional
        Add the gradient-noise scale (``sgdlab.theory.noise_scale``: columns grad_norm_squared,
        trace_covariance, b_simple) to the history rows of the start and of every recorded epoch that
        is a multiple of this. Finite sums only.
    """
    return _run(validated(problem, MINIMIZE, sampler=sampler, step=step, epochs=epochs, steps=steps,
                          params0=params0, seed=seed, tol=tol, record_every=record_every, constraint=constraint,
                          optimizer=optimizer, engine=engine, checkpoint=checkpoint,
                          checkpoint_every=checkpoint_every, resume=resume, devices=devices,
                          noise_scale_every=noise_scale_every))


def maximize(problem, sampler=None, step=None, epochs: int | None = None, params0=None, seed: int = 0,
             tol: float | None = None, record_every: int = 1, constraint=None, optimizer=None,
             steps: int | None = None, engine: str = "auto", checkpoint=None, checkpoint_every: int = 1,
             resume: bool = False, devices=None, noise_scale_every: int | None = None) -> Result:
    """Maximize ``problem`` (its F is the f to maximize) by minimizing −f; the arguments are those
    of :func:`minimize`. The history reports f itself; gap is p* − f with p* = sup f where known."""
    _check_problem(problem)
    return _run(validated(problem.negation, MAXIMIZE, sampler=sampler, step=step, epochs=epochs, steps=steps,
                          params0=params0, seed=seed, tol=tol, record_every=record_every, constraint=constraint,
                          optimizer=optimizer, engine=engine, checkpoint=checkpoint,
                          checkpoint_every=checkpoint_every, resume=resume, devices=devices,
                          noise_scale_every=noise_scale_every))


def _check_problem(problem) -> None:
    if not isinstance(problem, (FiniteSum, Expectation)):
        validation.fail("problem", "a finite sum such as sl.least_squares(X, y) or an sl.expectation(...)",
                     validation.shown(problem), error=TypeError)


def validated(problem, sense, *, sampler=None, step=None, epochs=None, steps=None, params0=None, seed=0, tol=None,
              record_every=1, constraint=None, optimizer=None, engine="auto", checkpoint=None, checkpoint_every=1,
              resume=False, devices=None, noise_scale_every=None) -> Settings:
    """Check a run's arguments (those of :func:`minimize`) and fill in the defaults."""
    _check_problem(problem)
    problem = _constrained(problem, constraint)
    sampler = _sampler(sampler)
    _check_sampler(problem, sampler)
    record_every = validation.integer("record_every", record_every)
    loops, iterations, chunk = _budget(problem, sampler, epochs, steps, record_every)
    schedule = _schedule(problem, step, optimizer, iterations)
    params0 = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    if problem.constraint is not None:
        params0 = problem.constraint.project(params0)
    seed = validation.integer("seed", seed, low=0, high=2**31 - 1)
    tol = None if tol is None else validation.positive_float("tol", tol)
    placement = _placement(problem, devices)
    if getattr(problem, "on_disk", False) and problem.constraint is not None:
        validation.fail("constraint", "left out for data on disk (projected steps need the data in memory)",
                     repr(problem.constraint))
    if placement is not None and problem.n is None:
        validation.fail("devices", "left out for an expectation (its draws are not split across devices)",
                     validation.shown(devices))
    checkpoint, checkpoint_every, resume = _checkpointing(checkpoint, checkpoint_every, resume)
    return Settings(problem, sampler, schedule, loops, params0, seed, tol, 1 if chunk else record_every, sense,
                    step_note=_step_note(problem, schedule), optimizer=optimizer, chunk=chunk,
                    steps=iterations if chunk else None,
                    engine=kernels.choose(engine, problem, sampler, optimizer, placement),
                    checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, placement=placement,
                    noise_scale_every=_noise_scale_every(problem, noise_scale_every))


def _placement(problem, devices) -> distributed.DataParallel | None:
    """The devices a run is split over: ``devices=``, or those holding the rows of sharded data."""
    held = distributed.holding_devices(problem.data) if problem.n is not None else None
    if held is None:
        return distributed.data_parallel(devices)
    placement = distributed.data_parallel(held if devices is None else devices)
    if list(placement.mesh.devices.flat) != held:
        validation.fail("devices", f"the devices holding the problem's rows, {[str(d) for d in held]}, or None",
                     f"{[str(d) for d in placement.mesh.devices.flat]}")
    return placement


def _noise_scale_every(problem, every) -> int | None:
    if every is None:
        return None
    if getattr(problem, "is_sharded", False):
        validation.fail("noise_scale_every", "left out for data sharded over devices (it needs per-example gradients "
                     "of all rows in one process)", validation.shown(every))
    if problem.n is None:
        validation.fail("noise_scale_every", "left out for an expectation (its noise scale needs per-example "
                     "gradients of a finite sum)", validation.shown(every))
    return validation.integer("noise_scale_every", every)


def _checkpointing(checkpoint, every, resume) -> tuple[Path | None, int, bool]:
    """Check checkpoint=, checkpoint_every= and resume=: a fresh run may not overwrite a saved file."""
    every = validation.integer("checkpoint_every", every)
    if not isinstance(resume, bool):
        validation.fail("resume", "True or False", validation.shown(resume), error=TypeError)
    if checkpoint is None:
        if resume:
            validation.fail("resume", "False when no checkpoint= path is given", "True")
        return None, every, resume
    if not isinstance(checkpoint, (str, os.PathLike)):
        validation.fail("checkpoint", "a file path", validation.shown(checkpoint), error=TypeError)
    path = Path(checkpoint)
    if path.exists() and not resume:
        validation.fail("checkpoint", "a path with no file yet, or resume=True to continue from it",
                     f"{str(path)!r}, which exists")
    if not path.parent.is_dir():
        validation.fail("checkpoint", "a path in an existing folder", validation.shown(str(path)))
    return path, every, resume


def _check_sampler(problem, sampler: _samplers.Sampler) -> None:
    if problem.n is not None:
        sampler.validate(problem.n)
    elif not (sampler.is_full_batch or isinstance(sampler, _samplers.IID)):
        validation.fail("sampler", "iid(B) (fresh draws) or full_batch() for an expectation", repr(sampler))
    elif sampler.is_full_batch and not problem.exact:
        validation.fail("sampler", "iid(B) for an expectation without exact_loss or exact_grad (gradient descent "
                     "needs E[∇f] exactly)", repr(sampler))


def _budget(problem, sampler, epochs, steps, record_every) -> tuple[int, int, int | None]:
    """(loop units, iterations, steps per unit): epochs for a finite sum; for an expectation, chunks
    of record_every steps (the last may be shorter)."""
    if problem.n is not None:
        if steps is not None:
            validation.fail("steps", "left out for a finite sum (its budget is epochs)", validation.shown(steps))
        epochs = validation.integer("epochs", 10 if epochs is None else epochs)
        return epochs, epochs * sampler.steps_per_epoch(problem.n), None
    if epochs is not None:
        validation.fail("epochs", "left out for an expectation, which has no epochs (give steps)", validation.shown(epochs))
    if steps is None:
        validation.fail("steps", "given for an expectation (its budget is a number of steps)", "steps=None")
    steps = validation.integer("steps", steps)
    chunk = min(record_every, steps)
    return math.ceil(steps / chunk), steps, chunk


def _schedule(problem: FiniteSum, step, optimizer, iterations: int) -> _schedules.Schedule | None:
    """The step schedule (1/L by default), or None when an optax optimizer sets the steps."""
    if optimizer is None:
        schedule = _schedules.as_schedule(_default_step(problem) if step is None else step)
        _schedules.check_positive(schedule, iterations)
        return schedule
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        validation.fail("optimizer", "an optax GradientTransformation such as optax.sgd(0.1)",
                     validation.shown(optimizer), error=TypeError)
    if step is not None:
        validation.fail("step", "left out when an optimizer is given (the optimizer sets the step size)",
                     validation.shown(step))
    return None


def _constrained(problem: FiniteSum, constraint) -> FiniteSum:
    """The problem with ``constraint`` attached, checked usable by projected (S)GD."""
    if constraint is not None:
        if problem.constraint is not None:
            validation.fail("constraint", "given once (the problem already carries one)", repr(constraint))
        problem = problem.subject_to(constraint)
    constraint = problem.constraint
    if constraint is not None and not constraint.has_projection:
        validation.fail("constraint", "a set with a projection (box, nonnegative, ball, simplex, affine) for "
                     "projected (S)GD", repr(constraint))
    if constraint is not None and constraint.is_empty():
        validation.fail("constraint", "a set with at least one point", f"{constraint!r}, which is empty "
                     "(Aθ = b has no solution)")
    return problem


def _step_note(problem: FiniteSum, schedule: _schedules.Schedule) -> str:
    """For a constant step beyond 2/L (L known): warn once and return a note for the message."""
    if not isinstance(schedule, _schedules.Constant) or problem.lipschitz() is None:
        return ""
    check = theory.check_step(problem, schedule.alpha)
    if check.ok:
        return ""
    warnings.warn(check.verdict, StepSizeWarning, stacklevel=4)
    return f" Note: {check.verdict}"


def _sampler(sampler) -> _samplers.Sampler:
    """Read ``sampler=``: None (gradient descent), a Sampler, or a sampler's name."""
    if sampler is None:
        return _samplers.full_batch()
    if isinstance(sampler, _samplers.Sampler):
        return sampler
    names = ", ".join(_samplers.SAMPLERS)
    if isinstance(sampler, str):
        if sampler not in _samplers.SAMPLERS:
            validation.fail("sampler", f"one of {names}", validation.shown(sampler))
        return _samplers.SAMPLERS[sampler]()
    validation.fail("sampler", f"a sampler such as sl.shuffled_cyclic(32), or one of {names}", validation.shown(sampler),
                 error=TypeError)


def _default_step(problem) -> float:
    L = problem.lipschitz()
    if L is None or not L > 0:
        validation.fail("step", "given for a problem whose L is not known (the default step is 1/L)", "step=None")
    return 1.0 / L


def _run(s: Settings) -> Result:
    started = time.perf_counter()
    schedule = engine.program_schedule(s.schedule)
    programs = {length: program_for(s, engine.compiled_run(s.problem, s.sampler, s.params0, schedule,
                                                           solution_of(s.problem), optimizer=s.optimizer, chunk=length,
                                                           placement=s.placement))
                for length in chunk_lengths(s)}
    for program in programs.values():
        for record in record_variants(s):
            program.prepare(record)
    compile_time = time.perf_counter() - started
    params, opt_state = s.params0, engine.initial_state(s.optimizer, s.params0)
    run_identity = checkpoint.identity(s) if s.checkpoint is not None else None
    saved = checkpoint.load(s.checkpoint, run_identity, params, opt_state) if s.resume and s.checkpoint.exists() else None
    if saved is None:
        iterations, elapsed, epoch = 0, 0.0, 0
        log = RunLog(s, next(iter(programs.values())).evaluate(params))
        _add_noise_scale(s, log, 0, params)
    else:
        params, opt_state, iterations, elapsed, epoch = (saved.params, saved.opt_state, saved.iterations,
                                                         saved.elapsed, saved.epoch)
        log = RunLog.resumed(s, saved.loss0, saved.rows, saved.verdict)
    while not log.done and epoch < s.epochs:
        epoch += 1
        program = programs[_chunk_length(s, epoch)]
        tic = time.perf_counter()
        params, opt_state, iterations, metrics = program.epoch(params, opt_state, iterations, s.seed, epoch - 1,
                                                               schedule, log.measured(epoch))
        elapsed += time.perf_counter() - tic
        log.observe(epoch, iterations, metrics, elapsed)
        _add_noise_scale(s, log, epoch, params)
        if run_identity is not None and (epoch % s.checkpoint_every == 0 or log.done or epoch == s.epochs):
            checkpoint.save(s.checkpoint, run_identity, params, opt_state, epoch, iterations, elapsed, log.loss0,
                            log.rows, log.verdict)
    return log.result(pytrees.to_numpy(params), compile_time)


def _add_noise_scale(s: Settings, log: RunLog, epoch: int, params) -> None:
    """Put the noise scale at θ in the row of ``epoch`` when one was recorded and it is due."""
    row = log.rows[-1]
    if s.noise_scale_every is None or row["epoch"] != epoch or epoch % s.noise_scale_every:
        return
    scale = theory.noise_scale(s.problem, pytrees.to_numpy(params))
    row.update(grad_norm_squared=scale.grad_norm_squared, trace_covariance=scale.trace_covariance,
               b_simple=scale.b_simple)


def program_for(s: Settings, compiled: engine.CompiledRun):
    """What runs the epochs: the compiled JAX program, or the native loop (evaluating with it)."""
    if s.engine == "native":
        from sgdlab.engines.native.run import NativeRun
        return NativeRun(compiled)
    return compiled


def chunk_lengths(s: Settings) -> set:
    """The distinct loop units a run needs programs for: {None} (epochs) or its chunk lengths."""
    return {_chunk_length(s, epoch) for epoch in {1, s.epochs}}


def _chunk_length(s: Settings, epoch: int) -> int | None:
    """Steps in loop unit ``epoch``: None for a finite sum's epoch; the chunk, or what is left, for an expectation."""
    if s.chunk is None:
        return None
    return min(s.chunk, s.steps - (epoch - 1) * s.chunk)


def solution_of(problem: FiniteSum):
    """θ* shaped like the problem's parameters, or None when not known."""
    solution = problem.solution()
    return None if solution is None else pytrees.conform("solution", solution, problem.params0)


def record_variants(s: Settings) -> tuple[bool, ...]:
    """Which epoch programs a run needs: with history always, without only when some epoch skips it."""
    thinned = s.tol is None and s.record_every > 1 and s.epochs > 1
    return (True, False) if thinned else (True,)


class RunLog:
    """One run's bookkeeping: which epochs it measures and records, its history rows, and its
    stopping rules. ``minimize`` keeps one; ``compare`` keeps one per run of a batched program."""

    def __init__(self, settings: Settings, start: engine.Metrics):
        self.settings = settings
        self.loss0 = start.loss
        self.threshold = _explosion_threshold(start.loss)
        self.rows = [_row(0, 0, start, 0.0)]
        self.verdict = self._verdict("the start", start, measured=True)

    @classmethod
    def resumed(cls, settings: Settings, loss0: float, rows: list, verdict) -> RunLog:
        """The log of a run resumed from a checkpoint: its F(θ⁰), rows so far and verdict."""
        log = cls.__new__(cls)
        log.settings, log.loss0, log.threshold = settings, loss0, _explosion_threshold(loss0)
        log.rows, log.verdict = list(rows), verdict
        return log

    @property
    def done(self) -> bool:
        """True once a stopping rule has fired."""
        return self.verdict is not None

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` gets a history row (every record_every epochs, and the last)."""
        return epoch % self.settings.record_every == 0 or epoch == self.settings.epochs

    def measured(self, epoch: int) -> bool:
        """Whether ``epoch`` needs F and ‖∇F‖ (for a row, or for the tol rule)."""
        return self.due(epoch) or self.settings.tol is not None

    def observe(self, epoch: int, iterations: int, metrics: engine.Metrics, elapsed: float) -> None:
        """Take the metrics after ``epoch``: apply the stopping rules and record a row when due."""
        when = f"step {iterations}" if self.settings.chunk else f"epoch {epoch}"
        self.verdict = self._verdict(when, metrics, self.measured(epoch))
        if self.due(epoch) or self.done:
            self.rows.append(_row(epoch, iterations, metrics, elapsed))

    def result(self, params, compile_time: float) -> Result:
        """The run's Result, with ``params`` its final θ."""
        s = self.settings
        columns = self.columns()
        status, message, epochs, iterations = self.outcome(columns)
        return Result(params, status, message, pd.DataFrame(columns), epochs, iterations, compile_time, s.sampler,
                      s.schedule, s.seed, s.engine)

    def columns(self) -> dict:
        """The history as NumPy columns (see :func:`_history_columns`)."""
        return _history_columns(self.rows, self.settings)

    def outcome(self, columns: dict) -> tuple[str, str, int | None, int]:
        """(status, message, epochs, iterations) of the run whose history ``columns`` are."""
        s = self.settings
        last = {name: values[-1] for name, values in columns.items()}
        status, message = self.verdict or ("max_epochs", _budget_message(s, last))
        epochs = None if s.chunk else int(last["epoch"])
        return status, s.sense.prefix + message + s.step_note, epochs, int(last["iteration"])

    def _verdict(self, when: str, metrics: engine.Metrics, measured: bool) -> tuple[str, str] | None:
        """(status, message) when a stopping rule fires at ``when`` ("epoch 3", "step 200"), else None."""
        s = self.settings
        if not metrics.finite or (measured and not (np.isfinite(metrics.loss) and metrics.loss <= self.threshold)):
            return "diverged", _diverged_message(s, when, self.loss0, metrics)
        if s.tol is not None and metrics.grad_norm <= s.tol:
            return "converged", f"converged at {when}: ‖∇{s.sense.symbol}‖ = {metrics.grad_norm:.3g} ≤ tol = {s.tol:g}."
        return None


def _row(epoch: int, iteration: int, metrics: engine.Metrics, elapsed: float) -> dict:
    return {"epoch": epoch, "iteration": iteration, "loss": metrics.loss, "grad_norm": metrics.grad_norm,
            "dist": metrics.dist, "time": elapsed, "violation": metrics.violation, **metrics.extras}


def _history_columns(rows: list[dict], s: Settings) -> dict:
    """The history's columns, in the objective's own sign; gap = F − p* (p* − f when maximizing)
    where p* is known, else NaN; violation only for a constrained problem; then the problem's
    diagnostics (and the noise scale, where recorded)."""
    values = {column: np.array([row.get(column, np.nan) for row in rows]) for column in rows[0]}
    optimum = s.problem.optimal_value()
    with np.errstate(invalid="ignore"):   # inf − inf: an unbounded problem's gap is NaN
        values["gap"] = values["loss"] - optimum if optimum is not None else np.full(len(rows), np.nan)
    values["loss"] = s.sense.sign * values["loss"]
    extras = [column for column in rows[0] if column not in (*HISTORY_COLUMNS, "violation")]
    columns = list(HISTORY_COLUMNS) + (["violation"] if s.problem.constraint is not None else []) + extras
    return {column: values[column] for column in (columns[1:] if s.chunk else columns)}


def _explosion_threshold(loss0: float) -> float:
    """F(θ⁰) + EXPLOSION · max(|F(θ⁰)|, √eps): beyond it the run counts as diverged."""
    return loss0 + EXPLOSION * max(abs(loss0), np.sqrt(np.finfo(np.float64).eps))


def _diverged_message(s: Settings, when: str, loss0: float, metrics: engine.Metrics) -> str:
    sign = s.sense.sign
    if not metrics.finite:
        what = "the parameters became non-finite"
    elif not np.isfinite(metrics.loss):
        what = f"{s.sense.symbol} became {sign * metrics.loss}"
    else:
        what = f"{s.sense.symbol} {s.sense.worse} from {sign * loss0:.3g} to {sign * metrics.loss:.3g}"
    return f"diverged at {when}: {what}. " + _step_versus_limit(s)


def _step_versus_limit(s: Settings) -> str:
    """Why a run may diverge: an unbounded problem, or the initial step against 2/L when L is known."""
    if s.problem.optimal_value() == -np.inf:
        bound = "sup f = +∞" if s.sense is MAXIMIZE else "inf F = −∞"
        return f"The problem is unbounded ({bound}), so the iterates run off to infinity whatever the step."
    if s.optimizer is not None:
        return "The optimizer sets the steps; try a smaller learning rate."
    L = s.problem.lipschitz()
    alpha = _schedules.initial_alpha(s.schedule)
    if L is None:
        return f"L is not known here; try a step smaller than α₀ = {alpha:.3g}."
    relation = "≥" if alpha * L >= 2 else "<"
    return (f"The step α₀ = {alpha:.3g} has α·L = {alpha * L:.3g} {relation} 2 (L = {L:.3g}, 2/L = {2 / L:.3g}); "
            "gradient descent is stable only for α < 2/L, and stochastic steps often need less.")


def _budget_message(s: Settings, last: dict) -> str:
    symbol = s.sense.symbol
    budget = f"{s.steps} steps" if s.chunk else f"{s.epochs} epochs ({int(last['iteration'])} iterations)"
    text = f"stopped after {budget}: {symbol} = {last['loss']:.6g}, ‖∇{symbol}‖ = {last['grad_norm']:.3g}"
    if not np.isnan(last["gap"]):
        text += f", {s.sense.gap} = {last['gap']:.3g}"
    if "violation" in last:
        text += f", violation = {last['violation']:.3g}"
    return text + "."
