"""A comparison's runs as settings: each named run's sampler, step, method and averaging checked (:class:`RunSpec`),
and what a comparison records of them (their settings, engines and step checks) and of its problem."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from sgdlab import schedules, theory
from sgdlab._helpers import validation
from sgdlab.experiments.steps import DEFAULT_STEP, parse_step
from sgdlab.methods import Method, read_method
from sgdlab.methods.averaging import Averaging, read_average
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.run.options import Optimizer, read_sampler
from sgdlab.samplers import Sampler

#: The keys of a run's settings.
RUN_KEYS = ("sampler", "step", "optimizer", "method", "average")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One named setting of a comparison: a sampler and a step schedule (with its α₀, None when an
    optimizer sets the step)."""

    name: str
    sampler: Sampler
    schedule: schedules.Schedule | None
    step_text: str
    optimizer: Optimizer | None = None
    alpha0: float | None = None
    method: Method = dataclasses.field(default_factory=Method)
    average: Averaging | None = None


def run_specs(problem: FiniteSum, runs: dict) -> list[RunSpec]:
    """Validate ``runs`` = {name: {"sampler": ..., "step": ...}}."""
    if not isinstance(runs, dict) or not runs:
        validation.fail("runs", "a non-empty dict {name: dict(sampler=..., step=...)}", validation.shown(runs),
                        error=TypeError)
    return [_run_spec(problem, name, settings) for name, settings in runs.items()]


def _run_spec(problem: FiniteSum, name: Any, settings: Any) -> RunSpec:
    if not isinstance(settings, dict):
        validation.fail(f"runs[{name!r}]", "a dict with keys sampler and step", validation.shown(settings),
                        error=TypeError)
    unknown = set(settings) - set(RUN_KEYS)
    if unknown:
        validation.fail(f"runs[{name!r}]", f"a dict with keys among {', '.join(RUN_KEYS)}",
                        f"unknown keys {sorted(unknown)}")
    sampler = read_sampler(settings.get("sampler")).for_problem(problem)
    sampler.validate(problem.n)
    optimizer = settings.get("optimizer")
    if optimizer is None:
        schedule, text = parse_step(settings.get("step", DEFAULT_STEP), problem, sampler)
    elif "step" in settings:
        validation.fail(f"runs[{name!r}]", "given a step or an optimizer, not both", "both")
    else:
        schedule, text = None, "optimizer"
    alpha0 = None if schedule is None else schedules.initial_alpha(schedule)
    return RunSpec(str(name), sampler, schedule, text, optimizer, alpha0, read_method(settings.get("method")),
                   read_average(settings.get("average")))


def predicted_schedule(spec: RunSpec) -> schedules.Schedule | None:
    """The step whose SGD theorems and exact expectations apply to the run's last iterate: plain SGD's with a
    schedule set ahead (None for other methods, whose theorems are their own, and for Polyak's steps)."""
    if not spec.method.is_plain or isinstance(spec.schedule, schedules.AdaptiveStep):
        return None
    return spec.schedule


def runs_info(problem: FiniteSum, specs: list[RunSpec], engines: dict[str, str], epochs: int) -> dict:
    """Per run: its settings, the engine that ran it, α·L, and the step check of the theorem that applies
    to its sampler (a schedule judged by its largest step over ``epochs``)."""
    return {spec.name: {"sampler": repr(spec.sampler), "step": spec.step_text, "alpha0": spec.alpha0,
                        "method": spec.method.describe(),
                        "average": None if spec.average is None else spec.average.describe(),
                        "engine": engines[spec.name], "stability_edge": stability_edge(spec),
                        **_step_check(problem, spec, epochs)}
            for spec in specs}


def stability_edge(spec: RunSpec) -> float | None:
    """The sharpness above which the run's constant step is unstable on a quadratic: the method's stability limit
    at unit smoothness over α (2/α plain, 2(1 + β)/α heavy ball, (2 + 2β)/((1 + 2β)α) Nesterov); None for a step
    that changes or an optimizer's."""
    if not isinstance(spec.schedule, schedules.Constant):
        return None
    return spec.method.stability_limit(1.0) / float(spec.schedule.alpha)


def _step_check(problem: FiniteSum, spec: RunSpec, epochs: int) -> dict:
    """α·L (the largest α) and the verdict in words of a run (its theorem's, where a step and L are known)."""
    if spec.schedule is None:
        return {"alpha_L": None, "step_check": "set by the optimizer"}
    L = problem.lipschitz()
    if L is None:
        return {"alpha_L": None, "step_check": "L unknown"}
    check = theory.check_step(problem, spec.schedule, spec.sampler, spec.method, epochs=epochs)
    return {"alpha_L": check.ratio, "step_check": check.verdict}


def describe_problem(problem: FiniteSum) -> dict:
    """What the report shows of a problem: its kind (and model), N, the number of parameters, L, μ and κ where
    known, and p*."""
    L = problem.lipschitz()
    mu = problem.strong_convexity() if hasattr(problem, "strong_convexity") else None
    optimum = problem.optimal_value()
    kind = type(problem).__name__
    if getattr(problem, "model_kind", None):
        kind = f"{kind} of an {problem.model_kind}"
    return {"kind": kind, "n": problem.n,
            "parameters": int(sum(np.size(leaf) for leaf in jax.tree.leaves(problem.params0))),
            "L": L, "mu": mu, "kappa": (L / mu) if (L is not None and mu) else None,
            "p_star": None if optimum is None else float(optimum),
            "constraint": None if problem.constraint is None else repr(problem.constraint)}
