"""Theorems without convexity, tested against runs: gradient descent and SGD under the Polyak–Łojasiewicz
inequality on rank-deficient least squares, and SGD on robust regression under expected smoothness."""

import numpy as np
import pytest

import sgdlab as sl


@pytest.fixture(scope="module")
def rank_deficient():
    """N = 30 rows, p = 45 columns: XᵀX/N has rank 30, so μ = 0 and F is only PL."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 45)) / np.sqrt(45)
    return sl.least_squares(X, rng.normal(size=30))


def test_the_pl_constant_is_the_smallest_nonzero_eigenvalue(rank_deficient):
    eigenvalues = np.linalg.eigvalsh(rank_deficient.X.T @ rank_deficient.X / 30)
    positive = eigenvalues[eigenvalues > 1e-10 * eigenvalues.max()]
    assert rank_deficient.strong_convexity() == 0.0 and len(positive) == 30
    assert rank_deficient.polyak_lojasiewicz() == pytest.approx(positive.min(), rel=1e-10)


def test_gradient_descent_under_pl_contracts_exactly_as_stated_and_the_run_stays_under(rank_deficient):
    problem, alpha = rank_deficient, 1.5 / rank_deficient.lipschitz()
    check = sl.check_step(problem, alpha)
    assert check.theorem == "gradient descent under the Polyak–Łojasiewicz inequality (Karimi, Nutini and Schmidt 2016, Theorem 1)"
    curve = sl.theory.bound(problem, sl.full_batch(), alpha, epochs=30)
    eigenvalues = np.linalg.eigvalsh(problem.X.T @ problem.X / problem.n)
    mu, L = eigenvalues[eigenvalues > 1e-10 * eigenvalues.max()].min(), eigenvalues.max()
    np.testing.assert_allclose(curve.bound.to_numpy()[1:] / curve.bound.to_numpy()[:-1],
                               1 - 2 * alpha * mu * (1 - alpha * L / 2), rtol=1e-10)
    run = sl.minimize(problem, sl.full_batch(), step=alpha, epochs=30)
    assert np.all(run.history.gap.to_numpy() <= curve.bound.to_numpy() * (1 + 1e-9) + 1e-15)


def test_sgd_under_pl_mean_of_100_seeds_stays_under_its_bound(rank_deficient):
    problem, sampler = rank_deficient, sl.with_replacement(1)
    alpha = 0.9 * sl.theory.nonconvex.pl_sgd_limit(problem, sampler)[0]
    check = sl.check_step(problem, alpha, sampler)
    assert check.theorem.startswith("SGD under the Polyak–Łojasiewicz inequality")
    curve = sl.theory.bound(problem, sampler, alpha, epochs=8)
    runs = sl.compare(problem, {"sgd": dict(sampler=sampler, step=alpha)}, seeds=100, epochs=8, predict=False)
    table = runs.table.groupby("epoch").gap.agg(["mean", "std", "count"])
    assert np.all(table["mean"].to_numpy() <= curve.bound.to_numpy() * (1 + 1e-12))
    beyond = sl.check_step(problem, 2 * alpha / 0.9, sampler)
    assert beyond.theorem is None and "beyond the steps of SGD's theorem under the Polyak–Łojasiewicz" in beyond.verdict


@pytest.mark.parametrize("factor", [0.05, 0.2, 0.5])
def test_sgd_on_robust_regression_keeps_the_smallest_mean_squared_gradient_under_the_nonconvex_bound(factor):
    """Every step recorded (record_every = 1/N): min over the first K·N steps of the mean over 20 seeds of ‖∇F‖²
    against 2(1 + LAα²)^{KN} F(θ⁰)/(αKN) (Khaled and Richtárik 2023, Theorem 2, with b = 0)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.standard_cauchy(40)
    problem, sampler = sl.robust_regression(X, y, loss="cauchy", scale=1.0), sl.with_replacement(1)
    alpha = factor / problem.lipschitz_max()
    check = sl.check_step(problem, alpha, sampler)
    assert check.theorem == "SGD on a smooth non-convex F under expected smoothness (Khaled and Richtárik 2023, Theorem 2)"
    curve = sl.theory.bound(problem, sampler, alpha, epochs=4)
    runs = sl.compare(problem, {"sgd": dict(sampler=sampler, step=alpha)}, seeds=20, epochs=4, record_every=1 / 40,
                      predict=False)
    squares = (runs.table.assign(g=runs.table.grad_norm**2).groupby("iteration").g.mean())
    for epoch, bound in zip(curve.epoch, curve.bound, strict=True):
        assert squares.loc[: epoch * 40 - 1].min() <= bound


def test_check_step_names_what_the_nonconvex_theorem_misses():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    problem = sl.robust_regression(X, X @ np.ones(2), loss="geman_mcclure")
    rising = sl.check_step(problem, sl.inverse_time(0.1, 0.01), sl.with_replacement(1))
    assert rising.theorem is None and "stated for a constant step" in rising.verdict
    convex = sl.logistic_regression(X, (X[:, 0] > 0).astype(int))
    assert "F μ-strongly convex" in sl.check_step(convex, 0.1, sl.with_replacement(1)).verdict
