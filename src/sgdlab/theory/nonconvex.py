"""Theorems without convexity: the Polyak–Łojasiewicz inequality, and SGD on a smooth non-convex F.

Each starts from the descent lemma of an L-smooth F, F(θ − αg) ≤ F(θ) − α⟨∇F(θ), g⟩ + (Lα²/2)‖g‖², with
g = ∇F (gradient descent) or an unbiased minibatch gradient (SGD, in expectation over the batch).

* **Expected smoothness (the ABC condition, Khaled and Richtárik 2023).** A batch mean of B terms drawn
  afresh has E‖g‖² = (1 − c_B)‖∇F‖² + c_B (1/N) Σᵢ ‖∇fᵢ‖² exactly, c_B the sampler's variance factor
  (:mod:`sgdlab.theory.minibatch`). Every Lᵢ-smooth fᵢ ≥ b has ‖∇fᵢ‖² ≤ 2Lᵢ(fᵢ − b), so
  E‖g‖² ≤ 2A(F − F_ref) + B‖∇F‖² + C with A = c_B L_max, B = 1 − c_B and C = 2A(F_ref − b), for any
  F_ref: F_ref = b gives C = 0, F_ref = p* the PL theorem's constants. b is declared by the family's class
  (``term_lower_bound``: 0 for nonnegative losses).
* **Gradient descent under PL** (Karimi, Nutini and Schmidt 2016, Theorem 1, for any α < 2/L): with
  ‖∇F‖² ≥ 2μ(F − p*), the descent lemma gives F(θᵏ⁺¹) − p* ≤ (1 − 2αμ(1 − αL/2))(F(θᵏ) − p*), a linear rate
  without strong convexity (rank-deficient least squares: μ the smallest non-zero eigenvalue of XᵀX/N).
* **SGD under PL** (Khaled and Richtárik 2023, Theorem 3): for αₖ ≤ min(μ/(2AL), 1/(2BL)), with δ = E F − p*,
  δₖ₊₁ ≤ δₖ − αₖ(1 − LBαₖ/2)·2μδₖ + LAαₖ²δₖ + LCαₖ²/2 ≤ (1 − αₖμ)δₖ + LCαₖ²/2: a linear rate to a floor
  LCα/(2μ) for a constant α.
* **SGD on a smooth non-convex F** (Khaled and Richtárik 2023, Theorem 2): for a constant α ≤ 1/(LB), with
  F_ref = b (C = 0), min_{k<K} E‖∇F(θᵏ)‖² ≤ 2(1 + LAα²)^K (F(θ⁰) − b)/(αK). The factor (1 + LAα²)^K grows
  with K: the bound says something only while LAα²K is small.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sgdlab._helpers import pytrees, theorem
from sgdlab._helpers.aliases import Params
from sgdlab._helpers.declared import declared
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler
from sgdlab.theory.minibatch import variance_factor

PL_GD = theorem.PL_GRADIENT_DESCENT.title
PL_SGD = theorem.PL_SGD.title
NONCONVEX_SGD = theorem.NONCONVEX_SGD.title


@dataclasses.dataclass(frozen=True)
class ExpectedSmoothness:
    """E‖g‖² ≤ 2A(F − reference) + B‖∇F‖² + C for the sampler's minibatch gradients (the module docstring)."""

    A: float
    B: float
    C: float
    reference: float


def expected_smoothness(problem: Problem, sampler: Sampler,
                        reference: float | None = None) -> ExpectedSmoothness | None:
    """The ABC constants of ``sampler``'s batches on ``problem``, measured from ``reference`` (None: from the terms'
    lower bound b, with C = 0); None where the family declares no lower bound of its terms or L_max is unknown."""
    low, L_max = declared(problem, "term_lower_bound", None), problem.lipschitz_max()
    batch = getattr(sampler, "batch_size", None)
    if low is None or L_max is None or batch is None or not isinstance(problem, FiniteSum):
        return None
    factor = variance_factor(problem.n, batch, sampler)
    A = factor * L_max
    start = low if reference is None else reference
    return ExpectedSmoothness(A, 1.0 - factor, 2.0 * A * (start - low), start)


