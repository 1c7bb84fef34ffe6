"""A run's options: the keywords of ``minimize`` / ``maximize``, validated once into :class:`RunOptions`.

Every keyword is named, typed and given its default here, once (:class:`RunKeywords`,
:data:`DEFAULTS`); ``minimize``, ``maximize`` and ``compare`` read them through :func:`validated`,
whose result holds fields that mean one thing each: the budget says in what units the loop counts
(epochs of a finite sum, chunks of steps of an expectation), the engine is already chosen, and the
problem already carries its constraint.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any, Literal, TypedDict

import jax
import numpy as np

from sgdlab._helpers import pytrees, validation
from sgdlab.constraints import ConstraintSet
from sgdlab.data.sharded import holding_devices
from sgdlab.engines import distributed, select
from sgdlab.engines.evaluation import HeldOut, Reference, score_columns
from sgdlab.engines.update_rules import UpdateRule
from sgdlab.methods import Method, read_method
from sgdlab.methods.averaging import Averaging, ScheduleFree, read_average
from sgdlab.problems.base import Problem
from sgdlab.problems.expectation import Expectation
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.run.budget import Budget, budget_of
from sgdlab.run.steps import StepLike, adapted, schedule_of, step_note
from sgdlab.run.stopping import Patience
from sgdlab.samplers import IID, SAMPLERS, Sampler, full_batch
from sgdlab.schedules import Schedule

#: What ``sampler=`` takes: a sampler, a sampler's name ("cyclic", …) or None (gradient descent).
SamplerLike = Sampler | str | None
#: An optax ``GradientTransformation`` (anything with ``init`` and ``update``).
Optimizer = Any


@dataclasses.dataclass(frozen=True)
class Sense:
    """How a run speaks of its objective: minimizing F, or maximizing f = −F."""

    sign: float
    prefix: str
    symbol: str
    worse: str
    gap: str


MINIMIZE = Sense(1.0, "", "F", "rose", "F − p*")
MAXIMIZE = Sense(-1.0, "maximizing f: ", "f", "fell", "p* − f")


class RunKeywords(TypedDict, total=False):
    """The keywords of ``minimize`` and ``maximize`` after problem, sampler and step (see ``minimize``)."""

    epochs: int | None
    steps: int | None
    params0: Any
    seed: int
    tol: float | None
    record_every: float
    record_steps: int | None
    constraint: ConstraintSet | None
    optimizer: Optimizer | None
    method: Method | None
    average: Averaging | None
    engine: Literal["auto", "jax", "native"]
    checkpoint: str | os.PathLike | None
    checkpoint_every: int
    resume: bool
    devices: Any
    noise_scale_every: int | None
    curvature_every: int | None
    record_params: bool
    heldout: dict[str, FiniteSum] | None
    stop: Patience | None


#: Each keyword's default.
DEFAULTS: dict[str, Any] = {"epochs": None, "steps": None, "params0": None, "seed": 0, "tol": None, "record_every": 1,
                            "record_steps": None,
                            "constraint": None, "optimizer": None, "method": None, "average": None,
                            "engine": "auto", "checkpoint": None,
                            "checkpoint_every": 1, "resume": False, "devices": None, "noise_scale_every": None,
                            "curvature_every": None, "record_params": False, "heldout": None, "stop": None}


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """Where a run saves its state (one .npz file), every how many loop units, and whether to resume from it."""

    path: Path
    every: int
    resume: bool


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """A run's validated options (what ``minimize``, ``maximize`` and ``compare`` run)."""

    #: What is minimized (−f when maximizing f), with its constraint attached.
    problem: Problem
    sense: Sense
    sampler: Sampler
    #: The step schedule, or None when an optax optimizer sets the steps.
    schedule: Schedule | None
    optimizer: Optimizer | None
    params0: Any
    seed: int
    budget: Budget
    #: A history row every this many loop units (and at the start and the end).
    record_every: int
    tol: float | None
    #: The engine that runs the epochs: "jax", "native" or "streamed" (``sgdlab.engines.select.choose``).
    engine: str
    #: The devices a data-parallel run splits its batches over, or None for one device.
    placement: distributed.DataParallel | None = None
    checkpointing: Checkpointing | None = None
    #: Record the gradient-noise scale at recorded epochs that are multiples of this (None: never).
    noise_scale_every: int | None = None
    #: Record the curvature (sharpness, Hessian trace, batch sharpness) at recorded epochs that are multiples of this.
    curvature_every: int | None = None
    #: A note for the run's message when a constant step is beyond 2/L.
    step_note: str = ""
    #: Keep θ at every history row (``Result.path``).
    record_params: bool = False
    #: What a step does with the gradient and αₖ (:mod:`sgdlab.methods`; plain SGD by default).
    method: Method = dataclasses.field(default_factory=Method)
    #: The averaged iterate kept beside θ (its start resolved in steps), or None.
    average: Averaging | None = None
    #: Held-out problems by name, scored at every history row (:mod:`sgdlab.engines.evaluation`).
    heldout: HeldOut = ()
    #: Early stopping on a history column (:mod:`sgdlab.run.stopping`), or None.
    stop: Patience | None = None

    @property
    def reference(self) -> Reference:
        """What the history measures θ against: θ* (None when not known) and the held-out problems."""
        return Reference(solution_of(self.problem), self.heldout)

    @property
    def update_rule(self) -> UpdateRule:
        """What the engines apply a step: the method (or the optax optimizer) and the averaging beside θ."""
        return UpdateRule(self.method, self.optimizer, self.average)

    def with_seed(self, seed: int) -> RunOptions:
        """The same run with another seed."""
        return dataclasses.replace(self, seed=validation.integer("seed", seed, low=0, high=2**31 - 1))


