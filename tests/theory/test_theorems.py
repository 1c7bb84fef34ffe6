"""The theorem behind each run: its verdict in words, and its bound, held below the exact expected curve
of least squares (no sampling) and below the mean of 200 seeds of real runs (diabetes, a κ = 100
quadratic and w8a logistic regression with ℓ2, three steps each)."""

import itertools

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab import theory
from sgdlab.theory.shuffling import shadow_drift
from sgdlab.theory.theorems import CONTRACTION, GRADIENT_SUM, SGD, SHUFFLED

from reference import logistic_gradients


def _noisy(n=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.3, 2.0, size=(n, 1))
    return sl.least_squares(X, X @ rng.normal(size=p) + rng.normal(size=n))


def test_each_sampler_gets_its_own_theorem_or_none():
    problem = _noisy()
    sgd = sl.with_replacement(1)
    alpha = 0.25 / theory.minibatch_lipschitz(problem, 1, sgd)
    assert sl.check_step(problem, alpha).theorem == "the descent lemma of gradient descent"
    assert sl.check_step(problem, alpha, sgd).theorem == SGD
    assert sl.check_step(problem, alpha, sl.without_replacement(4)).theorem == SGD
    beyond = sl.check_step(problem, 3 * alpha, sgd)
    assert beyond.theorem is None and beyond.verdict.startswith("α·L_B = 0.75 > 1/2: beyond the steps of SGD's")
    for shuffled in (sl.shuffled_cyclic(1), sl.shuffle_once(4), sl.cyclic(2)):   # terms xᵢxᵢᵀ: not strongly convex
        check = sl.check_step(problem, alpha, shuffled)
        assert check.theorem is None and "needs every term fᵢ μ-strongly convex" in check.verdict
    chunks = sl.check_step(problem, alpha, sl.shuffled_chunks(1, chunk=4))
    assert chunks.theorem is None and "no theorem known for shuffled_chunks(" in chunks.verdict
    logistic = sl.logistic_regression(problem.X, problem.y > 0)   # no ℓ2: not strongly convex
    assert "needs F μ-strongly convex" in sl.check_step(logistic, 0.1, sgd).verdict


def test_the_bounds_lie_above_the_exact_expected_curves_of_random_least_squares():
    rng = np.random.default_rng(3)
    for trial in range(40):
        problem = _noisy(n=int(rng.integers(4, 30)), p=int(rng.integers(1, 4)), seed=trial)
        for sampler in (sl.full_batch(), sl.with_replacement(int(rng.integers(1, 4))),
                        sl.without_replacement(int(rng.integers(1, 4)))):
            L_B = problem.lipschitz() if sampler.is_full_batch else theory.minibatch_lipschitz(
                problem, sampler.batch_size, sampler)
            limit = 1.9 / L_B if sampler.is_full_batch else 0.5 / L_B
            step = sl.inverse_time(rng.uniform(0.1, 1.0) * limit, rng.uniform(0, 0.1))
            params0 = rng.normal(size=problem.params0.shape) * 3
            bound = theory.bound(problem, sampler, step, epochs=6, params0=params0)
            exact = theory.expected_history(problem, sampler, step, epochs=6, params0=params0)
            assert set(bound.theorem) == {CONTRACTION if sampler.is_full_batch else SGD}
            for quantity in ("dist_sq", "gap"):
                curve = bound[bound.quantity == quantity].bound.to_numpy()
                assert np.all(exact[quantity].to_numpy() <= curve * (1 + 1e-9) + 1e-15), (trial, sampler, quantity)


def _diabetes():
    data = sl.data.load("diabetes")
    return sl.least_squares(sl.data.with_intercept(sl.data.standardize(data.X)), data.y)


def _quadratic():
    data = sl.data.synthetic(n=500, p=10, condition_number=100.0, noise=1.0, seed=0)
    return sl.least_squares(data.X, data.y)


def _w8a_logistic(w8a):
    X, y = w8a
    return sl.logistic_regression(X, y, l2=1e-3)   # θ* by Newton's method, μ = λ


@pytest.mark.parametrize(("make", "epochs"), [(_diabetes, 6), (_quadratic, 6), (_w8a_logistic, 2)],
                         ids=["diabetes", "kappa100", "w8a-logistic"])
