"""Momentum: the update remembers the previous steps.

* :func:`heavy_ball`: v⁺ = β v + g, θ⁺ = θ − α v⁺ (Polyak's momentum, in the form
  ``torch.optim.SGD(momentum=β)`` uses; with a constant α it is θ⁺ = θ − α g + β (θ − θ⁻));
* :func:`nesterov`: v⁺ = β v + g, θ⁺ = θ − α (g + β v⁺) (``torch.optim.SGD(momentum=β, nesterov=True)``).

On a quadratic with Hessian eigenvalues in (0, L], heavy ball with a constant step is stable exactly
when 0 ≤ β < 1 and α < 2(1 + β)/L (Polyak 1987, §3.2), which :func:`stability_limit` gives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sgdlab._helpers import theorem, validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.methods.base import Method
from sgdlab.methods.registry import METHODS


@dataclasses.dataclass(frozen=True)
class HeavyBall(Method):
    """Heavy-ball momentum: v⁺ = β v + g, θ⁺ = θ − α v⁺ (v⁰ = 0)."""

    beta: float = 0.9
    name = "heavy_ball"
    native = "heavy_ball"
    theorems = (theorem.HEAVY_BALL_QUADRATIC,)

    def init(self, params: Any, n: int | None = None) -> Any:
        """v⁰ = 0, shaped like θ."""
        return jax.tree.map(jnp.zeros_like, params)

    def apply(self, params: Any, state: Any, grads: Any, alpha: Any) -> tuple[Any, Any]:
        """(θ − α v⁺, v⁺) with v⁺ = β v + g."""
        velocity = jax.tree.map(lambda v, g: jnp.asarray(self.beta, v.dtype) * v + g, state, grads)
        return jax.tree.map(lambda p, v: p - jnp.asarray(alpha, p.dtype) * v, params, velocity), velocity

    def describe(self) -> str:
        return f"heavy ball (β = {self.beta:g})"

    def step_scale(self) -> float:
        """1 − β: the step it takes in the long run, α/(1 − β), is then plain SGD's α."""
        return 1.0 - self.beta

    def stability_limit(self, L: float) -> float:
        """2(1 + β)/L: heavy ball's constant steps are stable on a quadratic exactly below it."""
        return 2.0 * (1.0 + self.beta) / L


@dataclasses.dataclass(frozen=True)
class Nesterov(HeavyBall):
    """Nesterov momentum: v⁺ = β v + g, θ⁺ = θ − α (g + β v⁺) (v⁰ = 0)."""

    name = "nesterov"
    native = "nesterov"
    theorems = (theorem.NESTEROV_QUADRATIC,)

    def apply(self, params: Any, state: Any, grads: Any, alpha: Any) -> tuple[Any, Any]:
        """(θ − α (g + β v⁺), v⁺) with v⁺ = β v + g."""
        velocity = jax.tree.map(lambda v, g: jnp.asarray(self.beta, v.dtype) * v + g, state, grads)
        beta = self.beta

        def step(p, g, v):
            return p - jnp.asarray(alpha, p.dtype) * (g + jnp.asarray(beta, v.dtype) * v)

        params = jax.tree.map(step, params, grads, velocity)
        return params, velocity

    def describe(self) -> str:
        return f"Nesterov (β = {self.beta:g})"

    def stability_limit(self, L: float) -> float:
        """(2 + 2β)/((1 + 2β) L): Nesterov's constant steps are stable on a quadratic exactly below it."""
        return (2.0 + 2.0 * self.beta) / ((1.0 + 2.0 * self.beta) * L)


@METHODS.register
def heavy_ball(beta: float = 0.9) -> HeavyBall:
    """Heavy-ball momentum: vᵏ⁺¹ = β vᵏ + gᵏ, θᵏ⁺¹ = θᵏ − αₖ vᵏ⁺¹, with 0 ≤ β < 1.

    Parameters
    ----------
    beta : float, default 0.9
        β, the momentum, in [0, 1).

    Returns
    -------
    HeavyBall
        The method, for ``minimize(..., method=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.heavy_ball(0.5).stability_limit(L=2.0)   # 2(1 + β)/L
    1.5
    """
    return HeavyBall(_momentum("heavy_ball", beta))


@METHODS.register
def nesterov(beta: float = 0.9) -> Nesterov:
    """Nesterov momentum: vᵏ⁺¹ = β vᵏ + gᵏ, θᵏ⁺¹ = θᵏ − αₖ (gᵏ + β vᵏ⁺¹), with 0 ≤ β < 1.

    Parameters
    ----------
    beta : float, default 0.9
        β, the momentum, in [0, 1).

    Returns
    -------
    Nesterov
        The method, for ``minimize(..., method=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.nesterov(0.5).describe()
    'Nesterov (β = 0.5)'
    """
    return Nesterov(_momentum("nesterov", beta))


def _momentum(name: str, beta: Any) -> float:
    """β in [0, 1), else an error naming it."""
    return validation.real("beta", beta, allowed="a number in [0, 1)", accept=lambda value: 0 <= value < 1,
                           context=name)
