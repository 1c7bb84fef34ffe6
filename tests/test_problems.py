"""Problems against references no one here wrote: numpy.linalg, scikit-learn's losses, closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import log_loss

import sgdlab as sl
from reference import least_squares_gradients, logistic_gradients, softmax_gradients


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


def test_batch_grad_counts_repeated_indices(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    theta, idx = np.array([1.0, 0.0, -1.0, 0.5]), np.array([3, 3, 7, 11, 3])
    expected = least_squares_gradients(theta, X, y)[idx].mean(axis=0)
    np.testing.assert_allclose(problem.batch_grad(theta, idx), expected, rtol=1e-12)


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


def test_user_finite_sum_with_pytree_params_matches_least_squares(regression_data):
    X, y = regression_data

    def loss(params, example):
        x, target = example
        return 0.5 * (jnp.dot(x, params["w"]) + params["b"] - target) ** 2

    problem = sl.finite_sum(loss, (X, y), {"w": np.zeros(4), "b": np.zeros(())})
    result = sl.minimize(problem, step=0.2, epochs=2000, tol=1e-9)
    expected, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    assert result.status == "converged"
    np.testing.assert_allclose(result.params["w"], expected[:4], atol=1e-8)
    np.testing.assert_allclose(result.params["b"], expected[4], atol=1e-8)


def test_float32_data_give_a_float32_problem(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X.astype(np.float32), y.astype(np.float32))
    assert problem.params0.dtype == jnp.float32
    assert problem.loss(np.zeros(4, np.float32)).dtype == jnp.float32