def test_the_bounds_hold_for_the_mean_of_200_seeds_of_real_runs(make, epochs, request):
    """w8a runs two epochs (each of its 49,749 examples seen twice by 600 lanes a sampler)."""
    problem = make(request.getfixturevalue("w8a")) if make is _w8a_logistic else make()
    runs = {}
    for sampler in (sl.with_replacement(1), sl.without_replacement(16), sl.full_batch()):
        L_B = problem.lipschitz() if sampler.is_full_batch else theory.minibatch_lipschitz(
            problem, sampler.batch_size, sampler)
        for fraction in (0.1, 0.5, 1.0):   # of the theorem's largest step: 1/(2 L_B), or 1.9/L for GD
            alpha = fraction * (1.9 / L_B if sampler.is_full_batch else 0.5 / L_B)
            runs[f"{sampler!r} {fraction}"] = dict(sampler=sampler, step=alpha)
    stochastic = {name: settings for name, settings in runs.items() if not settings["sampler"].is_full_batch}
    table = pd.concat([sl.compare(problem, stochastic, seeds=200, epochs=epochs, predict=False).table,   # GD is
                       sl.compare(problem, {name: runs[name] for name in runs.keys() - stochastic.keys()},  # the same
                                  seeds=1, epochs=epochs, predict=False).table])                        # every seed
    table = table.assign(dist_sq=lambda t: t.dist**2)
    for name, settings in runs.items():
        bound = theory.bound(problem, settings["sampler"], settings["step"], epochs=epochs)
        assert not bound.empty, name
        _assert_mean_below_bound(table[table.run == name], bound, name)


def _assert_mean_below_bound(rows, bound, name):
    """At every recorded epoch the mean over seeds of ‖θ − θ*‖² and of F − p* is at most its bound plus three
    standard errors (one seed: a deterministic run, held to the bound itself up to rounding)."""
    for quantity in ("dist_sq", "gap"):
        measured = rows.groupby("epoch")[quantity].agg(["mean", "std", "count"])
        curve = bound[bound.quantity == quantity].set_index("epoch").bound
        standard_error = (measured["std"].fillna(0) / np.sqrt(measured["count"])).clip(lower=1e-300)
        excess = (measured["mean"] - curve * (1 + 1e-12)) / standard_error
        assert (excess <= 3).all(), (name, quantity, excess.max())


def test_no_bound_is_drawn_where_no_theorem_applies():
    problem = _noisy()
    none = theory.bound(problem, sl.shuffled_cyclic(1), 0.01, epochs=3)
    assert none.empty and list(none.columns) == ["epoch", "quantity", "bound", "theorem"]
    assert "needs every term fᵢ μ-strongly convex" in none.attrs["verdict"]
    beyond = theory.bound(problem, sl.with_replacement(1), 10.0, epochs=3)
    assert beyond.empty and "beyond the steps of SGD's theorem" in beyond.attrs["verdict"]


def test_a_comparison_reports_each_runs_own_theorem():
    problem = _noisy()
    alpha = 0.25 / theory.minibatch_lipschitz(problem, 1, sl.with_replacement(1))
    runs = sl.compare(problem, {"GD": dict(sampler=sl.full_batch(), step="1/L"),
                                "SGD": dict(sampler=sl.with_replacement(1), step=alpha),
                                "RR": dict(sampler=sl.shuffled_cyclic(1), step=alpha)}, seeds=1, epochs=1).runs
    assert runs["GD"]["step_check"].startswith("α·L = 1 < 2: gradient descent")
    assert "Gower et al. 2019, Theorem 3.1" in runs["SGD"]["step_check"]
    assert "needs every term fᵢ μ-strongly convex" in runs["RR"]["step_check"]


def test_gradient_descent_without_strong_convexity_bounds_the_smallest_gradient(mushrooms):
    """min_{k<K} ‖∇F(θᵏ)‖² ≤ (F(θ⁰) − F_low)/Σ_{k<K} αₖ(1 − αₖL/2): F(0) = log 2 and F_low = 0 for logistic
    regression from θ⁰ = 0; the gradients come from an independent NumPy loop of gradient descent."""
    X, y = mushrooms
    problem = sl.logistic_regression(X, y)
    L, signs = problem.lipschitz(), np.where(y == 1, 1.0, -1.0)
    for ratio in (0.5, 1.0, 1.9):
        alpha = ratio / L
        bound = theory.bound(problem, sl.full_batch(), alpha, epochs=30)
        assert set(bound.theorem) == {GRADIENT_SUM}
        np.testing.assert_allclose(bound.bound, np.log(2) / (np.arange(1, 31) * alpha * (1 - ratio / 2)), rtol=1e-12)
        theta, smallest = np.zeros(X.shape[1]), []
        for _ in range(30):
            gradient = logistic_gradients(theta, X, signs).mean(axis=0)
            smallest.append(min(smallest[-1] if smallest else np.inf, gradient @ gradient))
            theta = theta - alpha * gradient
        assert np.all(np.array(smallest) <= bound.bound.to_numpy()), ratio
    assert theory.bound(problem, sl.full_batch(), 2.1 / L, epochs=3).empty   # beyond 2/L: no theorem


