"""Gradient descent's guarantees checked on a run: descent at every step, and the bound
min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K) for a constant step α < 2/L."""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdlab._helpers import validation
from sgdlab.problems.base import Problem
from sgdlab.problems.linear import LinearModel
from sgdlab.theory.smoothness import lipschitz


@dataclasses.dataclass(frozen=True)
class Descent:
    """Whether F decreased at every recorded gradient-descent step: ``holds``, ``first_increase``
    (the iteration k with F(θᵏ) > F(θᵏ⁻¹), or None), ``increases`` and ``steps`` checked."""

    holds: bool
    first_increase: int | None
    increases: int
    steps: int


def descent(result, rtol: float = 1e-12) -> Descent:
    """Check F(θᵏ⁺¹) ≤ F(θᵏ) at every step of a gradient-descent run recorded at every step
    (``sampler=full_batch()``, ``record_every=1``); rises below ``rtol``·|F| count as rounding."""
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


def gradient_bound(problem: Problem, result, lower_bound: float | None = None) -> GradientBound:
    """Check gradient descent's guarantee on a run with a constant step α < 2/L.

    inf F is p* where known; else ``lower_bound`` (0 is valid for the built-in losses, which are
    nonnegative, and is used by default for them: a lower bound only loosens the bound).
    """
    history = _per_step_history(result, "gradient_bound")
    alpha = float(result.step(0))
    if not np.allclose(np.asarray(result.step(np.arange(result.iterations))), alpha, rtol=0, atol=0):
        validation.fail("result", "a run with a constant step", result.step.describe(), context="gradient_bound")
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
