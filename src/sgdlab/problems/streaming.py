"""Streaming least squares: the expectation of a squared error over fresh Gaussian data.

x ~ N(0, diag(v)), y = xᵀθ* + σε with ε ~ N(0, 1), f(θ, (x, y)) = ½(xᵀθ − y)². Then
F(θ) = E f = ½(θ − θ*)ᵀ diag(v) (θ − θ*) + σ²/2 in closed form: θ* is the solution, p* = σ²/2,
L = max v and μ = min v.
"""

from __future__ import annotations

import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.expectation import Expectation


def streaming_least_squares(theta_star, variances, noise: float = 0.1) -> Expectation:
    """E over x ~ N(0, diag(variances)), y = xᵀθ* + noise·ε of ½(xᵀθ − y)²; F, θ*, p* and L exact."""
    theta_star = validation.finite_array("theta_star", theta_star, ndim=1)
    variances = validation.finite_array("variances", variances, ndim=1)
    validation.same_length(("theta_star", "variances"), (theta_star.size, variances.size))
    if np.any(variances <= 0):
        validation.fail("variances", "positive numbers", validation.shown(variances))
    noise = validation.nonnegative_float("noise", noise)
    scale, target = jnp.sqrt(variances), jnp.asarray(theta_star)

    def sample(key):
        x_key, noise_key = jax.random.split(key)
        x = scale * jax.random.normal(x_key, target.shape)
        return x, x @ target + noise * jax.random.normal(noise_key)

    def loss(theta, omega):
        x, y = omega
        return 0.5 * (x @ theta - y) ** 2

    def expected_loss(theta):
        return 0.5 * jnp.sum(variances * (theta - target) ** 2) + 0.5 * noise**2

    return Expectation(loss, sample, np.zeros_like(theta_star), exact_loss=expected_loss, solution=theta_star,
                       optimal_value=0.5 * noise**2, lipschitz=float(variances.max()))
