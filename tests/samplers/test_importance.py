"""Importance sampling: its draws, its weights, its unbiasedness, its runs and what it refuses."""

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.sparse
import scipy.stats

import sgdlab as sl

from reference import importance_run, least_squares_gradients, logistic_gradients

N, P = 60, 4
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _heterogeneous(seed=0):
    """Rows whose norms span 100× (0.1 to 10): the per-example constants Lᵢ = ‖xᵢ‖² span 10⁴."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P)) * np.geomspace(0.1, 10.0, N)[:, None]
    return X, X @ rng.normal(size=P) + 0.1 * rng.normal(size=N)


def test_indices_follow_the_weights_chi_square():
    # 40,000 draws over 6 categories of positive weight (the zero-weight ones never appear): Pearson's chi-square
    # against pᵢ ∝ wᵢ at a fixed seed; p = 0.001 would reject a correct sampler once in a thousand seeds.
    weights = np.array([1.0, 0.0, 2.0, 3.0, 0.5, 0.0, 4.0, 1.5])
    sampler = sl.importance(100, weights=weights)
    counts = np.zeros(weights.size)
    for epoch in range(50):
        indices, step_weights = sampler.plan(weights.size, seed=7, epoch=epoch)
        counts += np.bincount(indices.ravel(), minlength=weights.size)
        probabilities = weights / weights.sum()
        np.testing.assert_allclose(step_weights, 1.0 / (weights.size * probabilities[indices]), rtol=1e-15)
    assert counts[weights == 0].sum() == 0
    positive = weights > 0
    expected = counts.sum() * weights[positive] / weights.sum()
    assert scipy.stats.chisquare(counts[positive], expected).pvalue > 1e-3


def test_the_weighted_gradient_is_unbiased_and_lipschitz_weights_come_from_the_problem():
    X, y = _heterogeneous()
    problem = sl.least_squares(X, y)
    bound = sl.importance(1).for_problem(problem)
    np.testing.assert_allclose(bound.weights.probabilities, np.sum(X**2, axis=1) / np.sum(X**2), rtol=1e-12)
    assert sl.theory.unbiasedness(problem, sl.importance(1), params=np.ones(P), draws=4000).unbiased
    assert sl.theory.unbiasedness(problem, sl.importance(3), params=np.ones(P), draws=4000, step=2).unbiased


@pytest.mark.parametrize(("batch_size", "engine"), [(1, "jax"), (1, "native"), (7, "jax")])
def test_a_run_equals_the_reference_loop(batch_size, engine):
    X, y = _heterogeneous(1)
    signs = np.where(y > 0, 1.0, -1.0)
    cases = [(sl.least_squares(X, y), lambda t, idx: least_squares_gradients(t, X[idx], y[idx]),
              np.sum(X**2, axis=1)),
             (sl.logistic_regression(X, y > 0, l2=0.01), lambda t, idx: logistic_gradients(t, X[idx], signs[idx], 0.01),
              np.sum(X**2, axis=1) / 4 + 0.01)]
    for problem, gradients, constants in cases:
        sampler = sl.importance(batch_size)
        alpha = 0.25 / np.mean(constants)
        result = sl.minimize(problem, sampler, step=alpha, epochs=3, seed=2, params0=np.full(P, 0.1), engine=engine)
        assert result.engine == engine
        expected = importance_run(gradients, np.full(P, 0.1), N, sampler.for_problem(problem), lambda k, a=alpha: a, 3,
                                  2, constants / constants.sum())
        np.testing.assert_allclose(result.params, expected, rtol=0, atol=1e-10)


def test_the_step_check_uses_the_mean_constant():
    X, y = _heterogeneous()
    problem = sl.least_squares(X, y)
    mean = np.mean(np.sum(X**2, axis=1))
    assert sl.theory.minibatch_lipschitz(problem, 1, sl.importance(1)) == pytest.approx(mean, rel=1e-12)
    check = sl.theory.check_step(problem, 0.5 / mean, sl.importance(1))
    assert "α·L_B = 0.5 ≤ 1/2" in check.verdict
    uniform = sl.theory.check_step(problem, 0.5 / mean, sl.with_replacement(1))
    assert "beyond the steps of SGD's theorem" in uniform.verdict   # the same step is far past 1/(2 L_max)


@pytest.mark.parametrize(("weights", "message"), [
    ([1.0, -1.0, 2.0], "weights must be nonnegative finite numbers; got 1 negative, NaN or infinite of 3"),
    ([1.0, np.nan, 2.0], "weights must be nonnegative finite numbers; got 1 negative, NaN or infinite of 3"),
    ([0.0, 0.0, 0.0], "weights must be numbers not all 0 .at least one example must count"),
    ([[1.0, 2.0]], "weights must be 'lipschitz' or N nonnegative numbers"),
])
def test_bad_weights_are_refused_naming_the_parameter(weights, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        sl.importance(1, weights=weights)


def test_what_importance_sampling_does_not_run_is_refused_clearly():
    X, y = _heterogeneous()
    problem = sl.least_squares(X, y)
    with pytest.raises(ValueError, match="weights must be N = 60 numbers, one an example"):
        sl.minimize(problem, sl.importance(1, weights=np.ones(5)), step=0.01, epochs=1)
    network = sl.mlp(X, y > 0, hidden=(3,))
    with pytest.raises(ValueError, match="weights must be the weights given as N numbers for a problem without "
                                         "per-example constants"):
        sl.minimize(network, sl.importance(1), step=0.01, epochs=1)
    with pytest.raises(ValueError, match=r"the sampler weighs its draws \(the native loop runs importance sampling "
                                         r"with plain SGD or its average, networks at B = 1"):
        sl.minimize(problem, sl.importance(4), step=0.01, epochs=1, engine="native", method=sl.heavy_ball(0.5))
    with pytest.raises(ValueError, match="sampler must be a uniform sampler for SAGA or on devices"):
        sl.minimize(problem, sl.importance(1), step=0.01, epochs=1, method=sl.saga())
    stream = sl.expectation(lambda theta, omega: 0.5 * (theta - omega) ** 2, lambda key: jax.random.normal(key), 0.0)
    with pytest.raises(ValueError, match="a finite sum in memory for importance sampling"):
        sl.minimize(stream, sl.importance(1), step=0.01, steps=1)
    with pytest.raises(ValueError, match="weights='lipschitz' without a problem"):
        sl.importance(1).batches(10)


def test_at_its_larger_step_importance_sampling_reaches_the_target_first():
    # examples/importance_sampling.py's problem (rows of norms 0.1 to 10, features of condition number 100): at the
    # largest steps of SGD's theorem, 0.5/L̄ against 0.5/L_max (20× apart here), every one of 10 seeds of importance
    # sampling has F − p* ≤ 10⁻⁴ of its start within 10 epochs and none of uniform sampling's (the README's table:
    # median 3 epochs against 59).
    spec = importlib.util.spec_from_file_location("importance_example", EXAMPLES / "importance_sampling.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    problem = example.heterogeneous_least_squares()
    runs = {"uniform": dict(sampler=sl.with_replacement(1), step="0.5/L_B"),
            "importance": dict(sampler=sl.importance(1), step="0.5/L_B")}
    table = sl.compare(problem, runs, seeds=10, epochs=10).table
    target = 1e-4 * table.gap.iloc[0]
    reached = {name: table[(table.run == name) & (table.gap <= target)].seed.nunique() for name in runs}
    assert reached == {"uniform": 0, "importance": 10}


@pytest.mark.parametrize("batch_size", [1, 7])
def test_importance_shuffled_holds_each_example_about_n_p_times_an_epoch(batch_size):
    # Systematic rounding: cᵢ is ⌊N pᵢ⌋ or ⌈N pᵢ⌉, the counts sum to N, zero weights never appear; the epochs differ;
    # and over 400 epochs each count's mean is N pᵢ (the rounding is unbiased) within 5 standard errors of a count
    # that varies by at most 1.
    rng = np.random.default_rng(2)
    weights = rng.uniform(0.0, 1.0, 50) * (rng.random(50) > 0.1)
    sampler = sl.importance_shuffled(batch_size, weights=weights)
    expected = 50 * weights / weights.sum()
    counts = []
    for epoch in range(400):
        indices, step_weights = sampler.plan(50, seed=1, epoch=epoch)
        real = step_weights != 0
        count = np.bincount(indices[real], minlength=50)
        assert count.sum() == 50 and np.all((count == np.floor(expected)) | (count == np.ceil(expected)))
        np.testing.assert_allclose(step_weights[real], 1.0 / expected[indices[real]], rtol=1e-12)
        counts.append(count)
    counts = np.asarray(counts)
    assert counts[:, weights == 0].sum() == 0
    assert not np.array_equal(sampler.plan(50, 1, 0)[0], sampler.plan(50, 1, 1)[0])
    assert np.all(np.abs(counts.mean(axis=0) - expected) <= 5 * 0.5 / np.sqrt(len(counts)) + 1e-12)


def test_importance_shuffled_runs_equal_the_reference_loop_and_its_steps_are_unbiased():
    X, y = _heterogeneous(3)
    problem = sl.least_squares(X, y)
    constants = np.sum(X**2, axis=1)
    sampler = sl.importance_shuffled(5)
    alpha = 0.1 / np.mean(constants)
    result = sl.minimize(problem, sampler, step=alpha, epochs=3, seed=4, params0=np.zeros(P))
    expected = importance_run(lambda t, idx: least_squares_gradients(t, X[idx], y[idx]), np.zeros(P), N,
                              sampler.for_problem(problem), lambda k: alpha, 3, 4, constants / constants.sum())
    np.testing.assert_allclose(result.params, expected, rtol=0, atol=1e-10)
    assert sl.theory.unbiasedness(problem, sampler, params=np.ones(P), draws=4000, step=3).unbiased


@pytest.mark.parametrize("sampler", [sl.importance(1), sl.importance_shuffled(1), sl.importance(8),
                                     sl.importance_shuffled(7), sl.importance(128)], ids=repr)
@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax_csr", "averaged"])
def test_the_native_loop_runs_weighted_steps_as_the_jax_engine(sampler, model):
    # At B = 1 a step's weight wₜ = 1/(N p_{iₜ}) scales the whole step (the ℓ2 term too, as in the JAX engine's
    # masked loss), so the native loop runs plain SGD at step sizes αₜ wₜ; at B > 1 the batch loops weigh each
    # row's derivative and the ℓ2 decay by the batch's mean weight (B = 128 on 4 features: one thread's batch loop;
    # B · p is below the parted loop's threshold here, tested apart). The two engines agree to rounding.
    X, y = _heterogeneous(5)
    problems = {"least_squares": sl.least_squares(X, y), "logistic": sl.logistic_regression(X, y > 0, l2=0.01),
                "softmax_csr": sl.softmax_regression(scipy.sparse.csr_matrix(X), np.digitize(y, [-1.0, 1.0]), l2=0.01),
                "averaged": sl.least_squares(X, y)}
    problem = problems[model]
    keywords = {"average": sl.polyak_average()} if model == "averaged" else {}
    alpha = 0.1 / np.mean(problem.lipschitz_each())
    runs = [sl.minimize(problem, sampler, step=sl.inverse_time(alpha, 0.01), epochs=3, seed=1, engine=engine,
                        **keywords) for engine in ("auto", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    np.testing.assert_allclose(np.asarray(runs[0].params), np.asarray(runs[1].params), rtol=0, atol=1e-12)
    for column in ("loss", "grad_norm"):
        np.testing.assert_allclose(runs[0].history[column], runs[1].history[column], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weights", [[0.0, 1.0, 2.0, 0.0, 7.0, 0.0], np.ones(5),
                                     np.random.default_rng(0).pareto(1.0, size=5_000)], ids=["zeros", "flat", "heavy"])
def test_the_alias_table_gives_each_index_its_probability_exactly(weights):
    # Column j is taken with probability c_j, else its alias: P(i) = (1/N)(c_i + Σ_{j: a_j = i} (1 − c_j)) = p_i to
    # rounding (Vose's construction), whatever the spread of the weights (a Pareto tail spans many decades).
    from sgdlab.samplers import draws

    probabilities = np.asarray(weights, dtype=float) / np.sum(weights)
    cuts, aliases = draws.alias_table(probabilities)
    implied = cuts / cuts.size
    np.add.at(implied, aliases, (1.0 - cuts) / cuts.size)
    np.testing.assert_allclose(implied, probabilities, rtol=0, atol=1e-14)
    assert np.all((cuts >= 0) & (cuts <= 1 + 1e-12))


def test_the_parted_loop_weighs_its_rows_as_the_jax_engine():
    # B · p = 64 · 80 ≥ PARTED_MIN_WORK: each step's gradient summed in two parts (on two threads when there are
    # two cores and enough steps), each row's derivative weighted by its 1/(N pᵢ).
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4_096, 80)) * rng.uniform(0.2, 5.0, size=(4_096, 1))
    problem = sl.logistic_regression(X, X @ rng.normal(size=80) > 0, l2=0.01)
    runs = [sl.minimize(problem, sl.importance(64), step=0.05 / np.mean(problem.lipschitz_each()), epochs=2, seed=3,
                        engine=engine) for engine in ("native", "jax")]
    np.testing.assert_allclose(np.asarray(runs[0].params), np.asarray(runs[1].params), rtol=0, atol=1e-12)
