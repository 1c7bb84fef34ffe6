"""Logistic regression against scikit-learn's log loss and the closed-form gradient and L."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import sgdlab as sl
from sgdlab.problems import logistic

from reference import logistic_gradients


@pytest.mark.parametrize("coding", [(0, 1), (-1, 1)])
def test_logistic_loss_matches_sklearn_log_loss(classification_data, coding):
    X, y01 = classification_data
    y = np.where(y01 == 1, coding[1], coding[0])
    problem = sl.logistic_regression(X, y)
    theta = np.array([0.5, -0.2, 0.8])
    probability = 1.0 / (1.0 + np.exp(-X @ theta))
    assert float(problem.loss(theta)) == pytest.approx(log_loss(y01, probability), rel=1e-12)
    assert problem.label_coding == ("{0, 1}" if coding[0] == 0 else "{-1, 1}")
    assert set(problem.predict(theta, X)) <= set(coding)


def test_logistic_gradient_with_l2_matches_closed_form(classification_data):
    X, y = classification_data
    problem = sl.logistic_regression(X, y, l2=0.1)
    theta = np.array([0.5, -0.2, 0.8])
    expected = logistic_gradients(theta, X, np.where(y == 1, 1.0, -1.0), l2=0.1).mean(axis=0)
    np.testing.assert_allclose(problem.grad(theta), expected, rtol=1e-12)


def test_logistic_lipschitz_is_tight_at_zero(classification_data):
    X, y = classification_data
    problem = sl.logistic_regression(X, y, l2=0.05)
    hessian = jax.hessian(lambda t: problem.data_loss(t, problem.data))(jnp.zeros(3))
    assert problem.lipschitz() == pytest.approx(np.linalg.eigvalsh(np.asarray(hessian))[-1], rel=1e-12)


@pytest.mark.parametrize("l2", [1e-2, 1e-5])
def test_solution_with_l2_matches_scikit_learn_on_mushrooms(mushrooms, l2):
    """scikit-learn minimizes C Σᵢ log(1 + exp(−yᵢxᵢᵀw)) + ½‖w‖², which is N·C times F with λ = 1/(N·C)."""
    X, y = mushrooms
    problem = sl.logistic_regression(X, y, l2=l2)
    reference = LogisticRegression(C=1 / (len(y) * l2), fit_intercept=False, solver="newton-cg", tol=1e-12,
                                   max_iter=1000).fit(X, y)
    np.testing.assert_allclose(problem.solution(), reference.coef_.ravel(), rtol=0,
                               atol=1e-6 * np.abs(reference.coef_).max())
    assert problem.optimal_value() == pytest.approx(float(problem.loss(reference.coef_.ravel())), rel=1e-10)
    assert np.linalg.norm(problem.grad(problem.solution())) < 1e-9


def test_solution_on_sparse_w8a_is_stationary_and_matches_scikit_learn(w8a):
    X, y = w8a
    problem = sl.logistic_regression(X, y, l2=1e-4)
    theta = problem.solution()
    assert np.linalg.norm(logistic_gradients(theta, X.toarray(), y, l2=1e-4).mean(axis=0)) < 1e-10
    reference = LogisticRegression(C=1 / (len(y) * 1e-4), fit_intercept=False, solver="newton-cg", tol=1e-12,
                                   max_iter=1000).fit(X, y)
    np.testing.assert_allclose(theta, reference.coef_.ravel(), rtol=0, atol=1e-8)


def test_solution_is_unknown_without_l2_or_with_too_many_features(classification_data, monkeypatch):
    X, y = classification_data
    assert sl.logistic_regression(X, y).solution() is None
    assert sl.logistic_regression(X, y).optimal_value() is None
    monkeypatch.setattr(logistic, "MAX_NEWTON_FEATURES", 2)
    assert sl.logistic_regression(X, y, l2=0.1).solution() is None


def test_solution_keeps_the_dtype_of_the_data(classification_data):
    X, y = classification_data
    single = sl.logistic_regression(X.astype(np.float32), y, l2=0.1).solution()
    double = sl.logistic_regression(X, y, l2=0.1).solution()
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, double, rtol=1e-6)
