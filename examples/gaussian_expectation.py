"""Fitting a Gaussian by maximizing the expected log-likelihood E_ω[log N(ω; μ, σ²)] over (μ, log σ).

Run:  python examples/gaussian_expectation.py

The data are a stream: every step draws 16 fresh ω ~ N(3, 0.7²). Stochastic gradient ascent with
αₖ = c/(k + k₀) drives (μ, σ) to the true (3, 0.7); the exact expected log-likelihood,
−½ log 2π − log σ − (0.7² + (3 − μ)²)/(2σ²), is given so the history reports f itself.
"""

import jax
import jax.numpy as jnp
import numpy as np

import sgdlab as sl

MEAN, STD = 3.0, 0.7


def log_density(params, omega):
    """log N(ω; μ, σ²) with σ = exp(log_std)."""
    z = (omega - params["mean"]) / jnp.exp(params["log_std"])
    return -0.5 * jnp.log(2 * jnp.pi) - params["log_std"] - 0.5 * z**2


def expected_log_density(params):
    """E_ω log N(ω; μ, σ²) for ω ~ N(MEAN, STD²)."""
    variance = jnp.exp(2 * params["log_std"])
    return -0.5 * jnp.log(2 * jnp.pi) - params["log_std"] - (STD**2 + (MEAN - params["mean"]) ** 2) / (2 * variance)


def main():
    problem = sl.expectation(log_density, lambda key: MEAN + STD * jax.random.normal(key),
                             {"mean": 0.0, "log_std": 0.0}, exact_loss=expected_log_density,
                             solution={"mean": MEAN, "log_std": np.log(STD)})
    result = sl.maximize(problem, sampler=sl.iid(16), step=sl.inverse_time(0.2, 0.01), steps=10_000, record_every=2_000)
    print(result.message)
    print(result.history[["iteration", "loss", "dist"]].to_string(index=False))
    mean, std = float(result.params["mean"]), float(np.exp(result.params["log_std"]))
    print(f"μ = {mean:.4f} (true {MEAN}), σ = {std:.4f} (true {STD})")


if __name__ == "__main__":
    main()
