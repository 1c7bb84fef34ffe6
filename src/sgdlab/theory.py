"""What the theory says, made checkable on your own problem and run.

* Smoothness. L is a Lipschitz constant of ∇F: ‖∇F(θ) − ∇F(θ')‖ ≤ L‖θ − θ'‖. For the built-in
  linear models it is known in closed form; otherwise :func:`lipschitz` estimates the spectral
  norm of the Hessian ∇²F(θ) at a point by power iteration on Hessian-vector products (exact for
  a quadratic, a local value otherwise). For a finite sum, L_max = maxᵢ Lᵢ and the minibatch
  constant (uniform B-subsets) is L_B = N(B−1)/(B(N−1))·L + (N−B)/(B(N−1))·L_max.
* The step-size rule. With a constant step α ∈ (0, 2/L), gradient descent decreases F at every
  step, F(θᵏ⁺¹) ≤ F(θᵏ) − α(1 − αL/2)‖∇F(θᵏ)‖², and summing over k < K gives
  min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K), so ∇F(θᵏ) → 0.
* Unbiasedness. A sampler's stochastic gradient g at a fixed θ is unbiased when E[g] = ∇F(θ).
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
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from sgdlab import _checks, _pytree
from sgdlab.noise_scale import NoiseScale, noise_scale
from sgdlab.problems.base import FiniteSum, Problem
from sgdlab.problems.linear import LinearModel
from sgdlab.samplers import Sampler

__all__ = ["LipschitzConstant", "lipschitz", "hessian_norm", "lipschitz_max", "minibatch_lipschitz", "StepCheck",
           "check_step", "Descent", "descent", "GradientBound", "gradient_bound", "Unbiasedness", "unbiasedness",
           "NoiseScale", "noise_scale"]

#: Power iteration stops when the estimate changes by less than this, relatively.
POWER_TOL = 1e-12
POWER_MAX_ITERATIONS = 10_000
#: Family-wise level of the unbiasedness test (Bonferroni over the directions tested).
UNBIASED_LEVEL = 1e-3
#: Up to this many parameters the unbiasedness test looks at every coordinate; above, at as many
#: fixed random unit directions (projections average many coordinates, so their means are close
#: to Gaussian even when single coordinates are heavy-tailed, as a network's sparse inputs make them).
UNBIASED_DIRECTIONS = 64


class LipschitzConstant(float):
    """A Lipschitz constant (a float) that says how it was obtained: ``method`` and ``exact``."""

    def __new__(cls, value: float, method: str, exact: bool):
        constant = super().__new__(cls, value)
        constant.method, constant.exact = method, exact
        return constant

    def __repr__(self) -> str:
        return f"LipschitzConstant({float(self)!r}, method={self.method!r})"


def lipschitz(problem: Problem, params=None) -> LipschitzConstant:
    """L of ∇F: the problem's own value where it knows one, else power iteration at ``params``
    (default θ⁰) on Hessian-vector products."""
    known = problem.lipschitz()
    if known is not None:
        exact = isinstance(problem, LinearModel) and problem.curvature == 1.0
        return LipschitzConstant(known, "closed form" if exact else "closed-form bound", exact)
    return hessian_norm(problem, params)


def hessian_norm(problem: FiniteSum, params=None) -> LipschitzConstant:
    """‖∇²F(θ)‖₂ by power iteration: v ← Hv/‖Hv‖ with Hv = d/dt ∇F(θ + tv) (``jax.jvp`` of
    ``jax.grad``), until |vᵀHv| changes by less than POWER_TOL relatively."""
    params = problem.params0 if params is None else _pytree.conform("params", params, problem.params0)
    grad = problem.grad(params)
    if not bool(_pytree.all_finite(grad)):
        _checks.fail("params", "a point where ∇F is finite (power iteration needs Hessian-vector products)",
                     "a non-finite gradient", context="lipschitz")
    value, iterations = _power_iteration(problem, params, problem.data)
    if not np.isfinite(value):
        _checks.fail("params", "a point where the Hessian-vector products are finite", "non-finite values",
                     context="lipschitz")
    method = f"power iteration on Hessian-vector products at θ ({int(iterations)} iterations; a local value)"
    return LipschitzConstant(float(value), method, exact=False)


@functools.partial(jax.jit, static_argnums=0)
def _power_iteration(problem: FiniteSum, params, data):
    flat, unravel = ravel_pytree(params)

    def hvp(v):
        gradient = jax.grad(lambda p: problem.data_loss(p, data))
        return ravel_pytree(jax.jvp(gradient, (params,), (unravel(v),))[1])[0]

    def step(state):
        v, estimate, _, i = state
        hv = hvp(v)
        return hv / jnp.linalg.norm(hv), jnp.abs(jnp.vdot(v, hv)), estimate, i + 1

    def unsettled(state):
        _, estimate, previous, i = state
        return (jnp.abs(estimate - previous) > POWER_TOL * jnp.abs(estimate)) & (i < POWER_MAX_ITERATIONS)

    start = jax.random.normal(jax.random.key(0), flat.shape, flat.dtype)
    _, estimate, _, iterations = jax.lax.while_loop(
        unsettled, step, (start / jnp.linalg.norm(start), jnp.asarray(0.0, flat.dtype),
                          jnp.asarray(jnp.inf, flat.dtype), 0))
    return estimate, iterations


def lipschitz_max(problem: Problem) -> float:
    """L_max = maxᵢ Lᵢ, the largest Lipschitz constant of the terms ∇fᵢ (known for linear models)."""
    value = problem.lipschitz_max()
    if value is None:
        _checks.fail("problem", "a problem that knows its per-example constants (the built-in linear models)",
                     _checks.shown(problem), context="lipschitz_max")
    return value


def minibatch_lipschitz(problem: Problem, batch_size: int) -> float:
    """L_B = N(B−1)/(B(N−1))·L + (N−B)/(B(N−1))·L_max: L_1 = L_max and L_N = L."""
    n = problem.n
    batch_size = _checks.integer("batch_size", batch_size, high=n, context="minibatch_lipschitz")
    L, L_max = float(lipschitz(problem)), lipschitz_max(problem)
    if n == 1:
        return L
    return n * (batch_size - 1) / (batch_size * (n - 1)) * L + (n - batch_size) / (batch_size * (n - 1)) * L_max


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
    """Compare a constant step α with 2/L, the limit of gradient descent's guarantee."""
    alpha = _checks.positive_float("alpha", alpha, context="check_step")
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
        _checks.fail("result", "a run with a constant step", result.step.describe(), context="gradient_bound")
    L = float(lipschitz(problem))
    if alpha * L >= 2:
        _checks.fail("result", "a run with α·L < 2 (the bound holds only there)", f"α·L = {alpha * L:.3g}",
                     context="gradient_bound")
    inf_value = _infimum(problem, lower_bound)
    K = int(history.iteration.iloc[-1])
    observed = float(np.min(history.grad_norm.to_numpy()[:-1] ** 2))
    bound = 2 * (float(history.loss.iloc[0]) - inf_value) / (alpha * (2 - alpha * L) * K)
    return GradientBound(observed, bound, observed <= bound, K, alpha, L, inf_value)