def validated(problem: Problem, sense: Sense, sampler: SamplerLike, step: StepLike, keywords: dict) -> RunOptions:
    """Check a run's arguments (those of ``minimize``), fill in the defaults, and choose the engine."""
    check_problem(problem)
    options = {**DEFAULTS, **_known(keywords)}
    problem = _constrained(problem, options["constraint"])
    sampler = read_sampler(sampler).for_problem(problem)
    _check_sampler(problem, sampler)
    budget, record_every = budget_of(problem, sampler, options["epochs"], options["steps"], options["record_every"],
                                   options["record_steps"])
    schedule = schedule_of(problem, step, options["optimizer"], budget.iterations)
    method = read_method(options["method"])
    if options["optimizer"] is not None and not method.is_plain:
        validation.fail("method", "left out when an optax optimizer is given (the optimizer is the method)",
                        validation.shown(method))
    params0 = _params0(problem, options["params0"])
    placement = _placement(problem, options["devices"])
    _check_method(problem, sampler, method, placement)
    schedule = adapted(problem, sampler, schedule, method)
    average = _average(problem, sampler, options["average"], budget, options["optimizer"])
    heldout = _heldout(problem, options["heldout"])
    rule = UpdateRule(method, options["optimizer"], average)
    if getattr(problem, "on_disk", False) and problem.constraint is not None:
        validation.fail("constraint", "left out for data on disk (projected steps need the data in memory)",
                        repr(problem.constraint))
    return RunOptions(
        problem=problem, sense=sense, sampler=sampler, schedule=schedule, optimizer=options["optimizer"],
        params0=params0, seed=validation.integer("seed", options["seed"], low=0, high=2**31 - 1), budget=budget,
        record_every=record_every,
        tol=None if options["tol"] is None else validation.positive_float("tol", options["tol"]),
        engine=select.choose(options["engine"], problem, sampler, rule, placement, schedule),
        placement=placement,
        checkpointing=_checkpointing(options["checkpoint"], options["checkpoint_every"], options["resume"]),
        noise_scale_every=_per_example_every("noise_scale_every", problem, options["noise_scale_every"]),
        curvature_every=_per_example_every("curvature_every", problem, options["curvature_every"], in_memory=True),
        step_note=step_note(problem, schedule, sampler, method),
        record_params=_record_params(options["record_params"], options["checkpoint"]), method=method,
        average=average, heldout=heldout, stop=_stop(problem, options["stop"], average, heldout))


def _known(keywords: dict) -> dict:
    """The keywords, each checked to be one of :class:`RunKeywords`."""
    allowed = ["sampler", "step", *DEFAULTS]
    for name in keywords:
        if name not in DEFAULTS:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            validation.fail("keyword", f"one of {', '.join(allowed)}", f"an unexpected keyword argument {name!r}{hint}",
                            error=TypeError)
    return keywords


def check_problem(problem: object) -> None:
    """Refuse anything but a finite sum or an expectation."""
    if not isinstance(problem, FiniteSum | Expectation):
        validation.fail("problem", "a finite sum such as sl.least_squares(X, y) or an sl.expectation(...)",
                        validation.shown(problem), error=TypeError)


def read_sampler(sampler: SamplerLike) -> Sampler:
    """Read ``sampler=``: None (gradient descent), a Sampler, or a sampler's name."""
    if sampler is None:
        return full_batch()
    if isinstance(sampler, Sampler):
        return sampler
    names = ", ".join(SAMPLERS)
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            validation.fail("sampler", f"one of {names}", validation.shown(sampler))
        return SAMPLERS[sampler]()
    validation.fail("sampler", f"a sampler such as sl.shuffled_cyclic(32), or one of {names}",
                    validation.shown(sampler), error=TypeError)


