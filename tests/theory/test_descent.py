"""Gradient descent's guarantees on runs: the contraction rate on quadratics, descent at every step below 2/L, the bound on min ‖∇F‖²."""


import numpy as np
import pytest

import sgdlab as sl
from sgdlab import theory


def _quadratic(eigenvalues, seed=0):
    """Least squares whose Hessian XᵀX/N has exactly the given eigenvalues (N = 40)."""
    rng = np.random.default_rng(seed)
    p, n = len(eigenvalues), 40
    U, _ = np.linalg.qr(rng.normal(size=(n, p)))
    V, _ = np.linalg.qr(rng.normal(size=(p, p)))
    X = U @ np.diag(np.sqrt(np.asarray(eigenvalues) * n)) @ V.T
    return sl.least_squares(X, X @ rng.normal(size=p) + 0.1 * rng.normal(size=n))


def test_gd_contracts_at_the_rate_kappa_minus_one_over_kappa_plus_one():
    problem = _quadratic([1.0, 2.0, 5.0, 10.0])
    L, mu = problem.lipschitz(), problem.strong_convexity()
    assert (L, mu) == pytest.approx((10.0, 1.0), rel=1e-10)
    rate = (L / mu - 1) / (L / mu + 1)
    dist = sl.minimize(problem, step=2 / (L + mu), epochs=40).history.dist.to_numpy()
    ratios = dist[1:] / dist[:-1]
    assert np.all(ratios <= rate + 1e-12)
    assert ratios[-1] == pytest.approx(rate, abs=1e-4)


@pytest.mark.parametrize("make", ["least_squares", "logistic"])
def test_descent_holds_for_steps_up_to_one_over_L(regression_data, classification_data, make):
    if make == "least_squares":
        problem = sl.least_squares(*regression_data)
    else:
        problem = sl.logistic_regression(*classification_data, l2=0.01)
    for fraction in (0.3, 1.0):
        result = sl.minimize(problem, step=fraction / problem.lipschitz(), epochs=60)
        verdict = theory.descent(result)
        assert verdict.holds and verdict.first_increase is None and verdict.steps == 60


def test_descent_reports_the_first_increase_beyond_two_over_L():
    problem = _quadratic([1.0, 10.0])
    with pytest.warns(sl.StepSizeWarning):
        result = sl.minimize(problem, step=2.2 / problem.lipschitz(), epochs=30, params0=np.ones(2))
    verdict = theory.descent(result)
    assert not verdict.holds and verdict.first_increase is not None and verdict.increases > 0
    loss = result.history.loss.to_numpy()
    assert loss[verdict.first_increase] > loss[verdict.first_increase - 1]


@pytest.mark.parametrize("fraction", [0.5, 1.0, 1.9])
def test_gradient_descent_guarantee_holds_on_runs(regression_data, fraction):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, step=fraction / problem.lipschitz(), epochs=25)
    bound = theory.gradient_bound(problem, result)
    assert bound.holds and bound.K == 25 and bound.observed <= bound.bound
    loss0 = result.history.loss.iloc[0]
    alpha, L = fraction / problem.lipschitz(), problem.lipschitz()
    assert bound.bound == pytest.approx(2 * (loss0 - problem.optimal_value()) / (alpha * (2 - alpha * L) * 25))


def test_gradient_bound_uses_zero_as_lower_bound_for_logistic(classification_data):
    problem = sl.logistic_regression(*classification_data)
    result = sl.minimize(problem, epochs=10)
    assert theory.gradient_bound(problem, result).inf_value == 0.0