def pl_constant(problem: Problem) -> float:
    """μ of the Polyak–Łojasiewicz inequality where the problem knows it, else 0."""
    mu = problem.polyak_lojasiewicz() if hasattr(problem, "polyak_lojasiewicz") else None
    return float(mu) if mu else 0.0


def pl_gradient_descent(problem: Problem, alpha: float) -> str | None:
    """The verdict of gradient descent under PL (None when F is not known to satisfy it, or the step is ≥ 2/L)."""
    mu, L = pl_constant(problem), problem.lipschitz()
    if not mu or L is None or alpha * L >= 2 or problem.constraint is not None or problem.optimal_value() is None:
        return None
    rate = 1 - 2 * alpha * mu * (1 - alpha * L / 2)
    return (f"α·L = {alpha * L:.3g} < 2 and F satisfies the Polyak–Łojasiewicz inequality ‖∇F‖² ≥ 2μ(F − p*) with "
            f"μ = {mu:.3g} (the smallest non-zero eigenvalue of XᵀX/N; F is not strongly convex): "
            f"F(θᵏ) − p* ≤ (1 − 2αμ(1 − αL/2))ᵏ (F(θ⁰) − p*), a factor {rate:.6g} a step "
            "(Karimi, Nutini and Schmidt 2016, Theorem 1).")


def pl_sgd_limit(problem: Problem, sampler: Sampler) -> tuple[float, ExpectedSmoothness] | None:
    """(the largest step of SGD's PL theorem, min(μ/(2AL), 1/(2BL)), and the ABC constants), or None where F is not
    known to satisfy PL with p* known."""
    mu, L, optimum = pl_constant(problem), problem.lipschitz(), problem.optimal_value()
    if not mu or L is None or optimum is None or problem.constraint is not None:
        return None
    constants = expected_smoothness(problem, sampler, float(optimum))
    if constants is None:
        return None
    limits = [mu / (2 * constants.A * L)] if constants.A > 0 else []
    limits += [1 / (2 * constants.B * L)] if constants.B > 0 else []
    return min(limits, default=np.inf), constants


def pl_sgd(problem: Problem, sampler: Sampler, alpha: float) -> tuple[bool, str] | None:
    """(whether SGD's PL theorem holds for the step, its verdict), or None when PL is not known for the problem."""
    known = pl_sgd_limit(problem, sampler)
    if known is None:
        return None
    limit, constants = known
    mu, L = pl_constant(problem), float(problem.lipschitz())   # type: ignore[arg-type]
    if alpha > limit:
        return False, (f"α = {alpha:.4g} > {limit:.4g} = min(μ/(2AL), 1/(2BL)): beyond the steps of SGD's theorem "
                f"under the Polyak–Łojasiewicz inequality (μ = {mu:.3g}, Khaled and Richtárik 2023, Theorem 3); "
                "no bound is quoted.")
    floor = L * constants.C * alpha / (2 * mu)
    return True, (f"α = {alpha:.4g} ≤ min(μ/(2AL), 1/(2BL)) = {limit:.4g}, with F satisfying the Polyak–Łojasiewicz "
            f"inequality for μ = {mu:.3g} (not strongly convex) and E‖g‖² ≤ 2A(F − p*) + B‖∇F‖² + C (A = "
            f"{constants.A:.3g}, B = {constants.B:.3g}, C = {constants.C:.3g}): E F(θᵏ) − p* ≤ (1 − αμ)ᵏ (F(θ⁰) − p*) "
            f"+ LCα/(2μ), a floor {floor:.3g} (Khaled and Richtárik 2023, Theorem 3).")


