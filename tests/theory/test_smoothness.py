"""Smoothness against textbook results: L exact for least squares, tight for logistic at 0, power iteration on random quadratics, L_max and L_B."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab import theory


def test_lipschitz_of_least_squares_is_exact(regression_data):
    X, y = regression_data
    L = theory.lipschitz(sl.least_squares(X, y))
    assert L.exact and L.method == "closed form"
    assert pytest.approx(np.linalg.eigvalsh(X.T @ X / len(y))[-1], rel=1e-12) == L


def test_lipschitz_of_logistic_is_tight_at_zero(classification_data):
    X, y = classification_data
    problem = sl.logistic_regression(X, y)
    hessian = np.asarray(jax.hessian(lambda t: problem.data_loss(t, problem.data))(jnp.zeros(3)))
    assert theory.lipschitz(problem) == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-12)
    assert not theory.lipschitz(problem).exact
    estimate = theory.hessian_norm(problem, np.zeros(3))
    assert estimate == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-6)


def test_power_iteration_on_a_random_positive_definite_quadratic():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    Q = A @ A.T + 0.5 * np.eye(6)
    # F(θ) = (1/N) Σ ½ θᵀQθ − bᵢᵀθ has Hessian Q for every θ.
    problem = sl.finite_sum(lambda t, b: 0.5 * t @ (jnp.asarray(Q) @ t) - b @ t, rng.normal(size=(10, 6)), np.zeros(6))
    L = theory.lipschitz(problem)
    assert "power iteration" in L.method and not L.exact
    assert pytest.approx(np.linalg.eigvalsh(Q)[-1], rel=1e-6) == L


def test_minibatch_constant_interpolates_between_L_max_and_L(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    n, L, L_max = len(y), problem.lipschitz(), np.max(np.sum(X**2, axis=1))
    assert theory.lipschitz_max(problem) == pytest.approx(L_max, rel=1e-12)
    assert theory.minibatch_lipschitz(problem, 1) == pytest.approx(L_max, rel=1e-12)
    assert theory.minibatch_lipschitz(problem, n) == pytest.approx(L, rel=1e-12)
    B = 8
    expected = n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    assert theory.minibatch_lipschitz(problem, B) == pytest.approx(expected, rel=1e-12)


def test_per_example_constants_of_logistic_and_softmax(classification_data, multiclass_data):
    X, y = classification_data
    assert theory.lipschitz_max(sl.logistic_regression(X, y, l2=0.1)) == pytest.approx(
        np.max(np.sum(X**2, axis=1)) / 4 + 0.1)
    X, y = multiclass_data
    assert theory.lipschitz_max(sl.softmax_regression(X, y)) == pytest.approx(np.max(np.sum(X**2, axis=1)) / 2)


def test_power_iteration_refuses_a_non_finite_gradient():
    problem = sl.finite_sum(lambda t, x: jnp.sqrt(t - x), np.arange(1.0, 4.0), 0.0)   # ∇ is NaN at t = 0 < x
    with pytest.raises(ValueError, match=re.escape("params must be a point where ∇F is finite (power iteration needs "
                                                   "Hessian-vector products) for lipschitz; got a non-finite gradient")):
        theory.lipschitz(problem)
