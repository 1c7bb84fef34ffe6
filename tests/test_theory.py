"""Theory made executable: L, the 2/L rule, descent, the GD bound and unbiasedness, against textbook results."""

import re
import warnings

import jax
import jax.numpy as jnp
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


def test_lipschitz_of_least_squares_is_exact(regression_data):
    X, y = regression_data
    L = theory.lipschitz(sl.least_squares(X, y))
    assert L.exact and L.method == "closed form"
    assert L == pytest.approx(np.linalg.eigvalsh(X.T @ X / len(y))[-1], rel=1e-12)


def test_lipschitz_of_logistic_is_tight_at_zero(classification_data):
    X, y = classification_data
    problem = sl.logistic_regression(X, y)
    hessian = np.asarray(jax.hessian(lambda t: problem.data_loss(t, problem.data))(jnp.zeros(3)))
    assert theory.lipschitz(problem) == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-12)
    assert not theory.lipschitz(problem).exact
    estimate = theory.hessian_norm(problem, np.zeros(3))
    assert estimate == pytest.approx(np.linalg.eigvalsh(hessian)[-1], rel=1e-6)


def test_power_iteration_on_a_random_positive_definite_quadratic():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    Q = A @ A.T + 0.5 * np.eye(6)
    # F(θ) = (1/N) Σ ½ θᵀQθ − bᵢᵀθ has Hessian Q for every θ.
    problem = sl.finite_sum(lambda t, b: 0.5 * t @ (jnp.asarray(Q) @ t) - b @ t, rng.normal(size=(10, 6)), np.zeros(6))
    L = theory.lipschitz(problem)
    assert "power iteration" in L.method and not L.exact
    assert L == pytest.approx(np.linalg.eigvalsh(Q)[-1], rel=1e-6)


def test_minibatch_constant_interpolates_between_L_max_and_L(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    n, L, L_max = len(y), problem.lipschitz(), np.max(np.sum(X**2, axis=1))
    assert theory.lipschitz_max(problem) == pytest.approx(L_max, rel=1e-12)
    assert theory.minibatch_lipschitz(problem, 1) == pytest.approx(L_max, rel=1e-12)
    assert theory.minibatch_lipschitz(problem, n) == pytest.approx(L, rel=1e-12)
    B = 8
    expected = n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    assert theory.minibatch_lipschitz(problem, B) == pytest.approx(expected, rel=1e-12)


def test_per_example_constants_of_logistic_and_softmax(classification_data, multiclass_data):
    X, y = classification_data
    assert theory.lipschitz_max(sl.logistic_regression(X, y, l2=0.1)) == pytest.approx(
        np.max(np.sum(X**2, axis=1)) / 4 + 0.1)
    X, y = multiclass_data
    assert theory.lipschitz_max(sl.softmax_regression(X, y)) == pytest.approx(np.max(np.sum(X**2, axis=1)) / 2)


@pytest.mark.parametrize("ratio, ok, words", [
    (0.5, True, "α·L = 0.5 < 2: gradient descent with this constant step decreases F at every step and makes ∇F(θᵏ) → 0."),
    (2.0, False, "α·L = 2 ≥ 2: no guarantee; on quadratics gradient descent oscillates without converging."),
    (2.3, False, "α·L = 2.3 ≥ 2: no guarantee; on quadratics gradient descent diverges."),
])
def test_check_step_verdicts(regression_data, ratio, ok, words):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    check = sl.check_step(problem, ratio / problem.lipschitz())
    assert check.ok is ok and check.verdict == words
    assert check.L == pytest.approx(problem.lipschitz()) and check.limit == pytest.approx(2 / problem.lipschitz())
    assert check.ratio == pytest.approx(ratio)


def test_minimize_warns_once_and_notes_a_step_beyond_two_over_L(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    with pytest.warns(sl.StepSizeWarning, match=re.escape("α·L = 2.05 ≥ 2")) as caught:
        result = sl.minimize(problem, step=2.05 / problem.lipschitz(), epochs=3)
    assert len(caught) == 1
    assert "Note: α·L = 2.05 ≥ 2" in result.message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sl.minimize(problem, step=1.0 / problem.lipschitz(), epochs=3)


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


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(6), sl.without_replacement(6),
                                     sl.shuffled_cyclic(6), sl.full_batch()], ids=repr)
def test_unbiasedness_z_scores_are_small_for_uniform_samplers(regression_data, sampler):
    problem = sl.least_squares(*regression_data)
    step = 0 if sampler.is_full_batch else 3
    check = theory.unbiasedness(problem, sampler, params=np.zeros(4), draws=3000, step=step)
    assert check.unbiased and check.max_abs_z <= check.threshold
    assert "consistent with" in check.verdict


@pytest.mark.parametrize("sampler", [sl.cyclic(1), sl.cyclic(6), sl.shuffle_once(6)], ids=repr)
def test_unbiasedness_z_scores_are_large_for_cyclic(regression_data, sampler):
    problem = sl.least_squares(*regression_data)
    check = theory.unbiasedness(problem, sampler, params=np.zeros(4), draws=3000, step=3)
    if sampler.name == "cyclic":
        assert np.isinf(check.max_abs_z)  # the same batch every draw: a deterministic, biased gradient
    else:
        # shuffle once draws its permutation from the seed, so across seeds it is marginally uniform too
        assert check.unbiased
    assert check.unbiased is (sampler.name != "cyclic")


@pytest.mark.parametrize("alpha, error", [(0.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError), ("big", TypeError)])
def test_check_step_refuses_non_positive_steps(regression_data, alpha, error):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(error, match=re.escape("alpha must be a positive finite number for check_step")):
        sl.check_step(problem, alpha)


def test_power_iteration_refuses_a_non_finite_gradient():
    problem = sl.finite_sum(lambda t, x: jnp.sqrt(t - x), np.arange(1.0, 4.0), 0.0)   # ∇ is NaN at t = 0 < x
    with pytest.raises(ValueError, match=re.escape("params must be a point where ∇F is finite (power iteration needs "
                                                   "Hessian-vector products) for lipschitz; got a non-finite gradient")):
        theory.lipschitz(problem)


def test_unbiasedness_refuses_a_step_outside_the_epoch(regression_data):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(ValueError, match=re.escape("step must be an integer in [0, 9] for cyclic(batch_size=6")):
        theory.unbiasedness(problem, sl.cyclic(6), step=10)
