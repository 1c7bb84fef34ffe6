"""Gradient descent's guarantees checked on a run: descent at every step, and the bound
min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K) for a constant step α < 2/L."""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
import pandas as pd

from sgdlab._helpers import validation
from sgdlab.problems.base import Problem
from sgdlab.problems.linear import LinearModel
from sgdlab.samplers import Sampler
from sgdlab.schedules import Schedule
from sgdlab.theory.smoothness import lipschitz


class Run(Protocol):
    """What the checks read of a run: a :class:`~sgdlab.run.result.Result` of ``minimize``."""

    history: pd.DataFrame
    sampler: Sampler
    step: Schedule | None
    iterations: int


@dataclasses.dataclass(frozen=True)
class Descent:
    """Whether F decreased at every recorded gradient-descent step: ``holds``, ``first_increase``
    (the iteration k with F(θᵏ) > F(θᵏ⁻¹), or None), ``increases`` and ``steps`` checked."""

    holds: bool
    first_increase: int | None
    increases: int
    steps: int


def descent(result: Run, rtol: float = 1e-12) -> Descent:
    """Check F(θᵏ⁺¹) ≤ F(θᵏ) at every step of a gradient-descent run recorded at every step
    (``sampler=full_batch()``, ``record_every=1``); rises below ``rtol``·|F| count as rounding.

    Parameters
    ----------
    result : Result
        A gradient-descent run recorded at every step.
    rtol : float, default 1e-12
        Relative rises ignored as rounding.

    Returns
    -------
    Descent
        Whether F fell at every step, the first step where it rose, how many rises, of how many steps.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> sl.theory.descent(sl.minimize(problem, step=1.0 / problem.lipschitz(), epochs=20)).holds
    True
    >>> import warnings
    >>> with warnings.catch_warnings():   # a step beyond 2/L also warns (StepSizeWarning)
    ...     warnings.simplefilter("ignore")
    ...     beyond = sl.minimize(problem, step=2.5 / problem.lipschitz(), epochs=5)
    >>> sl.theory.descent(beyond).first_increase
    1
    """
    history = _per_step_history(result, "descent")
    loss = history.loss.to_numpy()
    rises = loss[1:] > loss[:-1] + rtol * np.maximum(np.abs(loss[:-1]), np.finfo(float).tiny)
    first = int(history.iteration.iloc[1 + int(np.argmax(rises))]) if rises.any() else None
    return Descent(not rises.any(), first, int(rises.sum()), len(rises))


@dataclasses.dataclass(frozen=True)
class GradientBound:
    """The GD guarantee min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F)/(α(2 − αL)K) on a run:
    ``observed`` (left side), ``bound`` (right side), ``holds``, and the K, α, L and inf F used."""

    observed: float
    bound: float
    holds: bool
    K: int
    alpha: float
    L: float
    inf_value: float


def gradient_bound(problem: Problem, result: Run, lower_bound: float | None = None) -> GradientBound:
    """Check gradient descent's guarantee min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F)/(α(2 − αL)K) on a run
    with a constant step α < 2/L.

    Parameters
    ----------
    problem : Problem
        The problem the run minimized.
    result : Result
        A gradient-descent run with a constant step, recorded at every step.
    lower_bound : float, optional
        A number ≤ inf F, when p* is not known (0 is used for the built-in losses, which are nonnegative:
        a lower bound only loosens the bound).

    Returns
    -------
    GradientBound
        Both sides of the inequality, whether it holds, and the K, α, L and inf F used.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> run = sl.minimize(problem, step=1.0 / problem.lipschitz(), epochs=20)
    >>> check = sl.theory.gradient_bound(problem, run)
    >>> check.holds, check.K
    (True, 20)
    """
    history = _per_step_history(result, "gradient_bound")
    step = result.step
    if step is None:
        validation.fail("result", "a run with a constant step", "a run whose steps an optimizer set",
                        context="gradient_bound")
    alpha = float(step(0))
    if not np.allclose(np.asarray(step(np.arange(result.iterations))), alpha, rtol=0, atol=0):
        validation.fail("result", "a run with a constant step", step.describe(), context="gradient_bound")
    L = float(lipschitz(problem))
    if alpha * L >= 2:
        validation.fail("result", "a run with α·L < 2 (the bound holds only there)", f"α·L = {alpha * L:.3g}",
                        context="gradient_bound")
    inf_value = _infimum(problem, lower_bound)
    K = int(history.iteration.iloc[-1])
    observed = float(np.min(history.grad_norm.to_numpy()[:-1] ** 2))
    bound = 2 * (float(history.loss.iloc[0]) - inf_value) / (alpha * (2 - alpha * L) * K)
    return GradientBound(observed, bound, observed <= bound, K, alpha, L, inf_value)


def _infimum(problem: Problem, lower_bound: float | None) -> float:
    if lower_bound is not None:
        return float(lower_bound)
    optimum = problem.optimal_value()
    if optimum is not None:
        return optimum
    if isinstance(problem, LinearModel):
        return 0.0
    validation.fail("lower_bound", "given (a number ≤ inf F) for a problem whose p* is not known", "None",
                    context="gradient_bound")


def _per_step_history(result, check: str):
    history = result.history
    if not result.sampler.is_full_batch or not np.all(np.diff(history.iteration.to_numpy()) == 1):
        validation.fail("result", "a gradient-descent run recorded at every step (full_batch(), record_every=1)",
                        f"{result.sampler!r} with iterations {history.iteration.tolist()[:4]}...", context=check)
    if len(history) < 2:
        validation.fail("result", "a run of at least one step", "a run with no step", context=check)
    return history
