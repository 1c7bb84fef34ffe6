"""Logistic regression against scikit-learn's log loss and the closed-form gradient and L."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import log_loss

import sgdlab as sl

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
