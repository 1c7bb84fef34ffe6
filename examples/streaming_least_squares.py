"""Streaming least squares: SGD on an expectation, with fresh data at every step.

Run:  python examples/streaming_least_squares.py

x ~ N(0, Σ), y = xᵀθ* + ε, f(θ, (x, y)) = ½(xᵀθ − y)², so F(θ) = E f = ½(θ − θ*)ᵀΣ(θ − θ*) + σ²/2 is
known exactly (L = λ_max(Σ), μ = λ_min(Σ)). SGD with B fresh draws per step and αₖ = c/(k + k₀)
is compared with gradient descent on the exact expectation, θᵏ⁺¹ = θᵏ − α E_ω[∇f(θᵏ, ω)].
"""

import jax
import jax.numpy as jnp
import numpy as np

import sgdlab as sl

THETA_STAR = jnp.array([2.0, -1.0, 0.5, 0.0])
VARIANCES = jnp.array([4.0, 1.0, 0.5, 0.25])   # Σ = diag: L = 4, μ = 0.25
NOISE = 0.3


def sample(key):
    """One draw ω = (x, y)."""
    kx, ke = jax.random.split(key)
    x = jnp.sqrt(VARIANCES) * jax.random.normal(kx, (4,))
    return x, x @ THETA_STAR + NOISE * jax.random.normal(ke)


def loss(theta, omega):
    x, y = omega
    return 0.5 * (x @ theta - y) ** 2


def expected_loss(theta):
    """F(θ) = ½(θ − θ*)ᵀΣ(θ − θ*) + σ²/2."""
    return 0.5 * jnp.sum(VARIANCES * (theta - THETA_STAR) ** 2) + 0.5 * NOISE**2


def main():
    problem = sl.expectation(loss, sample, np.zeros(4), exact_loss=expected_loss, solution=THETA_STAR,
                             optimal_value=0.5 * NOISE**2, lipschitz=4.0)
    mu = 0.25
    sgd = sl.minimize(problem, sampler=sl.iid(8), step=sl.inverse_time(0.1, 0.1 * mu / 2), steps=20_000,
                      record_every=4_000, seed=0)   # αₖ = c/(k + k₀) with c = 2/μ, k₀ = 2/(0.1 μ) = 80
    gd = sl.minimize(problem, sampler=sl.full_batch(), step=1 / 4.0, steps=200, record_every=50)
    print("SGD, 8 fresh draws a step:", sgd.message)
    print(sgd.history[["iteration", "gap", "dist"]].to_string(index=False))
    print("GD on the exact expectation:", gd.message)


if __name__ == "__main__":
    main()