def _params0(problem: Problem, params0: Any) -> Any:
    """θ⁰: the problem's own, or the one given (same structure, shapes and dtypes), projected when constrained."""
    params0 = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    return params0 if problem.constraint is None else problem.constraint.project(params0)


def _placement(problem: Problem, devices: Any) -> distributed.DataParallel | None:
    """The devices a run is split over: ``devices=``, or those holding the rows of sharded data."""
    held = holding_devices(problem.data) if problem.n is not None else None
    if held is None:
        placement = distributed.data_parallel(devices)
    else:
        placement = distributed.data_parallel(held if devices is None else devices)
        if list(placement.mesh.devices.flat) != held:
            validation.fail("devices", f"the devices holding the problem's rows, {[str(d) for d in held]}, or None",
                            f"{[str(d) for d in placement.mesh.devices.flat]}")
    if placement is not None and problem.n is None:
        validation.fail("devices", "left out for an expectation (its draws are not split across devices)",
                        validation.shown(devices))
    return placement


def _per_example_every(name: str, problem: Problem, every: int | None, in_memory: bool = False) -> int | None:
    """A cadence in epochs of a measurement over a finite sum's rows in one process (the noise scale), held in
    memory (``in_memory``: the curvature)."""
    if every is None:
        return None
    where = {"is_sharded": "data sharded over devices", **({"on_disk": "data on disk"} if in_memory else {})}
    for flag, words in where.items():
        if getattr(problem, flag, False):
            validation.fail(name, f"left out for {words} (it needs every row in one process's memory)",
                            validation.shown(every))
    if problem.n is None:
        validation.fail(name, "left out for an expectation (it is measured on a finite sum's rows)",
                        validation.shown(every))
    return validation.integer(name, every)


def _heldout(problem: Problem, heldout: Any) -> HeldOut:
    """``heldout=`` as (name, problem) pairs, each checked to be the training problem's model on other rows."""
    if heldout is None:
        return ()
    if not isinstance(heldout, dict) or not heldout:
        validation.fail("heldout", "a dict of named problems, e.g. {'test': problem.with_data(X_test, y_test)}",
                        validation.shown(heldout), error=TypeError)
    training = getattr(problem, "original", problem)   # maximizing: the problem as given
    if not isinstance(training, FiniteSum) or training.on_disk:
        validation.fail("heldout", "left out for an expectation or data on disk (held-out rows are scored beside "
                        "a finite sum in memory)", repr(training))
    for name, other in heldout.items():
        if not isinstance(name, str) or not name.isidentifier() or name == "avg":
            validation.fail("heldout", "names that are identifiers other than 'avg', such as 'test' or 'validation' "
                            "(they name the columns name_loss, name_accuracy)", validation.shown(name))
        if not isinstance(other, FiniteSum):
            validation.fail(f"heldout[{name!r}]", "a finite sum such as train.with_data(X_test, y_test)",
                            validation.shown(other), error=TypeError)
        reason = training.heldout_mismatch(other)
        if reason is not None:
            validation.fail(f"heldout[{name!r}]", "a problem of the training problem's model, parameter shapes and "
                            "label set (build it with train.with_data(X, y))", reason)
    return tuple(heldout.items())


def _stop(problem: Problem, stop: Any, average: Averaging | None, heldout: HeldOut) -> Patience | None:
    """``stop=``: None, or a patience rule on a column the run records (numbers, not NaN throughout)."""
    if stop is None:
        return None
    if not isinstance(stop, Patience):
        validation.fail("stop", "None or a rule such as sl.patience(on='test_loss', epochs=5)", validation.shown(stop),
                        error=TypeError)
    recorded = ["loss", "grad_norm", *(["gap"] if problem.optimal_value() is not None else []),
                *(["dist"] if problem.solution() is not None else []),
                *(["violation"] if problem.constraint is not None else [])]
    if average is not None:
        recorded += ["avg_" + column for column in recorded if column != "violation"]
    if isinstance(problem, FiniteSum):
        recorded += [*jax.eval_shape(problem.diagnostics, problem.params0, problem.data), *score_columns(heldout)]
    if stop.on not in recorded:
        validation.fail("on", f"a column this run records: {', '.join(recorded)}", validation.shown(stop.on),
                        context="patience")
    return stop


def _record_params(record: Any, checkpoint: Any) -> bool:
    if not isinstance(record, bool):
        validation.fail("record_params", "True or False", validation.shown(record), error=TypeError)
    if record and checkpoint is not None:
        validation.fail("record_params", "False with checkpoint= (a checkpoint does not keep the path)", "True")
    return record


