"""Softmax regression against scikit-learn's log loss, the closed-form gradient and its L bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import log_loss

import sgdlab as sl

from reference import softmax_gradients


def test_softmax_loss_matches_sklearn_log_loss(multiclass_data):
    X, y = multiclass_data
    problem = sl.softmax_regression(X, y)
    W = np.random.default_rng(1).normal(size=(4, 3))
    logits = X @ W
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert list(problem.classes) == ["a", "b", "c"]
    assert float(problem.loss(W)) == pytest.approx(log_loss(y, probabilities, labels=["a", "b", "c"]), rel=1e-12)


def test_softmax_gradient_and_lipschitz_bound(multiclass_data):
    X, y = multiclass_data
    problem = sl.softmax_regression(X, y, l2=0.2)
    W = np.random.default_rng(2).normal(size=(4, 3))
    expected = softmax_gradients(W, X, problem.y, l2=0.2).mean(axis=0)
    np.testing.assert_allclose(problem.grad(W), expected, rtol=1e-11)
    flat_hessian = jax.hessian(lambda w: problem.data_loss(w.reshape(4, 3), problem.data))(jnp.zeros(12))
    top = np.linalg.eigvalsh(np.asarray(flat_hessian))[-1]
    assert top <= problem.lipschitz() * (1 + 1e-12)


def test_softmax_predict_and_accuracy(multiclass_data):
    X, y = multiclass_data
    problem = sl.softmax_regression(X, y)
    result = sl.minimize(problem, step=1.0 / problem.lipschitz(), epochs=200)
    assert problem.accuracy(result.params, X, y) > 0.8
    assert set(problem.predict(result.params, X)) <= {"a", "b", "c"}
