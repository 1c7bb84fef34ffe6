"""The 2/L rule: verdicts in words, the warning and note of a run beyond it, refused steps."""

import re
import warnings

import numpy as np
import pytest

import sgdlab as sl


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
    assert pytest.approx(problem.lipschitz()) == check.L and check.limit == pytest.approx(2 / problem.lipschitz())
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


@pytest.mark.parametrize("alpha, error", [(0.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError), ("big", TypeError)])
def test_check_step_refuses_non_positive_steps(regression_data, alpha, error):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(error, match=re.escape("step must be a positive")):
        sl.check_step(problem, alpha)


def test_projected_gradient_descent_is_promised_a_vanishing_gradient_mapping_not_gradient():
    """On a box whose face holds the minimizer, ∇F stays away from 0; what the verdict promises (F decreasing at
    every step, (θᵏ − θᵏ⁺¹)/α → 0) is what the run shows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    problem = sl.least_squares(X, X @ np.array([3.0, -2.0, 0.5])).subject_to(sl.box(-1.0, 1.0))
    alpha = 1.0 / problem.lipschitz()
    check = sl.check_step(problem, alpha)
    assert "gradient mapping (θᵏ − θᵏ⁺¹)/α → 0" in check.verdict and "∇F(θᵏ) → 0" not in check.verdict
    result = sl.minimize(problem, step=alpha, epochs=300, record_params=True)
    losses = result.history.loss.to_numpy()
    assert np.all(np.diff(losses) <= 1e-12)
    path = np.stack(result.path)
    assert np.linalg.norm(path[-1] - path[-2]) / alpha < 1e-8 < 0.1 < result.history.grad_norm.iloc[-1]
    free = sl.least_squares(X, X @ np.array([3.0, -2.0, 0.5]))
    assert "makes ∇F(θᵏ) → 0" in sl.check_step(free, alpha).verdict


@pytest.mark.parametrize("method", [sl.svrg(), sl.loopless_svrg(), sl.saga()], ids=repr)
def test_variance_reduced_rates_are_quoted_only_where_f_is_strongly_convex(method):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    labels = (X[:, 0] + 0.3 * rng.normal(size=50) > 0).astype(int)
    plain = sl.logistic_regression(X, labels)             # no ℓ2: μ unknown, no linear rate
    alpha = 0.1 / plain.lipschitz_max()
    check = sl.check_step(plain, alpha, sl.shuffled_cyclic(1), method=method)
    assert check.theorem is None and "needs convex terms and F μ-strongly convex" in check.verdict
    ridge = sl.logistic_regression(X, labels, l2=0.1)
    assert sl.check_step(ridge, alpha, sl.shuffled_cyclic(1), method=method).theorem is not None


def _ridge_regression(n=200, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return sl.least_squares(X, X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=n))


def test_svrg_default_step_is_strictly_inside_johnson_zhang_and_its_rho_is_the_runs():
    """Theorem 1 of Johnson and Zhang needs α < 1/(4 L_max) strictly; the default is 1/(8 L_max), where the inner
    loop the theorem needs is shortest, and ρ is computed for the run's own m (snapshot_every × steps an epoch)."""
    from sgdlab.experiments.run_tables import method_step
    assert method_step(sl.svrg(), "0.1/L") == "0.125/L_max"
    problem = _ridge_regression()
    L_max, mu = problem.lipschitz_max(), problem.strong_convexity()
    at_limit = sl.check_step(problem, 0.25 / L_max, sl.with_replacement(1), method=sl.svrg())
    assert "beyond" in at_limit.verdict and "no rate" in at_limit.verdict
    for every in (1, 3):
        alpha, m = 0.125 / L_max, every * problem.n
        check = sl.check_step(problem, alpha, sl.with_replacement(1), method=sl.svrg(snapshot_every=every))
        rho = 1 / (mu * alpha * (1 - 2 * alpha * L_max) * m) + 2 * alpha * L_max / (1 - 2 * alpha * L_max)
        quoted = float(re.search(r"ρ = ([0-9.e+-]+)", check.verdict).group(1))
        assert quoted == pytest.approx(rho, rel=1e-2) and f"m = {m} steps" in check.verdict
        assert "within" in check.verdict and "option I" in check.verdict and "option II" in check.verdict
        assert ("too short" in check.verdict) is (rho >= 1)


def test_svrg_runs_stay_under_johnson_zhangs_rate_where_it_is_below_one():
    """The mean over 20 seeds of F(w̃ₛ) − p* at each snapshot stays under ρˢ (F(θ⁰) − p*); the run is option I,
    the proof option II, so this checks the quoted rate on the variant shipped."""
    problem = _ridge_regression()
    alpha, every = 0.125 / problem.lipschitz_max(), 3
    check = sl.check_step(problem, alpha, sl.with_replacement(1), method=sl.svrg(snapshot_every=every))
    rho = float(re.search(r"ρ = ([0-9.e+-]+)", check.verdict).group(1))
    assert rho < 1
    runs = sl.compare(problem, {"svrg": dict(sampler=sl.with_replacement(1), step=alpha,
                                             method=sl.svrg(snapshot_every=every))}, seeds=20, epochs=12)
    means = runs.table.groupby("epoch").gap.mean()
    snapshots = means.loc[[e for e in means.index if e % every == 0]]
    bound = means.loc[0] * rho ** (snapshots.index.to_numpy() / every)
    assert np.all(snapshots.to_numpy() <= bound * (1 + 1e-9))


def test_a_rising_schedule_is_judged_by_its_largest_step():
    """α₀ inside SGD's α ≤ 1/(2 L_B) while the steps grow beyond it: no theorem is quoted for α₀, as theory.bound
    draws none from the largest step; a falling schedule is still judged (by α₀, its largest)."""
    problem = _ridge_regression(seed=4)
    sampler = sl.with_replacement(1)
    L_B = sl.theory.minibatch_lipschitz(problem, 1, sampler)
    def rising(k):   # doubles every epoch: 0.2, 0.4, 0.8 times 1/L_B
        return 0.2 / L_B * 2.0 ** (k // problem.n)
    assert sl.check_step(problem, 0.2 / L_B, sampler).theorem is not None
    unknown = sl.check_step(problem, rising, sampler)
    assert unknown.theorem is None and "may rise" in unknown.verdict
    judged = sl.check_step(problem, rising, sampler, epochs=3)
    assert judged.theorem is None and "max αₖ = " in judged.verdict and judged.ratio == pytest.approx(0.8 * judged.L / L_B)
    assert sl.theory.bound(problem, sampler, rising, epochs=3).empty
    falling = sl.check_step(problem, sl.step_decay(0.2 / L_B, factor=0.5, every=problem.n), sampler)
    assert falling.theorem is not None and "max αₖ = " in falling.verdict
