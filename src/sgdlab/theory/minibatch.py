"""Minibatches: how a sampler's batch of B indices scales the smoothness and the noise of SGD.

Step k uses the batch mean g(θ) = (1/B) Σ_{i∈S} ∇fᵢ(θ). Its variance, relative to one uniformly drawn
term, is the *variance factor* c_B: for any vectors vᵢ with mean v̄,

    E‖(1/B) Σ_{i∈S} vᵢ − v̄‖² = c_B · (1/N) Σᵢ ‖vᵢ − v̄‖²,

with c_B = 1/B for B iid uniform indices (with replacement), c_B = (N − B)/(B(N − 1)) for a uniform
B-subset (without replacement), and c_B = 0 for all N (gradient descent). A batch of the shuffled
and shuffle-once schemes is a uniform B-subset at any fixed step, and cyclic's blocks are subsets
too: they take the without-replacement factor (their steps are not independent, which the
theorems of those schemes account for).

Two constants follow (Gower et al. 2019, "SGD: General Analysis and Improved Rates"), for convex
terms fᵢ with Lipschitz gradients:

* the expected smoothness 𝓛 = (1 − c_B)·L + c_B·L_max, so that E‖g(θ) − g(θ*)‖² ≤ 2𝓛 (F(θ) − p*):
  split E‖g(θ) − g(θ*)‖² into the mean's ‖∇F(θ)‖² ≤ 2L(F − p*) and c_B times the terms' spread,
  at most (1/N) Σᵢ ‖∇fᵢ(θ) − ∇fᵢ(θ*)‖² ≤ 2L_max (F − p*);
* the gradient noise at the optimum σ*² = E‖g(θ*)‖² = c_B · (1/N) Σᵢ ‖∇fᵢ(θ*)‖² (as ∇F(θ*) = 0).

For B iid indices 𝓛 = (1/B)·L_max + (1 − 1/B)·L; for a B-subset, N(B−1)/(B(N−1))·L + (N−B)/(B(N−1))·L_max.
Both give L_max at B = 1 and L at B = N without replacement.

Importance sampling (B iid indices, i with probability pᵢ, each gradient weighted 1/(N pᵢ)) is SGD on the
terms f̃ᵢ = fᵢ/(N pᵢ) drawn with probabilities pᵢ (Gower et al. 2019, §3.3): 𝓛 = (1/B)·maxᵢ Lᵢ/(N pᵢ) +
(1 − 1/B)·L and σ*² = (1/B)·(1/N²) Σᵢ ‖∇fᵢ(θ*)‖²/pᵢ. With pᵢ ∝ Lᵢ, maxᵢ Lᵢ/(N pᵢ) = L̄ = (1/N) Σᵢ Lᵢ: the mean
replaces the maximum. Its shuffled variant takes the same reweighted maximum in place of L_max, with the
B-subset factor of the other shuffled schemes.
"""

from __future__ import annotations

import numpy as np

from sgdlab._helpers import pytrees, validation
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Importance, ImportanceShuffled, Sampler, WithReplacement
from sgdlab.theory.noise_scale import example_gradients, noise_scale
from sgdlab.theory.smoothness import lipschitz, lipschitz_max


def variance_factor(n: int, batch_size: int, sampler: Sampler | None = None) -> float:
    """c_B, the variance of a batch mean relative to one uniform term (see the module docstring).

    Parameters
    ----------
    n : int
        N, the number of terms.
    batch_size : int
        B, in [1, N] (any B ≥ 1 with replacement).
    sampler : Sampler, optional
        ``with_replacement`` for iid indices; anything else (the default) for B-subsets; ``full_batch()``
        for all N (c = 0).

    Returns
    -------
    float
        1/B with replacement, (N − B)/(B(N − 1)) without (0 at B = N).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.theory.variance_factor(10, 2, sl.with_replacement(2)), round(sl.theory.variance_factor(10, 2), 6)
    (0.5, 0.444444)
    >>> sl.theory.variance_factor(10, 10), sl.theory.variance_factor(10, 3, sl.full_batch())
    (0.0, 0.0)
    """
    n = validation.integer("n", n)
    if sampler is not None and sampler.is_full_batch:
        return 0.0
    if isinstance(sampler, WithReplacement | Importance):   # B independent draws
        return 1.0 / validation.integer("batch_size", batch_size, context="variance_factor")
    batch_size = validation.integer("batch_size", batch_size, high=n, context="variance_factor")
    return 0.0 if n == 1 else (n - batch_size) / (batch_size * (n - 1))