def _infimum(problem: Problem, lower_bound: float | None) -> float:
    if lower_bound is not None:
        return float(lower_bound)
    if problem.optimal_value() is not None:
        return problem.optimal_value()
    if isinstance(problem, LinearModel):
        return 0.0
    _checks.fail("lower_bound", "given (a number ≤ inf F) for a problem whose p* is not known", "None",
                 context="gradient_bound")


def _per_step_history(result, check: str):
    history = result.history
    if not result.sampler.is_full_batch or not np.all(np.diff(history.iteration.to_numpy()) == 1):
        _checks.fail("result", "a gradient-descent run recorded at every step (sampler=full_batch(), record_every=1)",
                     f"{result.sampler!r} with iterations {history.iteration.tolist()[:4]}...", context=check)
    if len(history) < 2:
        _checks.fail("result", "a run of at least one step", "a run with no step", context=check)
    return history


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


def unbiasedness(problem: FiniteSum, sampler: Sampler, params=None, draws: int = 2000, step: int = 0,
                 epoch: int = 0, seed: int = 0) -> Unbiasedness:
    """Test whether the sampler's stochastic gradient at step ``step`` of epoch ``epoch`` is unbiased
    at θ = ``params`` (default θ⁰), from ``draws`` runs with seeds seed, seed + 1, …

    A coordinate whose draws all agree has sd 0: its z is 0 when the mean equals ∇F to rounding,
    else infinite (a deterministic, biased gradient, as cyclic's).
    """
    params = problem.params0 if params is None else _pytree.conform("params", params, problem.params0)
    draws = _checks.integer("draws", draws, low=2, context="unbiasedness")
    step = _checks.integer("step", step, low=0, high=sampler.steps_per_epoch(problem.n) - 1, context=repr(sampler))
    epoch = _checks.integer("epoch", epoch, low=0, context="unbiasedness")
    seed = _checks.integer("seed", seed, low=0, context="unbiasedness")
    sampler.validate(problem.n)
    batches = [sampler.plan(problem.n, seed + draw, epoch) for draw in range(draws)]
    indices = np.stack([plan[0][step] for plan in batches])
    masks = np.stack([plan[1][step] for plan in batches])
    samples = np.asarray(_stochastic_gradients(problem, params, problem.data, indices, masks))
    exact = np.asarray(ravel_pytree(problem.grad(params))[0])
    basis, directions = _test_directions(exact.size)
    z = _z_scores(samples @ basis.T, basis @ exact)
    import scipy.stats   # imported here: it takes longer to import than most runs take to start

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


@functools.partial(jax.jit, static_argnums=0)
def _stochastic_gradients(problem, params, data, indices, masks):
    """The flattened minibatch gradient for each row of ``indices``/``masks`` (one batch a draw)."""

    def one(batch, mask):
        return ravel_pytree(jax.grad(problem.masked_loss)(params, data, batch, mask))[0]

    return jax.vmap(one)(indices, masks)
