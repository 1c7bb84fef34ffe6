"""Steps as a comparison writes them: numbers, schedules, or text relative to the problem's constants.

"0.5/L", "1/L_B" (the run's minibatch constant; L_N = L for gradient descent) or "1/L_max"; a registered step
rule by name, with any of its parameters (:mod:`sgdlab.experiments.entries`): "polyak" (gradient descent's Polyak
step, p* from the problem), "stochastic_polyak" or "stochastic_polyak:c=0.2"; a dict
``{"schedule": "inverse_time", "alpha0": "1/L_B", "decay": 0.01}`` builds a registered schedule (or step rule)
whose first parameter may be such text.
"""

from __future__ import annotations

import re

from sgdlab import schedules
from sgdlab._helpers import validation
from sgdlab.experiments import entries
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler

#: The step of a run that gives none.
DEFAULT_STEP = "1/L_B"

_STEP_TEXT = re.compile(r"^\s*(?P<c>\S+?)\s*/\s*(?P<constant>L_B|L_max|L)\s*$")


def parse_step(step, problem: FiniteSum, sampler: Sampler) -> tuple[schedules.Schedule, str]:
    """Read a step: a number, "c/L", "c/L_B", "c/L_max", a schedule or callable, or a dict naming a
    schedule whose α₀ may be such text. Returns the schedule and how the step was written."""
    if isinstance(step, dict):
        return _schedule_from_dict(step, problem, sampler)
    if isinstance(step, str) and step.partition(":")[0].strip() in schedules.STEP_RULES:
        return entries.build(step, schedules.STEP_RULES, "step"), step.strip()
    if isinstance(step, str):
        return _relative_step(step, problem, sampler), step.strip()
    schedule = schedules.as_schedule(step)
    return schedule, step if isinstance(step, str) else schedule.describe()


def check_written(step, sampler: Sampler, family: type[Problem]) -> None:
    """Refuse, before any data is read, a step that no problem of class ``family`` could take with ``sampler``:
    text in none of :func:`parse_step`'s forms, an unknown schedule, or a step relative to L_B or L_max for a
    family that cannot know L_max."""
    if isinstance(step, dict):
        kind = step.get("schedule")
        registry = schedules.STEP_RULES if kind in schedules.STEP_RULES else schedules.SCHEDULES
        first = next(iter(registry.parameters(registry.named(kind, "step schedule"))), None)
        if first is not None and first.startswith("alpha") and isinstance(step.get(first), str):
            check_written(step[first], sampler, family)
    elif isinstance(step, str) and step.partition(":")[0].strip() in schedules.STEP_RULES:
        entries.read_text(step, schedules.STEP_RULES, "step")
    elif isinstance(step, str):
        _check_terms_known(step, _relative_text(step)[1], sampler, family)


def _relative_text(text: str) -> tuple[float, str | None]:
    """(c, K) of text "c/K", K one of L, L_B, L_max; (c, None) of text that is a number "c"; else an error."""
    number = _number(text)
    if number is not None:
        return validation.positive_float("step", number), None
    match = _STEP_TEXT.match(text)
    c = _number(match["c"]) if match else None
    if match is None or c is None:
        validation.fail("step", "a number, or text 'c/L', 'c/L_B' or 'c/L_max' with c a positive number, or "
                        f"a step rule ({entries.usage(schedules.STEP_RULES)})", validation.shown(text))
    return validation.positive_float("step", c), match["constant"]


def _check_terms_known(text: str, constant: str | None, sampler: Sampler, family: type[Problem],
                       known: bool | None = None) -> None:
    """A step relative to L_max (or to L_B of a stochastic sampler) needs the terms' constants: refused for a
    family that cannot know them (``known``: whether this problem knows them, when it is built)."""
    needs_terms = constant == "L_max" or (constant == "L_B" and not sampler.is_full_batch)
    if needs_terms and not (family.may_know_lipschitz_max() if known is None else known):
        validation.fail("step", f"given as a number or a schedule for {family.__name__}, whose L_B and L_max "
                        "are not known, so no default step relative to them applies (e.g. step=0.05 in "
                        "runs={name: dict(sampler=..., step=0.05)}, or --step 0.05; 'c/L' takes L estimated at θ⁰)",
                        repr(text))


def _relative_step(text: str, problem: FiniteSum, sampler: Sampler) -> schedules.Constant:
    """α = c / K for text "c/K", K one of L, L_B, L_max; α = c for text that is a number "c"."""
    c, constant = _relative_text(text)
    if constant is None:
        return schedules.constant(c)
    _check_terms_known(text, constant, sampler, type(problem), problem.lipschitz_max() is not None)
    return schedules.constant(c / _constant(constant, problem, sampler))


def _number(text: str) -> float | None:
    """The number ``text`` spells, or None."""
    try:
        return float(text)
    except ValueError:
        return None


def _constant(name: str, problem: FiniteSum, sampler: Sampler) -> float:
    """L, L_max or the run's L_B, the expected smoothness of its sampler's batches (L for gradient descent)."""
    from sgdlab import theory  # with JAX: a step is checked before it (check_written), read against data after

    if name == "L":
        return float(theory.lipschitz(problem))
    if name == "L_max":
        return theory.lipschitz_max(problem)
    if sampler.is_full_batch:
        return float(theory.lipschitz(problem))
    return theory.minibatch_lipschitz(problem, getattr(sampler, "batch_size", problem.n), sampler)


def _schedule_from_dict(spec: dict, problem, sampler) -> tuple[schedules.Schedule, str]:
    """A registered schedule or step rule from a dict naming it (``schedule``) with its parameters; the first
    parameter (α, α₀) may be written as a step relative to the problem's constants."""
    spec = dict(spec)
    kind = spec.pop("schedule", None)
    registry = schedules.STEP_RULES if kind in schedules.STEP_RULES else schedules.SCHEDULES
    registry.named(kind, "step schedule")
    first = next(iter(registry.parameters(kind)), None)
    if first is not None and first.startswith("alpha") and isinstance(spec.get(first), str):
        spec[first] = schedules.initial_alpha(parse_step(spec[first], problem, sampler)[0])
    schedule = registry.build(kind, spec, f"step {kind}")
    return schedule, schedule.describe()
