"""The exact expected curves of least-squares SGD: against the stationary closed forms of 1-D least
squares, derived here, and against the mean of 2,000 seeds of the engine itself."""

import re

import numpy as np
import pytest
import scipy.stats

import sgdlab as sl
from sgdlab import theory

SEEDS = 2000


def _one_dimensional(n=9, seed=0):
    """fᵢ(θ) = ½(θ − yᵢ)²: H = 1, θ* = ȳ, ∇fᵢ(θ*) = ȳ − yᵢ, σ² = (1/N) Σ (yᵢ − ȳ)²."""
    y = np.random.default_rng(seed).normal(size=n) * 2
    return sl.least_squares(np.ones((n, 1)), y), np.var(y)


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(3), sl.without_replacement(1),
                                     sl.without_replacement(4)], ids=repr)
def test_the_stationary_variance_matches_the_one_dimensional_closed_form(sampler):
    # e' = (1 − γ) e − γ ḡ with ḡ the batch mean of ∇fᵢ(θ*), of mean 0 and variance c_B σ², independent of e:
    # at stationarity v = (1 − γ)² v + γ² c_B σ², so v = γ c_B σ² / (2 − γ) and E[F] − p* = v / 2.
    problem, variance = _one_dimensional()
    gamma, n, b = 0.3, problem.n, sampler.batch_size
    curve = theory.expected_history(problem, sampler, gamma, epochs=200, params0=np.array([5.0]))
    factor = 1 / b if isinstance(sampler, sl.samplers.WithReplacement) else (n - b) / (b * (n - 1))
    stationary = gamma * factor * variance / (2 - gamma)
    assert curve.dist_sq.iloc[-1] == pytest.approx(stationary, rel=1e-9)
    assert curve.gap.iloc[-1] == pytest.approx(stationary / 2, rel=1e-9)


def test_gradient_descent_and_cyclic_give_their_own_deterministic_runs(regression_data):
    problem = sl.least_squares(*regression_data)
    for sampler in (sl.full_batch(), sl.cyclic(7)):
        run = sl.minimize(problem, sampler, step=0.02, epochs=4, engine="jax")
        exact = theory.expected_history(problem, sampler, 0.02, epochs=4)
        np.testing.assert_allclose(exact.gap, run.history.gap, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(exact.dist_sq, run.history.dist**2, rtol=1e-9, atol=1e-14)
        assert exact.iteration.tolist() == run.history.iteration.tolist()


CASES = [sl.with_replacement(1), sl.with_replacement(2), sl.without_replacement(3), sl.shuffled_cyclic(2),
         sl.shuffle_once(3), sl.shuffled_cyclic(3, drop_last=True)]


@pytest.mark.parametrize("step", ["constant", "decaying"])
def test_the_exact_curves_are_the_means_of_the_engines_runs_over_seeds(step):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(7, 2)) * np.array([1.0, 0.5])
    problem = sl.least_squares(X, rng.normal(size=7))   # θ* near θ⁰ = 0: the curves are mostly the sampling noise
    alpha = 0.9 / theory.lipschitz_max(problem)
    step = sl.constant(alpha) if step == "constant" else sl.inverse_time(alpha, 0.05)
    epochs = 6
    runs = {repr(sampler): dict(sampler=sampler, step=step) for sampler in CASES}
    table = sl.compare(problem, runs, seeds=SEEDS, epochs=epochs).table
    comparisons = len(CASES) * epochs * 2
    # Bonferroni: every recorded mean within z standard errors of the exact value, family-wise level 1e-3.
    z = scipy.stats.norm.isf(1e-3 / (2 * comparisons))
    for sampler in CASES:
        exact = theory.expected_history(problem, sampler, step, epochs).set_index("epoch")
        runs_of = table[table.run == repr(sampler)].assign(dist_sq=lambda t: t.dist**2)
        for epoch, rows in runs_of[runs_of.epoch > 0].groupby("epoch"):
            for column in ("gap", "dist_sq"):
                values = rows[column].to_numpy()
                error = abs(values.mean() - exact.loc[epoch, column]) / (values.std(ddof=1) / np.sqrt(SEEDS))
                assert error <= z, (repr(sampler), epoch, column, error)


@pytest.mark.parametrize(("call", "error", "text"), [
    (lambda p: theory.expected_history(sl.logistic_regression(np.eye(3), [0, 1, 1]), sl.cyclic(1), 0.1, 2),
     ValueError, "problem must be a least-squares problem without constraint (its gradients are affine)"),
    (lambda p: theory.expected_history(p, sl.shuffled_cyclic(1), 0.1, 2), ValueError,
     "problem must be a problem of at most N = 8 terms for shuffled_cyclic"),
    (lambda p: theory.expected_history(p, sl.shuffled_chunks(2, chunk=3), 0.1, 2), ValueError,
     "sampler must be full_batch, with_replacement, without_replacement, cyclic"),
    (lambda p: theory.expected_history(p, sl.with_replacement(1), 0.1, 10**7), ValueError,
     "epochs must be at most 3e+10 multiply-adds of the exact recursion"),
])
def test_what_has_no_exact_curve_is_refused_by_name(regression_data, call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call(sl.least_squares(*regression_data))


def test_the_recursion_stays_stable_over_many_steps():
    # Rounding leaves S slightly asymmetric; S − α(HS + SᵀH) would amplify that part by up to 1 + α(λᵢ − λⱼ)
    # a step (it blew up after ~600 steps here before S was symmetrized). The expectation is bounded
    # (Gower et al.'s bound holds), so the curve must stay below it.
    data = sl.data.synthetic(n=2000, p=10, condition_number=10, noise=1.0, seed=0)
    problem = sl.least_squares(data.X, data.y)
    sampler = sl.with_replacement(32)
    alpha = 0.5 / theory.minibatch_lipschitz(problem, 32, sampler)
    exact = theory.expected_history(problem, sampler, alpha, epochs=15)
    bound = theory.bound(problem, sampler, alpha, epochs=15)
    assert np.all(exact.gap.to_numpy() <= bound[bound.quantity == "gap"].bound.to_numpy())
    assert exact.gap.iloc[-1] == pytest.approx(exact.gap.iloc[5], rel=1e-3)   # settled at its floor


def test_the_two_forms_of_the_terms_moments_agree():
    # With p² ≤ N the recursion uses precomputed linear maps (O(p⁴) a step), else the rows (O(N p²)).
    from sgdlab.theory.expected import _Quadratic, _TermMoments

    rng = np.random.default_rng(8)
    X = rng.normal(size=(30, 4))
    quadratic = _Quadratic.of(sl.least_squares(X, rng.normal(size=30)))
    mean, root = rng.normal(size=4), rng.normal(size=(4, 4))
    precomputed, from_rows = _TermMoments(quadratic), _TermMoments(quadratic)
    from_rows.precomputed = False
    assert precomputed.precomputed
    np.testing.assert_allclose(precomputed(mean, root @ root.T), from_rows(mean, root @ root.T), rtol=1e-12)