def test_shuffled_orders_get_their_theorem_when_every_term_is_strongly_convex():
    problem = _noisy()
    ridge = sl.logistic_regression(problem.X, problem.y > 0, l2=0.1)   # N = 40; every term 0.1-strongly convex
    alpha = 0.5 / ridge.lipschitz_max()
    for sampler in (sl.shuffled_cyclic(1), sl.shuffle_once(4), sl.cyclic(8)):
        assert sl.check_step(ridge, alpha, sampler).theorem == SHUFFLED
    assert "B dividing N; N = 40, B = 3" in sl.check_step(ridge, alpha, sl.shuffled_cyclic(3)).verdict
    assert "a constant step" in sl.check_step(ridge, sl.inverse_time(alpha, 0.1), sl.cyclic(1)).verdict
    assert theory.bound(ridge, sl.cyclic(1), sl.inverse_time(alpha, 0.1), epochs=2).empty
    beyond = sl.check_step(ridge, 1.5 / ridge.lipschitz_max(), sl.shuffled_cyclic(1))
    assert beyond.theorem is None and beyond.verdict.startswith("α·L_max = 1.5 > 1: beyond")


def _enumerated_drift(gradients, batch, q, orders):
    """Σ_k q^{m−1−k} ‖(1/B) Σ_{i<kB} g_{π(i)}‖², averaged over the given orders, by brute force."""
    m = len(gradients) // batch
    total = 0.0
    for order in orders:
        prefix = np.vstack([np.zeros(gradients.shape[1]), np.cumsum(gradients[list(order)], axis=0)])
        total += sum(q ** (m - 1 - k) * np.sum((prefix[k * batch] / batch) ** 2) for k in range(m))
    return total / len(orders)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_shadow_drift_equals_its_enumeration_over_every_order(batch):
    """D for random reshuffling against the average over all 6! orders, and for cyclic against the identity
    order, the gradients at θ* computed independently from the closed form of least squares."""
    rng = np.random.default_rng(batch)
    X = rng.normal(size=(6, 2))
    problem = sl.least_squares(X, X @ np.array([1.0, -1.0]) + rng.normal(size=6))
    gradients = (X @ problem.solution() - problem.y)[:, None] * X      # ∇fᵢ(θ*) = (xᵢᵀθ* − yᵢ) xᵢ
    q = 0.9
    every = list(itertools.permutations(range(6)))
    assert shadow_drift(problem, sl.shuffled_cyclic(batch), q) == pytest.approx(
        _enumerated_drift(gradients, batch, q, every), rel=1e-10)
    assert shadow_drift(problem, sl.cyclic(batch), q) == pytest.approx(
        _enumerated_drift(gradients, batch, q, [range(6)]), rel=1e-10)


def test_shuffled_bounds_lie_above_the_exact_expected_curves_of_one_parameter_least_squares():
    """With one parameter every term ½(xᵢθ − yᵢ)² is xᵢ²-strongly convex; N ≤ 8, so the exact expectation
    of random reshuffling and shuffle once averages every order."""
    rng = np.random.default_rng(4)
    for trial in range(30):
        n = int(rng.choice([2, 4, 6, 8]))
        X = rng.normal(size=(n, 1)) * rng.uniform(0.3, 2.0, size=(n, 1))
        problem = sl.least_squares(X, X[:, 0] * rng.normal() + rng.normal(size=n))
        for sampler in (sl.cyclic(1), sl.shuffled_cyclic(1), sl.shuffle_once(1), sl.shuffled_cyclic(2),
                        sl.shuffle_once(2), sl.cyclic(2)):
            alpha = rng.uniform(0.05, 1.0) / problem.lipschitz_max()
            params0 = np.array([3 * rng.normal()])
            bound = theory.bound(problem, sampler, alpha, epochs=6, params0=params0)
            exact = theory.expected_history(problem, sampler, alpha, epochs=6, params0=params0)
            assert set(bound.theorem) == {SHUFFLED}
            for quantity in ("dist_sq", "gap"):
                curve = bound[bound.quantity == quantity].bound.to_numpy()
                assert np.all(exact[quantity].to_numpy() <= curve * (1 + 1e-9) + 1e-15), (trial, sampler, quantity)


def test_the_shuffled_bounds_hold_for_the_mean_of_200_seeds_on_mushrooms(mushrooms):
    """Random reshuffling and shuffle once over 200 seeds, cyclic (deterministic) once, each at three steps,
    on mushrooms logistic regression with ℓ2 (N = 8,124 = 4 · 2,031, so B = 1 and B = 4 cover it)."""
    X, y = mushrooms
    problem = sl.logistic_regression(X, y, l2=1e-2)
    samplers = {"rr": (sl.shuffled_cyclic(1), 200), "so": (sl.shuffle_once(4), 200), "cyclic": (sl.cyclic(1), 1)}
    for label, (sampler, seeds) in samplers.items():
        runs = {f"{label} {fraction}": dict(sampler=sampler, step=fraction / problem.lipschitz_max())
                for fraction in (0.1, 0.5, 1.0)}
        table = sl.compare(problem, runs, seeds=seeds, epochs=3, predict=False).table
        table = table.assign(dist_sq=lambda t: t.dist**2)
        for name, settings in runs.items():
            bound = theory.bound(problem, sampler, settings["step"], epochs=3)
            assert set(bound.theorem) == {SHUFFLED}, name
            _assert_mean_below_bound(table[table.run == name], bound, name)
