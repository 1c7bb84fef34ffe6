"""Variance reduction: stochastic gradients whose variance vanishes at the solution.

Each method corrects the minibatch gradient on the batch Iₖ (b real entries) with stored gradients,
keeping it unbiased, so a constant step converges linearly on a strongly convex finite sum where
plain SGD stalls at its noise floor:

* :func:`svrg` (Johnson and Zhang 2013): every ``snapshot_every`` epochs, at the start of the epoch,
  the snapshot w̃ ← θ and μ ← ∇F(w̃) (a full pass); each step
  gₖ = (1/b) Σ_{i ∈ Iₖ} (∇fᵢ(θᵏ) − ∇fᵢ(w̃)) + μ;
* :func:`loopless_svrg` (Kovalev, Horváth and Richtárik 2020): the same gₖ, with the snapshot moved
  to the iterate the step starts from with probability p before each step (and at the first);
* :func:`saga` (Defazio, Bach and Lacoste-Julien 2014): a table of one gradient per example, φᵢ,
  started at ∇fᵢ(θ⁰) (a full pass); each step
  gₖ = (1/b) Σ_{i ∈ Iₖ} (∇fᵢ(θᵏ) − φᵢ) + (1/N) Σⱼ φⱼ, then φᵢ ← ∇fᵢ(θᵏ) for i ∈ Iₖ.

SAGA's table holds the gradients of fᵢ − r, where r is the problem's penalty (e.g. (λ/2)‖θ‖² of a
regularized linear model, shared by every fᵢ), and ∇r(θᵏ) is added exactly at each step; for a
linear model fᵢ − r = ℓ(xᵢᵀθ, yᵢ), so a table entry is xᵢ times one number ℓ′ᵢ. Every step is
θᵏ⁺¹ = θᵏ − αₖ gₖ. Each refresh (snapshot, table start) is a flag of the plan, drawn from (seed, epoch).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.methods.base import Method, StepGradients
from sgdlab.methods.registry import METHODS


def _descend(params, grads, alpha):
    return jax.tree.map(lambda p, g: p - jnp.asarray(alpha, p.dtype) * g, params, grads)


def _corrected(current, stored, mean):
    """current − stored + mean, leaf by leaf."""
    return jax.tree.map(lambda c, s, m: c - s + m, current, stored, mean)


def _first_step_flags(steps: int, refresh: bool) -> np.ndarray:
    flags = np.zeros(steps, dtype=bool)
    flags[0] = refresh
    return flags


@dataclasses.dataclass(frozen=True)
class SVRG(Method):
    """SVRG with a full-gradient snapshot every ``snapshot_every`` epochs (see the module docstring)."""

    snapshot_every: int = 1
    name = "svrg"
    native = "svrg"
    theorems = (theorem.SVRG,)
    gradients_per_example = 2
    needs_finite_sum = True

    def init(self, params: Any, n: int | None = None) -> Any:
        """(w̃, μ), both zero until the first snapshot (the first step's flag)."""
        return jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)

    def flags(self, n: int, batch_size: int, seed: int, epoch: int, steps: int) -> np.ndarray:
        """A snapshot before the first step of every ``snapshot_every``-th epoch (epoch 0 first)."""
        return _first_step_flags(steps, epoch % self.snapshot_every == 0)

    def inner_loop(self, steps_per_epoch: int) -> int:
        """m, the steps between two snapshots (Johnson and Zhang's inner loop): ``snapshot_every`` epochs of steps.
        The next snapshot is the inner loop's last iterate (their option I)."""
        return self.snapshot_every * steps_per_epoch

    def step(self, params: Any, state: Any, gradients: StepGradients, alpha: Any) -> tuple[Any, Any]:
        """θ − α ((1/b) Σ (∇fᵢ(θ) − ∇fᵢ(w̃)) + μ), after the snapshot when the step's flag is set."""
        full = gradients.full
        assert full is not None   # a finite sum in memory (run.options refuses the rest)
        state = jax.lax.cond(gradients.flag, lambda: (params, full(params)), lambda: state)
        snapshot, mu = state
        return _descend(params, _corrected(gradients.mean(params), gradients.mean(snapshot), mu), alpha), state

    def describe(self) -> str:
        every = "every epoch" if self.snapshot_every == 1 else f"every {self.snapshot_every} epochs"
        return f"SVRG (snapshot {every})"


@dataclasses.dataclass(frozen=True)
class LooplessSVRG(SVRG):
    """Loopless SVRG: the snapshot moves to θᵏ with probability p before step k (see the module docstring)."""

    p: float | None = None
    name = "loopless_svrg"
    native = "svrg"   # the same kernel, its snapshots at its own flags
    theorems = (theorem.LOOPLESS_SVRG,)

    def probability(self, n: int, batch_size: int) -> float:
        """p, or B/N when not given (one snapshot an epoch on average)."""
        return self.p if self.p is not None else min(1.0, batch_size / n)

    def flags(self, n: int, batch_size: int, seed: int, epoch: int, steps: int) -> np.ndarray:
        """Each step's coin, heads with probability p, from (seed, epoch); the run's first step always."""
        generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch, 0x5F1A95])))
        coins = generator.random(steps) < self.probability(n, batch_size)
        coins[0] |= epoch == 0
        return coins

    def describe(self) -> str:
        return "loopless SVRG" + ("" if self.p is None else f" (p = {self.p:g})")


