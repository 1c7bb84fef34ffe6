"""A run's step: the schedule ``step=`` gives (1/L by default; none when an optax optimizer sets the steps),
Polyak's steps completed from the problem, and the note (and StepSizeWarning) when a constant step is beyond
gradient descent's or a momentum method's limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from sgdlab import schedules as _schedules
from sgdlab import theory
from sgdlab._helpers import validation
from sgdlab.methods import Method
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler
from sgdlab.schedules import Schedule

#: What ``step=`` takes: a number α, a schedule k ↦ αₖ, a callable k ↦ αₖ written in jax.numpy, or None (1/L).
StepLike = _schedules.StepLike | None


class StepSizeWarning(UserWarning):
    """A constant step with α·L ≥ 2: beyond the step-size rule of gradient descent.

    ``minimize`` warns once a run (attributed to the caller's line) and adds the verdict to the run's message.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.least_squares(np.eye(2), np.ones(2))   # L = 1/2
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = sl.minimize(problem, step=5.0, epochs=3)
    >>> [warning.category.__name__ for warning in caught], result.status
    (['StepSizeWarning'], 'max_epochs')
    >>> result.message.split("Note: ")[1]
    'α·L = 2.5 ≥ 2: no guarantee; on quadratics gradient descent diverges.'
    """



def schedule_of(problem: Problem, step: StepLike, optimizer: Any, iterations: int) -> Schedule | None:
    """The step schedule (1/L by default), or None when an optax optimizer sets the steps."""
    if optimizer is None:
        schedule = _schedules.as_schedule(default_step(problem) if step is None else step)
        if not isinstance(schedule, _schedules.AdaptiveStep):
            _schedules.check_positive(schedule, iterations)
        return schedule
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        validation.fail("optimizer", "an optax GradientTransformation such as optax.sgd(0.1)",
                        validation.shown(optimizer), error=TypeError)
    if step is not None:
        validation.fail("step", "left out when an optimizer is given (the optimizer sets the step size)",
                        validation.shown(step))
    return None


def adapted(problem: Problem, sampler: Sampler, schedule: Schedule | None, method: Method) -> Schedule | None:
    """A Polyak step with p* filled in from the problem, checked usable with this sampler and method."""
    if not isinstance(schedule, _schedules.AdaptiveStep):
        return schedule
    if method.needs_finite_sum:
        validation.fail("step", f"a number or a schedule for {method.describe()} (Polyak's steps take the batch "
                        "gradient, not a variance-reduced one)", schedule.describe())
    if not isinstance(problem, FiniteSum):
        validation.fail("step", "a number or a schedule for an expectation (Polyak's steps need the loss of each "
                        "batch)", schedule.describe())
    if isinstance(schedule, _schedules.Polyak):
        if not sampler.is_full_batch:
            validation.fail("step", "sl.stochastic_polyak() for a stochastic sampler (sl.polyak() is gradient "
                            "descent's step: it needs F and ∇F at every iterate)", f"sl.polyak() with {sampler!r}")
        if np.isnan(schedule.optimal):
            optimal = problem.optimal_value()
            if optimal is None or not np.isfinite(optimal):
                validation.fail("step", "sl.polyak(optimal=p*) where the problem's p* is not known, or another "
                                "step", f"sl.polyak() on {type(problem).__name__}, whose p* is not known")
            return _schedules.Polyak(float(optimal))
    return schedule


def step_note(problem: Problem, schedule: Schedule | None, sampler: Sampler, method: Method) -> str:
    """For a constant step beyond 2/L (L known), or beyond a momentum method's own stability limit: warn once
    and return a note for the message."""
    L = problem.lipschitz()
    if not isinstance(schedule, _schedules.Constant) or L is None:
        return ""
    check = theory.check_step(problem, schedule.alpha, None if method.is_plain else sampler, method)
    if check.ok:
        return ""
    validation.warn(check.verdict, StepSizeWarning)
    return f" Note: {check.verdict}"


def default_step(problem: Problem) -> float:
    L = problem.lipschitz()
    if L is None or not L > 0:
        validation.fail("step", "given for a problem whose L is not known (the default step is 1/L)", "step=None")
    return 1.0 / L
