"""Minibatch constants against exact enumeration: the variance factor over every batch a sampler can
draw, and the expected smoothness inequality E‖g(θ) − g(θ*)‖² ≤ 2 L_B (F(θ) − p*) over those batches."""

import itertools

import numpy as np
import pytest

import sgdlab as sl
from sgdlab import theory


def _batches(n, batch_size, replacement):
    """Every batch (as index tuples) of a sampler, each equally likely."""
    if replacement:
        return list(itertools.product(range(n), repeat=batch_size))
    return list(itertools.combinations(range(n), batch_size))


@pytest.mark.parametrize(("n", "batch_size"), [(5, 1), (5, 2), (6, 3), (6, 6)])
@pytest.mark.parametrize("replacement", [True, False])
def test_variance_factor_is_the_variance_of_a_batch_mean(n, batch_size, replacement):
    v = np.random.default_rng(n * 10 + batch_size).normal(size=(n, 3))
    mean = v.mean(axis=0)
    exact = np.mean([np.sum((v[list(batch)].mean(axis=0) - mean) ** 2)
                     for batch in _batches(n, batch_size, replacement)])
    sampler = sl.with_replacement(batch_size) if replacement else sl.without_replacement(batch_size)
    assert theory.variance_factor(n, batch_size, sampler) * np.mean(np.sum((v - mean) ** 2, axis=1)) == (
        pytest.approx(exact, rel=1e-12))


@pytest.mark.parametrize("replacement", [True, False])
def test_expected_smoothness_bounds_the_batch_gradients_over_every_batch(replacement):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 2)) * np.array([[1.0], [3.0], [0.5], [1.0], [2.0], [0.2]])
    problem = sl.least_squares(X, X @ np.array([1.0, -1.0]) + rng.normal(size=6))
    theta_star, p_star = problem.solution(), problem.optimal_value()
    gradients = lambda theta: (X @ theta - problem.y)[:, None] * X   # noqa: E731  ∇fᵢ(θ), a row each
    for batch_size in (1, 2, 4):
        sampler = sl.with_replacement(batch_size) if replacement else sl.without_replacement(batch_size)
        L_B = theory.minibatch_lipschitz(problem, batch_size, sampler)
        for theta in rng.normal(size=(20, 2)) * 3:
            difference = gradients(theta) - gradients(theta_star)
            spread = np.mean([np.sum(difference[list(batch)].mean(axis=0) ** 2)
                              for batch in _batches(6, batch_size, replacement)])
            assert spread <= 2 * L_B * (float(problem.loss(theta)) - p_star) * (1 + 1e-12)


def test_with_replacement_uses_its_own_constant(regression_data):
    problem = sl.least_squares(*regression_data)
    L, L_max = problem.lipschitz(), theory.lipschitz_max(problem)
    assert theory.minibatch_lipschitz(problem, 6, sl.with_replacement(6)) == pytest.approx(L_max / 6 + 5 * L / 6)
    n = problem.n
    assert theory.minibatch_lipschitz(problem, 6) == pytest.approx(n * 5 / (6 * (n - 1)) * L + (n - 6) / (6 * (n - 1)) * L_max)


def test_gradient_noise_at_the_optimum_is_the_batch_variance_there():
    y = np.array([1.0, 2.0, 3.0, 6.0])
    problem = sl.least_squares(np.ones((4, 1)), y)   # ∇fᵢ(θ*) = θ* − yᵢ with θ* = 3
    per_term = np.mean((3.0 - y) ** 2)
    assert theory.gradient_noise_at_optimum(problem, 1) == pytest.approx(per_term)
    assert theory.gradient_noise_at_optimum(problem, 4) == pytest.approx(0.0, abs=1e-24)
    assert theory.gradient_noise_at_optimum(problem, 3, sl.with_replacement(3)) == pytest.approx(per_term / 3)
    with pytest.raises(ValueError, match="problem must be a problem whose solution θ\\* is known"):
        theory.gradient_noise_at_optimum(sl.finite_sum(lambda t, c: (t - c) ** 2, y, 0.0), 1)
