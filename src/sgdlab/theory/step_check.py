"""The step check of a run: its step against the limits of the theorem that applies to its sampler.

For gradient descent the rule is α ∈ (0, 2/L): F then decreases at every step,
F(θᵏ⁺¹) ≤ F(θᵏ) − α(1 − αL/2)‖∇F(θᵏ)‖², and summing over k < K gives
min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K), so ∇F(θᵏ) → 0. Stochastic samplers have
theorems of their own (:mod:`sgdlab.theory.theorems`), with other limits.
"""

from __future__ import annotations

import dataclasses

from sgdlab import schedules
from sgdlab._helpers import validation
from sgdlab.problems.base import Problem
from sgdlab.samplers import Sampler, full_batch
from sgdlab.theory.smoothness import lipschitz
from sgdlab.theory.theorems import descent_rule, guarantee


@dataclasses.dataclass(frozen=True)
class StepCheck:
    """A step checked on a problem: ``L``, ``limit`` = 2/L (gradient descent's), ``ratio`` = α·L,
    ``ok`` = ratio < 2, the ``verdict`` of the theorem that applies to the run's sampler, in words, and
    that ``theorem``'s name and reference (None when none applies)."""

    L: float
    limit: float
    ratio: float
    ok: bool
    verdict: str
    theorem: str | None = None


def check_step(problem: Problem, step: schedules.StepLike, sampler: Sampler | None = None) -> StepCheck:
    """The theorem that applies to a run of ``sampler`` with ``step`` on ``problem``, and the step against
    its limits.

    Parameters
    ----------
    problem : Problem
        The problem; L is its own where known, else estimated by power iteration at θ⁰.
    step : float or Schedule
        The step α > 0, or a schedule (judged by its first step α₀).
    sampler : Sampler, default ``full_batch()``
        The run's sampler: gradient descent's α < 2/L, SGD's α ≤ 1/(2 L_B) with batches drawn afresh, and
        no theorem quoted where none applies (see :mod:`sgdlab.theory.theorems`).

    Returns
    -------
    StepCheck
        L, the limit 2/L, the ratio α·L, whether α·L < 2, the verdict in words and the theorem's name.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> check = sl.check_step(problem, 1.0 / problem.lipschitz())
    >>> check.ok, round(check.ratio, 6), check.theorem
    (True, 1.0, 'the descent lemma of gradient descent')
    >>> sl.check_step(problem, 2.5 / problem.lipschitz()).verdict
    'α·L = 2.5 ≥ 2: no guarantee; on quadratics gradient descent diverges.'
    >>> noisy = sl.least_squares(X, np.array([1.0, 2.0, 3.0]))
    >>> alpha = 0.25 / sl.theory.minibatch_lipschitz(noisy, 1, sl.with_replacement(1))
    >>> sl.check_step(noisy, alpha, sl.with_replacement(1)).theorem
    'SGD with batches drawn afresh (Gower et al. 2019, Theorem 3.1)'
    >>> sl.check_step(noisy, 4 * alpha, sl.with_replacement(1)).verdict.split(":")[0]
    'α·L_B = 1 > 1/2'
    >>> sl.check_step(noisy, alpha, sl.shuffled_cyclic(1)).theorem is None   # its terms are not strongly convex
    True
    """
    schedule = schedules.as_schedule(step)
    alpha = validation.positive_float("step", schedules.initial_alpha(schedule), context="check_step")
    sampler = full_batch() if sampler is None else sampler
    L = lipschitz(problem)
    ratio = alpha * L
    verdict = guarantee(problem, sampler, alpha, constant=isinstance(schedule, schedules.Constant))
    text, theorem = verdict.verdict, verdict.theorem
    if problem.lipschitz() is None and sampler.is_full_batch:   # gradient descent's rule with L estimated at θ⁰
        text, theorem = f"{descent_rule(ratio)} (L from {L.method}).", None
    return StepCheck(float(L), 2 / float(L), ratio, ratio < 2, text, theorem)
