"""Gradient descent on sparse linear models of one margin runs natively as two sparse products: the same
iterates as the JAX engine and as a SciPy loop written from the formula, and "auto" picks it."""

import numpy as np
import pytest
import scipy.sparse
import scipy.special

import sgdlab as sl


@pytest.fixture(scope="module")
def sparse_data():
    rng = np.random.default_rng(3)
    X = scipy.sparse.random(300, 40, density=0.1, format="csr", random_state=4) * 3
    y = (X @ rng.normal(size=40) + 0.3 * rng.normal(size=300) > 0).astype(int)
    return scipy.sparse.csr_matrix(X), y


def _scipy_gd(X, y, loss, alpha, l2, epochs):
    """θ ← θ − α (Xᵀ ℓ′(Xθ, y)/N + λθ), written from the formula."""
    theta, n = np.zeros(X.shape[1]), X.shape[0]
    for _ in range(epochs):
        margins = X @ theta
        derivative = margins - y if loss == "squared" else -y * scipy.special.expit(-y * margins)
        theta = theta - alpha * (X.T @ derivative / n + l2 * theta)
    return theta


@pytest.mark.parametrize(("kind", "l2", "alpha"), [("logistic", 0.0, 2.0), ("logistic", 0.05, 2.0),
                                                   ("logistic", 0.5, 1.9), ("squared", 0.0, 0.5)])
def test_native_gradient_descent_is_the_formula_and_the_jax_engine(sparse_data, kind, l2, alpha):
    X, y = sparse_data
    problem = sl.logistic_regression(X, y, l2=l2) if kind == "logistic" else sl.least_squares(X, y.astype(float))
    native = sl.minimize(problem, step=alpha, epochs=40)
    assert native.engine == "native"
    jax_run = sl.minimize(problem, step=alpha, epochs=40, engine="jax")
    np.testing.assert_allclose(native.params, jax_run.params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(native.history.loss, jax_run.history.loss, rtol=1e-10)
    labels = 2.0 * y - 1 if kind == "logistic" else y.astype(float)
    np.testing.assert_allclose(native.params, _scipy_gd(X, labels, kind, alpha, l2, 40), rtol=1e-10, atol=1e-13)
    assert native.history.grad_evals.iloc[-1] == 40


def test_other_gradient_descent_runs_stay_on_the_jax_engine(sparse_data, multiclass_data):
    X, y = sparse_data
    assert sl.minimize(sl.logistic_regression(X.toarray(), y), step=1.0, epochs=1).engine == "jax"
    assert sl.minimize(sl.softmax_regression(X, y), step=1.0, epochs=1).engine == "jax"
    assert sl.minimize(sl.logistic_regression(X, y), sl.shuffled_cyclic(300), step=1.0, epochs=1).engine == "native"
