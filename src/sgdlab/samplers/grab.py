"""GraB: each epoch's order learned from the previous epoch's gradients (Lu, Guo and De Sa 2022, "GraB: Finding
provably better data permutations than random reshuffling").

Epoch e visits the examples in the order πₑ, cut into blocks of B as the other permutation schemes are. While it
runs, each visited example's gradient gᵢ = ∇fᵢ(θ), taken at the θ of its step, is balanced against those visited
before it: with m the previous epoch's mean gradient (the *stale mean*, 0 in epoch 0) and s a running sum (0 when
the epoch starts), cᵢ = gᵢ − m goes to the front of the next order when ⟨s, cᵢ⟩ ≤ 0 (then s ← s + cᵢ), else to the
back (s ← s − cᵢ), the back filling from the end. πₑ₊₁ is the front in visiting order followed by the back in
reverse order of visits, and m ← (1/N) Σᵢ gᵢ. Herding the centred gradients this way keeps every prefix sum of
the next epoch's gradients close to its share of the full gradient, which is what makes GraB's epochs err less
than random reshuffling's (the paper's Theorem 2: O((nT)^(−2/3)) against RR's O(n^(−1/3) T^(−2/3))).

This is the paper's online variant with a stale mean (its Algorithm 4 with the deterministic balancing of
Algorithm 5): O(p) memory (s, m and the sum of the next m) and the N indices, not a stored gradient per example.
Epoch 0's order is permutation(N | seed, 0), random reshuffling's first epoch.

The order depends on the run, so its state (:class:`GrabState`) travels with θ in the engine's carry
(:class:`sgdlab.engines.base.Carry`) and in checkpoints: a resumed run continues identically.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.samplers import draws
from sgdlab.samplers.orders import RunOrdered
from sgdlab.samplers.registry import SAMPLERS


class GrabState(typing.NamedTuple):
    """Where GraB's ordering stands: the epoch's order πₑ, the stale mean m, and the next order being built (the
    running sum s, the sum of the epoch's gradients, the indices placed so far, the next free slot at the front and
    at the back). Gradients and sums are pytrees shaped like θ."""

    order: Any
    mean: Any
    running: Any
    total: Any
    next_order: Any
    front: Any
    back: Any


@dataclasses.dataclass(frozen=True, repr=False)
class GraB(RunOrdered):
    """Blocks of an order herded from the previous epoch's per-example gradients (see the module docstring); its
    state is a :class:`GrabState`."""

    name = "grab"
    native = "herded"
    theorems = ()

    def __post_init__(self):
        super().__post_init__()
        if self.drop_last:
            validation.fail("drop_last", "False for grab (every example's gradient places it in the next order)",
                            "True")

    def order(self, n, seed, epoch):
        """Epoch 0's order, permutation(N | seed, 0); later orders come from the run (:meth:`initial_state`)."""
        if epoch > 0:
            validation.fail("epoch", "0 for grab's batches (later epochs' orders are herded from the run's "
                            "gradients: sl.minimize runs them, Result.sampler_state holds the next one)",
                            validation.shown(epoch))
        return draws.permutation(n, seed, 0)

    def initial_state(self, n: int, seed: int, params) -> GrabState:
        """The state at the run's start: epoch 0's order, a zero stale mean, nothing placed yet."""
        zeros = jax.tree.map(np.zeros_like, params)
        return GrabState(self.order(n, seed, 0), zeros, zeros, zeros, np.zeros(n, dtype=np.int32),
                         np.int32(0), np.int32(n - 1))

    def observe(self, state: GrabState, gradients, indices, mask) -> GrabState:
        """The state after balancing a step's per-example gradients (a leading axis of B, one a batch entry),
        entry after entry; padding entries (mask 0) are skipped. A pure JAX function, run inside the step."""
        def place(b, state: GrabState) -> GrabState:
            gradient = jax.tree.map(lambda leaf: leaf[b], gradients)
            centred = jax.tree.map(jnp.subtract, gradient, state.mean)
            product = sum(jnp.vdot(s, c) for s, c in zip(jax.tree.leaves(state.running), jax.tree.leaves(centred),
                                                          strict=True))
            real, front = mask[b] != 0, product <= 0
            sign = jnp.where(front, 1, -1)
            slot = jnp.where(front, state.front, state.back)
            return GrabState(
                state.order, state.mean,
                jax.tree.map(lambda s, c: jnp.where(real, s + sign.astype(s.dtype) * c, s), state.running, centred),
                jax.tree.map(lambda t, g: jnp.where(real, t + g, t), state.total, gradient),
                state.next_order.at[jnp.where(real, slot, state.next_order.size)].set(indices[b], mode="drop"),
                state.front + (real & front), state.back - (real & ~front))

        return jax.lax.fori_loop(0, indices.shape[0], place, state)

    def after_steps(self, state: GrabState, iteration, n: int) -> GrabState:
        """At an epoch's end (``iteration`` a multiple of the epoch's steps) the next epoch's state: the order built,
        the stale mean (1/N) Σ gᵢ, sums and slots reset; else the state as it is (a piece of an epoch). In NumPy
        for a state of NumPy arrays (the native engine's, between its epochs), else in jax.numpy."""
        xp = np if _on_host(state, iteration) else jnp
        finished = GrabState(state.next_order, jax.tree.map(lambda t: t / n, state.total),
                             jax.tree.map(xp.zeros_like, state.running), jax.tree.map(xp.zeros_like, state.total),
                             xp.zeros_like(state.next_order), xp.zeros_like(state.front),
                             xp.full_like(state.back, n - 1))
        done = iteration % self.steps_per_epoch(n) == 0
        return jax.tree.map(lambda new, old: xp.where(done, new, old), finished, state)


def _on_host(state: GrabState, iteration) -> bool:
    """Whether the state's arrays and the iteration are NumPy's (or Python's), not JAX's (traced or not)."""
    return not isinstance(iteration, jax.Array) and all(
        isinstance(leaf, np.ndarray | np.generic) for leaf in jax.tree.leaves(state))


@SAMPLERS.register
def grab(batch_size: int = 1) -> GraB:
    """GraB's herded order (Lu, Guo and De Sa 2022): each epoch visits the examples in an order balanced from the
    previous epoch's per-example gradients, so that the partial sums of an epoch's gradients track the full
    gradient (see :mod:`sgdlab.samplers.grab`).

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses (the last block holds the N mod B left).

    Returns
    -------
    GraB
        The sampler. Its orders after epoch 0 depend on the run (the JAX engine computes them; a checkpoint holds
        them); ``batches`` gives epoch 0's, random reshuffling's.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(64, 3))
    >>> problem = sl.least_squares(X, X @ np.ones(3))
    >>> run = sl.minimize(problem, sl.grab(1), step=0.1, epochs=3)
    >>> sorted(np.asarray(run.sampler_state.order).tolist()) == list(range(64))   # the next epoch's order
    True
    """
    return GraB(batch_size)
