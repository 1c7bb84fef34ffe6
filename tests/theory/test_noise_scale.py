"""The gradient-noise scale: exact values against NumPy closed forms, the subset estimate against its
stated standard errors, and bad input."""

import re

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.theory.noise_scale import SUBSET


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 6))
    y = X @ rng.normal(size=6) + rng.normal(size=5000)
    theta = rng.normal(size=6)
    residuals = X @ theta - y
    per_example = X * residuals[:, None]                 # ∇fᵢ = xᵢ (xᵢᵀθ − yᵢ) for least squares
    gradient = per_example.mean(axis=0)
    trace = np.mean(np.sum((per_example - gradient) ** 2, axis=1))
    return sl.least_squares(X, y), theta, gradient @ gradient, trace


def test_exact_values_equal_the_closed_forms(setting):
    problem, theta, signal, trace = setting
    result = sl.theory.noise_scale(problem, theta)
    assert result.exact and result.examples == 5000
    assert result.grad_norm_squared == pytest.approx(signal, rel=1e-10)
    assert result.trace_covariance == pytest.approx(trace, rel=1e-10)
    assert result.b_simple == pytest.approx(trace / signal, rel=1e-10)


def test_logistic_exact_values_include_the_l2_term_in_every_gradient():
    rng = np.random.default_rng(1)
    X, labels = rng.normal(size=(400, 3)), rng.integers(0, 2, 400)
    theta, l2 = rng.normal(size=3), 0.1
    signs = 2.0 * labels - 1
    per_example = -(signs / (1 + np.exp(signs * (X @ theta))))[:, None] * X + l2 * theta
    gradient = per_example.mean(axis=0)
    result = sl.theory.noise_scale(sl.logistic_regression(X, labels, l2=l2), theta)
    assert result.grad_norm_squared == pytest.approx(gradient @ gradient, rel=1e-10)
    assert result.trace_covariance == pytest.approx(np.mean(np.sum((per_example - gradient) ** 2, axis=1)), rel=1e-10)


def test_subset_estimates_are_within_their_standard_errors(setting):
    """Over 300 fixed seeds of 500-example subsets, the z-scores (estimate − exact)/SE have mean near 0 and
    about 68% of them are within 1 (the band [0.55, 0.80] allows for the finite count and the skew of the
    squared deviations)."""
    problem, theta, signal, trace = setting
    estimates = [sl.theory.noise_scale(problem, theta, subset=500, seed=seed) for seed in range(300)]
    for exact, value, se in [(trace, "trace_covariance", "trace_covariance_se"),
                             (signal, "grad_norm_squared", "grad_norm_squared_se")]:
        z = np.array([(getattr(e, value) - exact) / getattr(e, se) for e in estimates])
        assert abs(z.mean()) < 0.3 and 0.55 <= np.mean(np.abs(z) <= 1) <= 0.80
    assert not estimates[0].exact and estimates[0].examples == 500


def test_large_problems_default_to_a_subset():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20_000, 3))
    problem = sl.least_squares(X, X.sum(axis=1) + rng.normal(size=20_000))
    result = sl.theory.noise_scale(problem, exact_max=10_000)
    assert not result.exact and result.examples == SUBSET
    assert "a random subset of 8192 examples" in str(result)
    exact = sl.theory.noise_scale(problem)
    assert abs(result.trace_covariance - exact.trace_covariance) <= 4 * result.trace_covariance_se


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(params=np.zeros(5)), ValueError, "params must"),
    (dict(subset=1), ValueError, "subset must be an integer in [2, 5000] for noise_scale (N=5000); got 1."),
    (dict(subset=6000), ValueError, "subset must be an integer in [2, 5000] for noise_scale (N=5000); got 6000."),
])
def test_bad_input_names_the_parameter(setting, kwargs, error, text):
    problem = setting[0]
    with pytest.raises(error, match=re.escape(text)):
        sl.theory.noise_scale(problem, **kwargs)


def test_minimize_records_the_noise_scale_at_chosen_epochs(setting):
    problem = setting[0]
    result = sl.minimize(problem, sl.shuffled_cyclic(8), step=0.01, epochs=6, record_every=2, noise_scale_every=3)
    history = result.history.set_index("epoch")
    assert list(history.index) == [0, 2, 4, 6]
    assert history.b_simple.notna().tolist() == [True, False, False, True]
    final = sl.theory.noise_scale(problem, result.params)
    assert history.b_simple[6] == pytest.approx(final.b_simple, rel=1e-12)
    assert history.trace_covariance[0] == pytest.approx(sl.theory.noise_scale(problem).trace_covariance, rel=1e-12)


def test_noise_scale_every_is_refused_for_an_expectation():
    import jax

    stream = sl.expectation(lambda theta, omega: 0.5 * (theta - omega) ** 2, lambda key: jax.random.normal(key),
                            np.zeros(()))
    with pytest.raises(ValueError, match="noise_scale_every must be left out for an expectation"):
        sl.minimize(stream, sl.iid(2), step=0.1, steps=10, noise_scale_every=1)