def _checkpointing(checkpoint: Any, every: Any, resume: Any) -> Checkpointing | None:
    """Check checkpoint=, checkpoint_every= and resume=: a fresh run may not overwrite a saved file."""
    every = validation.integer("checkpoint_every", every)
    if not isinstance(resume, bool):
        validation.fail("resume", "True or False", validation.shown(resume), error=TypeError)
    if checkpoint is None:
        if resume:
            validation.fail("resume", "False when no checkpoint= path is given", "True")
        return None
    if not isinstance(checkpoint, str | os.PathLike):
        validation.fail("checkpoint", "a file path", validation.shown(checkpoint), error=TypeError)
    path = Path(checkpoint)
    if path.exists() and not resume:
        validation.fail("checkpoint", "a path with no file yet, or resume=True to continue from it",
                        f"{str(path)!r}, which exists")
    if not path.parent.is_dir():
        validation.fail("checkpoint", "a path in an existing folder", validation.shown(str(path)))
    return Checkpointing(path, every, resume)


def _check_sampler(problem: Problem, sampler: Sampler) -> None:
    if problem.n is not None:
        sampler.validate(problem.n)
    elif not (sampler.is_full_batch or isinstance(sampler, IID)):
        validation.fail("sampler", "iid(B) (fresh draws) or full_batch() for an expectation", repr(sampler))
    elif sampler.is_full_batch and isinstance(problem, Expectation) and not problem.exact:
        validation.fail("sampler", "iid(B) for an expectation without exact_loss or exact_grad (gradient descent "
                        "needs E[∇f] exactly)", repr(sampler))


def _check_method(problem: Problem, sampler: Sampler, method: Method, placement) -> None:
    """Refuse a variance-reduced method where it has no finite table or full gradient to keep, and what importance
    sampling's weighted steps do not run with."""
    if sampler.weighted and (method.needs_finite_sum or placement is not None):
        validation.fail("sampler", f"a uniform sampler for {method.describe()} or on devices (importance sampling "
                        "runs plain SGD, momentum, averaging and optax on one device)", repr(sampler))
    if sampler.depends_on_run and (placement is not None or getattr(problem, "on_disk", False)):
        validation.fail("sampler", "a sampler whose plans come from (seed, epoch) for data on disk or on devices "
                        "(GraB herds the per-example gradients of a finite sum in one process's memory)",
                        repr(sampler))
    if not method.needs_finite_sum:
        return
    where = f"{method.describe()} keeps gradients of the N examples"
    if not isinstance(problem, FiniteSum):
        validation.fail("method", f"plain, heavy_ball or nesterov for an expectation ({where}; an expectation "
                        "has no finite table)", method.describe())
    if sampler.is_full_batch:
        validation.fail("sampler", f"a stochastic sampler for {method.describe()} (with gradient descent it is "
                        "gradient descent)", repr(sampler))
    if placement is not None or getattr(problem, "on_disk", False):
        validation.fail("method", f"plain, heavy_ball or nesterov for data on disk or split over devices ({where} "
                        "in one process's memory)", method.describe())


def _average(problem: Problem, sampler: Sampler, average: Any, budget: Budget,
             optimizer: Optimizer | None) -> Averaging | None:
    """``average=`` with its start fixed in steps for this run (None: no averaged iterate)."""
    average = read_average(average)
    if average is None:
        return None
    if isinstance(average, ScheduleFree) and "ScheduleFreeState" not in type(_probe_state(optimizer)).__name__:
        validation.fail("average", "sl.schedule_free() only with an optax schedule-free optimizer, e.g. "
                        "optimizer=optax.contrib.schedule_free_sgd(0.1)", f"it with optimizer={optimizer!r}")
    if getattr(problem, "on_disk", False):
        validation.fail("average", "None for data on disk (the averaged iterate is kept by the in-memory engines)",
                        average.describe())
    steps_per_epoch = sampler.steps_per_epoch(problem.n) if isinstance(problem, FiniteSum) else 1
    return average.resolved(steps_per_epoch, budget.iterations)


def _probe_state(optimizer: Optimizer | None) -> Any:
    """The optimizer's state on a scalar (to tell its kind), or None."""
    if optimizer is None:
        return None
    try:
        return optimizer.init(np.zeros(1))
    except Exception:   # an optimizer that cannot start from a vector is not a schedule-free one
        return None


def _constrained(problem: Problem, constraint: ConstraintSet | None) -> Problem:
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


def solution_of(problem: Problem) -> Any:
    """θ* shaped like the problem's parameters, or None when not known."""
    solution = problem.solution()
    return None if solution is None else pytrees.conform("solution", solution, problem.params0)


def uses_thinned_units(options: RunOptions) -> bool:
    """Whether some loop units skip the history row (so a program without it is needed too)."""
    return options.tol is None and options.record_every > 1 and options.budget.units > 1
