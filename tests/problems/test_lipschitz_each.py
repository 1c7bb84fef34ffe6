"""Per-example smoothness constants Lᵢ of the built-in linear models against each term's Hessian (jax.hessian)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl

N, P = 12, 4


def _term_hessian_norm(problem, i: int, theta) -> float:
    """λ_max(∇²fᵢ(θ)) for term i, fᵢ = (fᵢ − r) + r."""
    def term(params):
        return problem.batch_losses(params, problem.data, jnp.array([i]))[0] + problem.penalty(params)

    size = int(np.size(theta))
    hessian = np.asarray(jax.hessian(term)(jnp.asarray(theta))).reshape(size, size)
    return float(np.linalg.eigvalsh(hessian)[-1])


def _data(sparse: bool = False):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(N, P)) * rng.uniform(0.1, 10.0, size=(N, 1))   # row norms spanning 100×
    return (scipy.sparse.csr_matrix(X) if sparse else X), rng


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_least_squares_constants_are_each_terms_hessian_norm(sparse):
    X, rng = _data(sparse)
    problem = sl.least_squares(X, rng.normal(size=N))
    each = problem.lipschitz_each()
    theta = rng.normal(size=P)
    np.testing.assert_allclose(each, [_term_hessian_norm(problem, i, theta) for i in range(N)], rtol=1e-12)
    assert each.shape == (N,) and each.dtype == np.float64 and problem.lipschitz_max() == each.max()


def test_logistic_constants_are_attained_at_a_zero_margin_and_bound_elsewhere():
    X, rng = _data()
    problem = sl.logistic_regression(X, rng.integers(0, 2, size=N), l2=0.3)
    each = problem.lipschitz_each()
    np.testing.assert_allclose(each, [_term_hessian_norm(problem, i, np.zeros(P)) for i in range(N)], rtol=1e-12)
    elsewhere = [_term_hessian_norm(problem, i, rng.normal(size=P)) for i in range(N)]
    assert np.all(np.asarray(elsewhere) <= each * (1 + 1e-12))


def test_softmax_constants_are_approached_where_two_classes_share_the_probability():
    X, rng = _data()
    problem = sl.softmax_regression(X, rng.integers(0, 3, size=N), l2=0.2)
    each = problem.lipschitz_each()
    for i in range(N):
        x = X[i]
        at_zero = _term_hessian_norm(problem, i, np.zeros((P, 3)))   # p = 1/3 each: ‖x‖²/3 + λ
        assert at_zero == pytest.approx(x @ x / 3 + 0.2, rel=1e-10) and at_zero < each[i]
        theta = np.zeros((P, 3))   # margins (40, 40, 0): p ≈ (1/2, 1/2, e⁻⁴⁰), the Hessian's largest eigenvalue → ‖x‖²/2
        theta[:, 0] = theta[:, 1] = 40 * x / (x @ x)
        assert _term_hessian_norm(problem, i, theta) == pytest.approx(each[i], rel=1e-10)


def test_float32_rows_give_float64_constants_and_other_problems_none():
    X, rng = _data()
    wide, narrow = sl.least_squares(X, rng.normal(size=N)), sl.least_squares(X.astype(np.float32), np.zeros(N, np.float32))
    np.testing.assert_allclose(narrow.lipschitz_each(), wide.lipschitz_each(), rtol=1e-6)
    assert narrow.lipschitz_each().dtype == np.float64
    network = sl.mlp(X, rng.integers(0, 2, size=N), hidden=(3,))
    assert network.lipschitz_each() is None
