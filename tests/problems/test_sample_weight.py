"""Sample weights of least squares: F = Σ wᵢ fᵢ / Σ wᵢ, integer weights as repeated rows, run by both engines."""

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl

N, P = 30, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P))
    return X, X @ rng.normal(size=P) + 0.3 * rng.normal(size=N), rng.integers(0, 4, size=N)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_integer_weights_are_repeated_rows(sparse):
    # Every row i repeated wᵢ times (0 drops it): F, ∇F at a random θ, θ*, p*, L and μ agree to 1e-10.
    X, y, counts = _data()
    weighted = sl.least_squares(scipy.sparse.csr_matrix(X) if sparse else X, y, sample_weight=counts)
    rows = np.repeat(np.arange(N), counts)
    repeated = sl.least_squares(X[rows], y[rows])
    theta = np.random.default_rng(1).normal(size=P)
    assert float(weighted.loss(theta)) == pytest.approx(float(repeated.loss(theta)), rel=1e-10)
    np.testing.assert_allclose(weighted.grad(theta), repeated.grad(theta), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.solution(), repeated.solution(), rtol=1e-10, atol=1e-12)
    assert weighted.optimal_value() == pytest.approx(repeated.optimal_value(), rel=1e-10)
    assert weighted.lipschitz() == pytest.approx(repeated.lipschitz(), rel=1e-10)
    assert weighted.strong_convexity() == pytest.approx(repeated.strong_convexity(), rel=1e-10)
    np.testing.assert_array_equal(weighted.sample_weight, counts)


def test_the_weighted_mean_is_the_formula_and_per_example_constants_scale():
    X, y, _ = _data(2)
    w = np.random.default_rng(3).uniform(0.1, 3.0, size=N)
    problem = sl.least_squares(X, y, sample_weight=w)
    theta = np.ones(P)
    assert float(problem.loss(theta)) == pytest.approx(np.sum(w * 0.5 * (X @ theta - y) ** 2) / w.sum(), rel=1e-12)
    np.testing.assert_allclose(problem.lipschitz_each(), N * w / w.sum() * np.sum(X**2, axis=1), rtol=1e-12)


def test_both_engines_run_a_weighted_problem_alike():
    X, y, counts = _data(4)
    problem = sl.least_squares(X, y, sample_weight=counts + 0.5)
    runs = [sl.minimize(problem, sl.shuffled_cyclic(4), step=0.1 / problem.lipschitz_max(), epochs=3, seed=2, engine=engine)
            for engine in ("native", "jax")]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-10)
    assert runs[0].history.gap.iloc[-1] < runs[0].history.gap.iloc[0]


@pytest.mark.parametrize(("weights", "message"), [
    (np.ones(N - 1), "sample_weight must be N = 30 numbers, one a row; got 29"),
    (-np.ones(N), "sample_weight must be nonnegative finite numbers; got 30 negative, NaN or infinite of 30"),
    (np.zeros(N), r"sample_weight must be numbers not all 0 \(at least one example must count\)"),
])
def test_bad_sample_weights_are_refused_naming_the_parameter(weights, message):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=message):
        sl.least_squares(X, y, sample_weight=weights)
