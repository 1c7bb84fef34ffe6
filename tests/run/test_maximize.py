"""maximize: minimizing −f and reporting f, checked on Gaussian maximum likelihood (closed-form MLE)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl


def gaussian_log_likelihood(params, x):
    """log N(x; μ, σ²) with σ = exp(log_sigma)."""
    return -0.5 * jnp.log(2 * jnp.pi) - params["log_sigma"] - 0.5 * ((x - params["mu"]) / jnp.exp(params["log_sigma"])) ** 2


@pytest.fixture(scope="module")
def sample():
    return np.random.default_rng(5).normal(2.0, 1.5, size=400)


def test_maximize_gaussian_likelihood_returns_sample_mean_and_std(sample):
    problem = sl.finite_sum(gaussian_log_likelihood, sample, {"mu": 0.0, "log_sigma": 0.0})
    result = sl.maximize(problem, step=0.2, epochs=3000, tol=1e-11)
    assert result.status == "converged" and result.message.startswith("maximizing f: converged")
    assert result.params["mu"] == pytest.approx(sample.mean(), abs=1e-9)
    assert math.exp(result.params["log_sigma"]) == pytest.approx(sample.std(), rel=1e-9)   # the MLE divides by N
    history = result.history
    best = np.mean([gaussian_log_likelihood({"mu": sample.mean(), "log_sigma": np.log(sample.std())}, x) for x in sample])
    assert history.loss.iloc[-1] == pytest.approx(best, rel=1e-12)   # the history reports f itself
    assert history.loss.iloc[-1] > history.loss.iloc[0]


def test_maximize_with_stochastic_steps_speaks_of_maximizing(sample):
    problem = sl.finite_sum(gaussian_log_likelihood, sample, {"mu": 0.0, "log_sigma": 0.0})
    result = sl.maximize(problem, sampler=sl.shuffled_cyclic(20), step=0.05, epochs=30)
    assert result.status == "max_epochs"
    assert result.message.startswith("maximizing f: stopped after 30 epochs") and "f = " in result.message
    assert result.params["mu"] == pytest.approx(sample.mean(), abs=0.1)


def test_maximizing_a_convex_loss_diverges_and_reports_p_star_infinite(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.maximize(problem, step=0.5 / problem.lipschitz(), epochs=2000)
    assert result.status == "diverged" and result.message.startswith("maximizing f: diverged")
    assert "The problem is unbounded (sup f = +∞)" in result.message
    assert "f became inf" in result.message
    assert np.isinf(result.history.gap.iloc[:-1]).all()   # p* = sup f = +inf: a known unbounded problem
