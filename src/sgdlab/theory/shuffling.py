"""Shuffled and cyclic orders: how far an epoch's shadow sequence at θ* drifts, which bounds how close
random reshuffling, shuffle once and cyclic stay to θ*.

Mishchenko, Khaled and Richtárik (2020, "Random Reshuffling: Simple Analysis with Vast Improvements",
Theorem 1) compare the iterates of an epoch with the shadow points x*ₖ = θ* − α Σ_{j<k} ḡⱼ, where ḡⱼ is
the mean of gᵢ = ∇fᵢ(θ*) over block j of the epoch's order; x*₀ = θ*, and x*_m = θ* when the m blocks
of B cover the N terms (Σᵢ gᵢ = 0). When every term fᵢ is convex, L_max-smooth and μ-strongly convex
and the step is a constant α ≤ 1/L_max, the three-point identity of Bregman divergences with
‖∇f̄(θ) − ∇f̄(θ*)‖² ≤ 2L_max D_f̄(θ, θ*) and D_f̄(x*ₖ, θ*) ≤ (L_max/2)‖x*ₖ − θ*‖² (f̄ a block's mean
term) gives, step by step,

    ‖θᵏ⁺¹ − x*ₖ₊₁‖² ≤ (1 − αμ) ‖θᵏ − x*ₖ‖² + α L_max ‖x*ₖ − θ*‖²,

so over an epoch of m steps, with q = 1 − αμ,

    ‖θ_{t+1} − θ*‖² ≤ q^m ‖θ_t − θ*‖² + α³ L_max D,   D = Σ_{k<m} q^{m−1−k} ‖Σ_{j<k} ḡⱼ‖².

For a uniformly random order, Σ_{j<k} ḡⱼ is 1/B times the sum of kB distinct terms drawn uniformly
from the gᵢ, whose mean is 0, so E‖Σ_{j<k} ḡⱼ‖² = kB(N − kB)/(B²(N − 1)) · σ², σ² = (1/N) Σᵢ ‖gᵢ‖².
Random reshuffling draws the order afresh each epoch, independent of θ_t; shuffle once draws it once,
but the epoch bound is linear in D, so unrolled over the epochs its expectation is the same. Cyclic's
order is fixed and its D comes from the prefix sums of the gᵢ. The paper bounds D by its largest
term (a neighbourhood of order α²L_max N σ²/μ); here D is computed exactly.
"""

from __future__ import annotations

import typing

import numpy as np

from sgdlab._helpers import pytrees
from sgdlab._helpers.declared import declared
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.problems.linear import LinearModel
from sgdlab.samplers import Sampler
from sgdlab.theory.minibatch import gradient_noise_at_optimum
from sgdlab.theory.noise_scale import example_gradients


def term_strong_convexity(problem: FiniteSum) -> float:
    """μ such that every term fᵢ is μ-strongly convex: the ℓ2 weight λ of a linear model, plus minᵢ xᵢ² for
    least squares in one parameter (fᵢ'' = xᵢ²); 0 otherwise."""
    if not declared(problem, "convex_terms", False):
        return 0.0
    linear = typing.cast(LinearModel, problem)   # the classes that declare convex terms are linear models
    mu = float(linear.l2)
    if declared(problem, "quadratic_terms", False) and linear.n_features == 1 and not linear.is_sparse:
        mu += float(np.min(np.asarray(linear.X, dtype=np.float64) ** 2))
    return mu


def shadow_drift(problem: FiniteSum, sampler: Sampler, q: float) -> float:
    """D = Σ_{k<m} q^{m−1−k} E‖Σ_{j<k} ḡⱼ‖² for the sampler's order (see the module docstring), with m = N/B
    blocks of B (B must divide N)."""
    n, batch = problem.n, sampler.batch_size   # type: ignore[attr-defined]   # the block samplers have one
    steps = np.arange(n // batch)
    weights = q ** (steps[::-1].astype(np.float64))
    if declared(sampler, "exact_law") == "cyclic":
        drifts = _cyclic_drifts(problem, batch)
    else:
        spread = gradient_noise_at_optimum(problem, 1)   # σ² = (1/N) Σᵢ ‖∇fᵢ(θ*)‖²
        drifts = steps * batch * (n - steps * batch) / (batch**2 * (n - 1)) * spread
    return float(weights @ drifts)


def _cyclic_drifts(problem: FiniteSum, batch: int) -> np.ndarray:
    """‖Σ_{j<k} ḡⱼ‖² = ‖Σ_{i<kB} gᵢ‖²/B² for k = 0, …, N/B − 1: the prefix sums of the terms' gradients at θ*
    in index order (kept in the problem's memo)."""
    key = ("cyclic_drifts", batch)
    if key not in problem.memo:
        solution = pytrees.conform("solution", problem.solution(), problem.params0)
        boundaries = np.arange(batch, problem.n, batch) - 1     # the last index of each block but the last
        prefix, start = None, 0
        sums: list[np.ndarray] = []
        for block in example_gradients(problem, solution, np.arange(problem.n)):
            running = np.cumsum(block.astype(np.float64), axis=0) + (0.0 if prefix is None else prefix)
            chosen = boundaries[(boundaries >= start) & (boundaries < start + len(block))] - start
            sums.extend(running[chosen])
            prefix, start = running[-1], start + len(block)
        squared = [0.0] + [float(total @ total) / batch**2 for total in sums]
        problem.memo[key] = np.array(squared)
    return problem.memo[key]
