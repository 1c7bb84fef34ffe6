"""Least squares against numpy.linalg.lstsq and closed forms: θ*, p*, L, F and ∇F."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl


def test_least_squares_solution_and_optimal_value_match_lstsq(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    expected, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(problem.solution(), expected, rtol=1e-12, atol=1e-12)
    assert problem.optimal_value() == pytest.approx(np.sum((X @ expected - y) ** 2) / (2 * len(y)), rel=1e-12)


def test_least_squares_singular_returns_min_norm_solution():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(30, 3))
    X = np.column_stack([base, base[:, 0] + base[:, 1]])  # rank 3 with 4 columns
    y = rng.normal(size=30)
    problem = sl.least_squares(X, y)
    expected, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    assert problem.rank == rank == 3
    np.testing.assert_allclose(problem.solution(), expected, atol=1e-10)
    assert problem.strong_convexity() == 0.0


def test_least_squares_wide_matrix_interpolates():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(5, 12)), rng.normal(size=5)
    problem = sl.least_squares(X, y)
    np.testing.assert_allclose(problem.solution(), np.linalg.pinv(X) @ y, atol=1e-10)
    assert problem.optimal_value() == pytest.approx(0.0, abs=1e-20)


def test_least_squares_lipschitz_is_top_eigenvalue_of_hessian(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    hessian = np.asarray(jax.hessian(lambda t: problem.data_loss(t, problem.data))(jnp.zeros(4)))
    np.testing.assert_allclose(hessian, X.T @ X / len(y), rtol=1e-12)
    assert problem.lipschitz() == pytest.approx(np.linalg.eigvalsh(X.T @ X)[-1] / len(y), rel=1e-12)
    assert problem.strong_convexity() == pytest.approx(np.linalg.eigvalsh(X.T @ X)[0] / len(y), rel=1e-10)


def test_large_feature_count_uses_iterative_svd_for_lipschitz():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2100, 2050))
    problem = sl.least_squares(X, np.zeros(2100))
    assert problem.lipschitz() == pytest.approx(np.linalg.norm(X, 2) ** 2 / 2100, rel=1e-8)


def test_least_squares_loss_and_gradient_match_closed_form(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    theta = np.array([0.3, -0.1, 2.0, 1.0])
    assert float(problem.loss(theta)) == pytest.approx(np.sum((X @ theta - y) ** 2) / (2 * len(y)), rel=1e-13)
    np.testing.assert_allclose(problem.grad(theta), X.T @ (X @ theta - y) / len(y), rtol=1e-12)