@dataclasses.dataclass(frozen=True)
class SAGA(Method):
    """SAGA with a table of one gradient per example (see the module docstring)."""

    name = "saga"
    native = "saga"
    theorems = (theorem.SAGA,)
    needs_finite_sum = True

    def init(self, params: Any, n: int | None = None) -> Any:
        """(φ, φ̄): the table, N × θ's shape, and its mean; filled at the first step (its flag)."""
        assert n is not None
        return jax.tree.map(lambda p: jnp.zeros((n, *jnp.shape(p)), jnp.result_type(p)), params), \
            jax.tree.map(jnp.zeros_like, params)

    def flags(self, n: int, batch_size: int, seed: int, epoch: int, steps: int) -> np.ndarray:
        """The table starts before the run's first step."""
        return _first_step_flags(steps, epoch == 0)

    def step(self, params: Any, state: Any, gradients: StepGradients, alpha: Any) -> tuple[Any, Any]:
        """θ − α ((1/b) Σ (∇(fᵢ − r)(θ) − φᵢ) + φ̄ + ∇r(θ)); then φᵢ ← ∇(fᵢ − r)(θ) for the batch."""
        each, every, penalty = gradients.each, gradients.every, gradients.penalty
        assert each is not None and every is not None and penalty is not None
        table, mean = jax.lax.cond(gradients.flag, lambda: _started(every(params)), lambda: state)
        indices, mask = gradients.indices, gradients.mask
        current = each(params)
        stored = jax.tree.map(lambda leaf: leaf[indices], table)
        weights = mask.astype(jax.tree.leaves(params)[0].dtype)
        batch_mean = jax.tree.map(lambda c, s: jnp.tensordot(weights, c - s, axes=1) / jnp.sum(weights),
                                  current, stored)
        direction = jax.tree.map(lambda d, m, r: d + m + r, batch_mean, mean, penalty(params))
        n = jax.tree.leaves(table)[0].shape[0]
        return _descend(params, direction, alpha), _stored(table, mean, current, stored, indices, mask, n)

    def describe(self) -> str:
        return "SAGA"


def _started(gradients):
    """The table of all N gradients and its mean."""
    return gradients, jax.tree.map(lambda leaf: jnp.mean(leaf, axis=0), gradients)


def _stored(table, mean, current, stored, indices, mask, n: int):
    """The table with the batch's real entries replaced by their current gradients, and its mean updated by
    (1/N) Σ over the batch's distinct indices of (new − old) (an index drawn twice counts once)."""
    same = (indices[:, None] == indices[None, :]) & mask[None, :]
    weights = jnp.where(mask, 1.0 / jnp.maximum(jnp.sum(same, axis=1), 1), 0.0)
    mean = jax.tree.map(lambda m, c, s: m + jnp.tensordot(weights.astype(c.dtype), c - s, axes=1) / n,
                        mean, current, stored)
    rows = jnp.where(mask, indices, n)   # padding goes out of bounds and is dropped
    table = jax.tree.map(lambda t, c: t.at[rows].set(c, mode="drop"), table, current)
    return table, mean


@METHODS.register
def svrg(snapshot_every: int = 1) -> SVRG:
    """SVRG: gₖ = (1/b) Σ_{i ∈ Iₖ} (∇fᵢ(θᵏ) − ∇fᵢ(w̃)) + ∇F(w̃), with the snapshot w̃ ← θ taken at the start
    of every ``snapshot_every``-th epoch; θᵏ⁺¹ = θᵏ − αₖ gₖ.

    A step computes two per-example gradients for each batch entry and a snapshot N, which the history's
    ``grad_evals`` counts. With α ≤ 1/(4 L_max) and enough steps between snapshots it converges linearly on a
    strongly convex finite sum (Johnson and Zhang 2013).

    Parameters
    ----------
    snapshot_every : int, default 1
        Epochs between snapshots, at least 1.

    Returns
    -------
    SVRG
        The method, for ``minimize(..., method=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.svrg(snapshot_every=2).describe()
    'SVRG (snapshot every 2 epochs)'
    """
    return SVRG(validation.integer("snapshot_every", snapshot_every, low=1, context="svrg"))


@METHODS.register
def loopless_svrg(p: float | None = None) -> LooplessSVRG:
    """Loopless SVRG: SVRG's gₖ, with the snapshot moved to θᵏ with probability p before each step.

    Parameters
    ----------
    p : float, optional
        The snapshot probability in (0, 1]; by default B/N, one snapshot an epoch on average.

    Returns
    -------
    LooplessSVRG
        The method, for ``minimize(..., method=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.loopless_svrg(p=0.01).describe()
    'loopless SVRG (p = 0.01)'
    """
    if p is not None:
        p = validation.real("p", p, allowed="a probability in (0, 1]", accept=lambda value: 0 < value <= 1,
                            context="loopless_svrg")
    return LooplessSVRG(p=p)


@METHODS.register
def saga() -> SAGA:
    """SAGA: gₖ = (1/b) Σ_{i ∈ Iₖ} (∇fᵢ(θᵏ) − φᵢ) + (1/N) Σⱼ φⱼ, then φᵢ ← ∇fᵢ(θᵏ) for i ∈ Iₖ.

    The table starts at φᵢ = ∇fᵢ(θ⁰) (one pass, counted in ``grad_evals``) and needs N gradients of
    memory (N numbers for a built-in linear model, whose ∇fᵢ is xᵢ times a number). With α = 1/(3 L_max)
    it converges linearly on a strongly convex finite sum (Defazio, Bach and Lacoste-Julien 2014).

    Returns
    -------
    SAGA
        The method, for ``minimize(..., method=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.saga().describe()
    'SAGA'
    """
    return SAGA()