def minibatch_lipschitz(problem: FiniteSum, batch_size: int, sampler: Sampler | None = None) -> float:
    """L_B = (1 − c_B)·L + c_B·L_max, the expected smoothness of the sampler's minibatches of B indices
    (Gower et al. 2019): N(B−1)/(B(N−1))·L + (N−B)/(B(N−1))·L_max for B-subsets (the default), and
    (1/B)·L_max + (1 − 1/B)·L for B iid indices (``sampler=with_replacement(B)``).

    Parameters
    ----------
    problem : FiniteSum
        A problem that knows L and L_max.
    batch_size : int
        B.
    sampler : Sampler, optional
        Which kind of batch (see :func:`variance_factor`); by default a uniform B-subset.

    Returns
    -------
    float
        L_B: L_max at B = 1, and L at B = N without replacement.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> sl.theory.minibatch_lipschitz(problem, 1) == sl.theory.lipschitz_max(problem)
    True
    >>> bool(np.isclose(sl.theory.minibatch_lipschitz(problem, 3), problem.lipschitz()))
    True
    >>> with_replacement = sl.theory.minibatch_lipschitz(problem, 3, sl.with_replacement(3))
    >>> bool(np.isclose(with_replacement, (4.0 + 2 * problem.lipschitz()) / 3))   # (L_max + 2L)/3
    True
    """
    n = problem.n
    independent = isinstance(sampler, WithReplacement | Importance)
    batch_size = validation.integer("batch_size", batch_size, high=None if independent else n,
                                    context="minibatch_lipschitz")
    c = variance_factor(n, batch_size, sampler)
    if isinstance(sampler, Importance | ImportanceShuffled):
        spread = _importance_smoothness(problem, sampler)
    else:
        spread = lipschitz_max(problem)
    return (1 - c) * float(lipschitz(problem)) + c * spread


def _importance_smoothness(problem: FiniteSum, sampler: Importance | ImportanceShuffled) -> float:
    """maxᵢ Lᵢ/(N pᵢ), the smoothness of the reweighted terms (inf when a term of positive Lᵢ is never drawn)."""
    each = problem.lipschitz_each()
    if each is None:
        validation.fail("problem", "a problem with per-example constants Lᵢ (lipschitz_each) for importance sampling's "
                        "smoothness", validation.shown(problem), context="minibatch_lipschitz")
    probabilities = sampler.probabilities(problem)
    with np.errstate(divide="ignore"):
        return float(np.max(np.where(each > 0, each / (problem.n * probabilities), 0.0)))


def gradient_noise_at_optimum(problem: FiniteSum, batch_size: int, sampler: Sampler | None = None) -> float:
    """σ*² = E‖g(θ*)‖² = c_B · (1/N) Σᵢ ‖∇fᵢ(θ*)‖², the variance of the sampler's minibatch gradient at the
    solution θ* (the noise that keeps constant-step SGD in a neighbourhood of θ*).

    Parameters
    ----------
    problem : FiniteSum
        A problem whose solution θ* is known.
    batch_size : int
        B.
    sampler : Sampler, optional
        Which kind of batch (see :func:`variance_factor`); by default a uniform B-subset.

    Returns
    -------
    float
        σ*² (exact: every term's gradient at θ* is summed).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.least_squares(np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 6.0]))   # θ* = mean = 3
    >>> sl.theory.gradient_noise_at_optimum(problem, 1)   # (1/N) Σ (3 − yᵢ)² = (4 + 1 + 0 + 9)/4
    3.5
    >>> sl.theory.gradient_noise_at_optimum(problem, 2, sl.with_replacement(2))
    1.75
    """
    solution = problem.solution()
    if solution is None:
        validation.fail("problem", "a problem whose solution θ* is known", validation.shown(problem),
                        context="gradient_noise_at_optimum")
    c = variance_factor(problem.n, batch_size, sampler)
    if isinstance(sampler, Importance):   # (1/B)(1/N²) Σ ‖∇fᵢ(θ*)‖²/pᵢ
        probabilities = sampler.probabilities(problem)
        squares = _gradient_squares_at_optimum(problem, solution)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(squares > 0, squares / probabilities, 0.0)
        return c * float(np.sum(terms)) / problem.n**2
    if "gradient_spread_at_optimum" not in problem.memo:   # (1/N) Σ ‖∇fᵢ(θ*)‖²: one pass over the data
        problem.memo["gradient_spread_at_optimum"] = noise_scale(problem, solution,
                                                                 exact_max=np.iinfo(np.int64).max).trace_covariance
    return c * problem.memo["gradient_spread_at_optimum"]


def _gradient_squares_at_optimum(problem: FiniteSum, solution) -> np.ndarray:
    """(‖∇fᵢ(θ*)‖²)ᵢ, kept in the problem's memo."""
    if "gradient_squares_at_optimum" not in problem.memo:
        blocks = example_gradients(problem, pytrees.conform("solution", solution, problem.params0),
                                   np.arange(problem.n))
        problem.memo["gradient_squares_at_optimum"] = np.concatenate(
            [np.sum(block.astype(np.float64) ** 2, axis=1) for block in blocks])
    return problem.memo["gradient_squares_at_optimum"]
