"""Maximum likelihood by gradient ascent: fit a Gaussian's mean and log-std with sgdlab.maximize.

Run:  python examples/gaussian_mle.py

f(μ, s) = (1/N) Σᵢ log N(xᵢ; μ, e^{2s}) is maximized by the sample mean and the sample standard
deviation (dividing by N), so the run can be checked against NumPy.
"""

import jax.numpy as jnp
import numpy as np

import sgdlab as sl


def log_likelihood(params, x):
    """log N(x; μ, σ²) with σ = exp(log_sigma): one example's term of f."""
    z = (x - params["mu"]) / jnp.exp(params["log_sigma"])
    return -0.5 * jnp.log(2 * jnp.pi) - params["log_sigma"] - 0.5 * z**2


def main():
    x = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=1000)
    problem = sl.finite_sum(log_likelihood, x, {"mu": 0.0, "log_sigma": 0.0})
    result = sl.maximize(problem, sampler=sl.shuffled_cyclic(50), step=sl.inverse_time(0.1, 0.01), epochs=200, tol=1e-6)
    print(result.message)
    print(f"μ̂ = {float(result.params['mu']):.6f}   sample mean      = {x.mean():.6f}")
    print(f"σ̂ = {np.exp(result.params['log_sigma']):.6f}   sample std (1/N) = {x.std():.6f}")


if __name__ == "__main__":
    main()
