"""The step-size rule of gradient descent: a constant step α ∈ (0, 2/L).

With such a step gradient descent decreases F at every step,
F(θᵏ⁺¹) ≤ F(θᵏ) − α(1 − αL/2)‖∇F(θᵏ)‖², and summing over k < K gives
min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K), so ∇F(θᵏ) → 0.
"""

from __future__ import annotations

import dataclasses

from sgdlab._helpers import validation
from sgdlab.problems.base import Problem
from sgdlab.theory.smoothness import lipschitz


@dataclasses.dataclass(frozen=True)
class StepCheck:
    """The 2/L rule for a constant step α: ``L``, ``limit`` = 2/L, ``ratio`` = α·L, ``ok`` = ratio < 2,
    and a ``verdict`` in words."""

    L: float
    limit: float
    ratio: float
    ok: bool
    verdict: str


def check_step(problem: Problem, alpha: float) -> StepCheck:
    """Compare a constant step α with 2/L, the limit of gradient descent's guarantee.

    Parameters
    ----------
    problem : Problem
        The problem; L is its own where known, else estimated by power iteration at θ⁰.
    alpha : float
        The step α > 0.

    Returns
    -------
    StepCheck
        L, the limit 2/L, the ratio α·L, whether α·L < 2, and the verdict in words.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> check = sl.check_step(problem, 1.0 / problem.lipschitz())
    >>> check.ok, round(check.ratio, 6)
    (True, 1.0)
    >>> sl.check_step(problem, 2.5 / problem.lipschitz()).verdict
    'α·L = 2.5 ≥ 2: no guarantee; on quadratics gradient descent diverges.'
    """
    alpha = validation.positive_float("alpha", alpha, context="check_step")
    L = lipschitz(problem)
    ratio = alpha * L
    if ratio < 2:
        verdict = (f"α·L = {ratio:.3g} < 2: gradient descent with this constant step decreases F at every step "
                   "and makes ∇F(θᵏ) → 0")
    else:
        verdict = (f"α·L = {ratio:.3g} ≥ 2: no guarantee; on quadratics gradient descent "
                   + ("diverges" if ratio > 2 else "oscillates without converging"))
    if not L.exact:
        verdict += f" (L from {L.method})"
    return StepCheck(float(L), 2 / float(L), ratio, ratio < 2, verdict + ".")