def nonconvex_sgd(problem: Problem, sampler: Sampler, alpha: float, constant: bool) -> tuple[bool, str] | None:
    """(whether SGD's non-convex theorem holds for the step, its verdict), or None when the family declares no lower
    bound of its terms, or L is not known."""
    constants, L = expected_smoothness(problem, sampler), problem.lipschitz()
    if constants is None or L is None or problem.constraint is not None:
        return None
    if not constant:
        return False, ("SGD's non-convex theorem (Khaled and Richtárik 2023, Theorem 2) is stated for a constant "
                "step; no bound is quoted.")
    if constants.B > 0 and alpha > 1 / (L * constants.B):
        return False, (f"α = {alpha:.4g} > 1/(LB) = {1 / (L * constants.B):.4g}: beyond the steps of SGD's non-convex "
                "theorem (Khaled and Richtárik 2023, Theorem 2); no bound is quoted.")
    horizon = 1 / (L * constants.A * alpha**2) if constants.A > 0 else np.inf
    return True, (f"α = {alpha:.4g} ≤ 1/(LB) with F smooth (L ≤ {L:.3g}), not known convex, and E‖g‖² ≤ 2A(F − b) + "
            f"B‖∇F‖² (A = {constants.A:.3g}, B = {constants.B:.3g}, b = {constants.reference:g} bounding every term): "
            f"min_{{k<K}} E‖∇F(θᵏ)‖² ≤ 2(1 + LAα²)^K (F(θ⁰) − b)/(αK) (Khaled and Richtárik 2023, Theorem 2); its "
            f"factor (1 + LAα²)^K stays below e for K ≤ 1/(LAα²) = {horizon:.3g} steps, and grows beyond.")


def pl_curve(problem: Problem, sampler: Sampler, theorem_name: str, alphas: np.ndarray,
             params0: Params | None) -> pd.DataFrame:
    """The PL bound on E F − p* at the start and after each epoch (a row of ``alphas``)."""
    mu, L = pl_constant(problem), float(problem.lipschitz())   # type: ignore[arg-type]
    start = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    gap = max(float(problem.loss(start)) - float(problem.optimal_value()), 0.0)   # type: ignore[arg-type]
    if theorem_name == PL_GD:
        factors, shifts = 1 - 2 * alphas * mu * (1 - alphas * L / 2), np.zeros_like(alphas)
    else:
        constants = pl_sgd_limit(problem, sampler)[1]   # type: ignore[index]   # the verdict found it
        factors, shifts = 1 - alphas * mu, L * constants.C * alphas**2 / 2
    values = linear_recursion(gap, factors, shifts)
    return pd.DataFrame({"epoch": np.arange(len(values)), "quantity": "gap", "bound": values, "theorem": theorem_name})


def nonconvex_curve(problem: Problem, sampler: Sampler, alphas: np.ndarray, params0: Params | None) -> pd.DataFrame:
    """SGD's non-convex bound on min_{k<K} E‖∇F(θᵏ)‖² after each epoch K ≥ 1 (K·m steps, a constant α)."""
    constants, L = expected_smoothness(problem, sampler), float(problem.lipschitz())   # type: ignore[arg-type]
    start = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    alpha, steps = float(alphas.flat[0]), np.arange(1, len(alphas) + 1) * alphas.shape[1]
    excess = max(float(problem.loss(start)) - constants.reference, 0.0)   # type: ignore[union-attr]
    growth = np.exp(steps * np.log1p(L * constants.A * alpha**2))   # type: ignore[union-attr]
    return pd.DataFrame({"epoch": np.arange(1, len(alphas) + 1), "quantity": "min_grad_sq",
                         "bound": 2 * growth * excess / (alpha * steps), "theorem": NONCONVEX_SGD})


def linear_recursion(start: float, factors: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """r at the start and at the end of each row of r ← a r + b (``factors`` a > 0 and ``shifts`` b, one row
    an epoch): r_end = (Π a) r_start + Σⱼ bⱼ Π_{i>j} aᵢ, the products taken as sums of logarithms (no
    underflow however long the epoch)."""
    logs = np.log(factors)
    after = np.cumsum(logs[:, ::-1], axis=1)[:, ::-1] - logs   # Σ_{i>j} log aᵢ within each epoch
    values = [start]
    for total, shift, tail in zip(logs.sum(axis=1), shifts, after, strict=True):
        values.append(np.exp(total) * values[-1] + float(np.sum(shift * np.exp(tail))))
    return np.array(values)
