"""Unbiasedness: whether a sampler's stochastic gradient g at a fixed θ has E[g] = ∇F(θ).

With and without replacement draws are uniform, so every step is unbiased. Cyclic is not: its
k-th batch is fixed. Shuffled cyclic passes the test marginally, since at any fixed step of an
epoch the batch is a uniform B-subset. It is *not* unbiased given the epoch's earlier batches,
though: those exclude their examples from later batches (the last batch of an epoch is fully
determined by the others). In a run, θᵏ depends on those earlier batches, so
E[gᵏ | θᵏ] ≠ ∇F(θᵏ) in general. The usual SGD analysis therefore does not apply to random
reshuffling; it needs an analysis of its own.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Params
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler

#: Family-wise level of the unbiasedness test (Bonferroni over the directions tested).
UNBIASED_LEVEL = 1e-3
#: Up to this many parameters the unbiasedness test looks at every coordinate; above, at as many
#: fixed random unit directions (projections average many coordinates, so their means are close
#: to Gaussian even when single coordinates are heavy-tailed, as a network's sparse inputs make them).
UNBIASED_DIRECTIONS = 64


@dataclasses.dataclass(frozen=True)
class Unbiasedness:
    """A test of E[g] = ∇F(θ) from ``draws`` stochastic gradients at a fixed θ. Along each tested
    direction u (every coordinate, or UNBIASED_DIRECTIONS random unit vectors for larger θ) the
    z-score is z = (mean(gᵀu) − ∇Fᵀu) / (sd(gᵀu)/√draws); ``max_abs_z``; ``threshold`` (Bonferroni,
    level UNBIASED_LEVEL over the directions); ``unbiased`` = max |z| ≤ threshold; ``directions``
    (what was tested) and a ``verdict``."""

    z: np.ndarray
    max_abs_z: float
    threshold: float
    unbiased: bool
    draws: int
    directions: str
    verdict: str


def unbiasedness(problem: FiniteSum, sampler: Sampler, params: Params | None = None, draws: int = 2000,
                 step: int = 0, epoch: int = 0, seed: int = 0) -> Unbiasedness:
    """Test whether the sampler's stochastic gradient at step ``step`` of epoch ``epoch`` is unbiased
    at θ = ``params`` (default θ⁰), from ``draws`` runs with seeds seed, seed + 1, …

    A coordinate whose draws all agree has sd 0: its z is 0 when the mean equals ∇F to rounding,
    else infinite (a deterministic, biased gradient, as cyclic's).

    Parameters
    ----------
    problem : FiniteSum
        The problem.
    sampler : Sampler
        The sampler whose batches are tested.
    params : pytree, optional
        θ (default θ⁰).
    draws : int, default 2000
        Independent runs (seeds) drawn.
    step, epoch : int, default 0
        Which step of which epoch is tested.
    seed : int, default 0
        The first seed.

    Returns
    -------
    Unbiasedness
        The z-scores, their largest magnitude against the Bonferroni threshold at level UNBIASED_LEVEL,
        and the verdict.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> sl.theory.unbiasedness(problem, sl.with_replacement(1), draws=500).unbiased
    True
    >>> sl.theory.unbiasedness(problem, sl.cyclic(1), draws=500).unbiased   # the first step always uses x₀
    False
    """
    params = problem.params0 if params is None else pytrees.conform("params", params, problem.params0)
    draws = validation.integer("draws", draws, low=2, context="unbiasedness")
    step = validation.integer("step", step, low=0, high=sampler.steps_per_epoch(problem.n) - 1, context=repr(sampler))
    epoch = validation.integer("epoch", epoch, low=0, context="unbiasedness")
    seed = validation.integer("seed", seed, low=0, context="unbiasedness")
    sampler = sampler.for_problem(problem)
    sampler.validate(problem.n)
    batches = [sampler.plan(problem.n, seed + draw, epoch) for draw in range(draws)]
    indices = np.stack([plan[0][step] for plan in batches])
    masks = np.stack([plan[1][step] for plan in batches])
    samples = np.asarray(problem.jitted(_stochastic_gradients)(params, problem.data, indices, masks))
    exact = np.asarray(ravel_pytree(problem.grad(params))[0])
    basis, directions = _test_directions(exact.size)
    z = _z_scores(samples @ basis.T, basis @ exact)
    import scipy.stats  # imported here: it takes longer to import than most runs take to start

    threshold = float(scipy.stats.norm.isf(UNBIASED_LEVEL / (2 * len(basis))))
    max_abs_z = float(np.max(np.abs(z)))
    unbiased = max_abs_z <= threshold
    verdict = (f"max |z| = {max_abs_z:.3g} {'≤' if unbiased else '>'} {threshold:.3g} over {directions} "
               f"and {draws} draws: {'consistent with' if unbiased else 'evidence against'} E[g] = ∇F(θ)")
    return Unbiasedness(z, max_abs_z, threshold, unbiased, draws, directions, verdict + ".")


def _test_directions(size: int) -> tuple[np.ndarray, str]:
    """The unit vectors the unbiasedness test projects on, and how to say which they are."""
    if size <= UNBIASED_DIRECTIONS:
        return np.eye(size), f"{size} coordinates"
    basis = np.random.default_rng(0).normal(size=(UNBIASED_DIRECTIONS, size))
    return basis / np.linalg.norm(basis, axis=1, keepdims=True), f"{UNBIASED_DIRECTIONS} random directions"


def _z_scores(samples: np.ndarray, exact: np.ndarray) -> np.ndarray:
    error = samples.mean(axis=0) - exact
    sd = samples.std(axis=0, ddof=1)
    rounding = 1e-12 * (np.abs(exact) + np.abs(samples).max(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > rounding, error / (sd / np.sqrt(len(samples))),
                        np.where(np.abs(error) <= rounding, 0.0, np.inf))


def _stochastic_gradients(problem, params, data, indices, masks):
    """The flattened minibatch gradient for each row of ``indices``/``masks`` (one batch a draw)."""

    def one(batch, mask):
        return ravel_pytree(jax.grad(problem.masked_loss)(params, data, batch, mask))[0]

    return jax.vmap(one)(indices, masks)
