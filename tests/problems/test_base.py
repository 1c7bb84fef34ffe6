"""Finite sums of the user's own loss: minibatch gradients, pytree parameters, the data's dtype."""

import jax.numpy as jnp
import numpy as np

import sgdlab as sl

from reference import least_squares_gradients


def test_batch_grad_counts_repeated_indices(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    theta, idx = np.array([1.0, 0.0, -1.0, 0.5]), np.array([3, 3, 7, 11, 3])
    expected = least_squares_gradients(theta, X, y)[idx].mean(axis=0)
    np.testing.assert_allclose(problem.batch_grad(theta, idx), expected, rtol=1e-12)


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
