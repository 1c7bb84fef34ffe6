"""Recording inside an epoch (record_every = 1/m, record_steps) and budgets in steps for finite sums: the
same rows on both engines, rows at whole epochs equal to the per-epoch run's, exact iteration counts, and
the slow reference loop at every fractional row."""

import re

import numpy as np
import pytest

import sgdlab as sl

from reference import least_squares_gradients, reference_run

METHODS = {"plain": None, "heavy_ball": sl.heavy_ball(0.5), "saga": sl.saga()}


@pytest.fixture(scope="module")
def problems(regression_data, classification_data):
    X, y = regression_data
    Xc, yc = classification_data
    return {"least_squares": sl.least_squares(X, y), "logistic": sl.logistic_regression(Xc, yc, l2=0.01)}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_quarter_epochs_match_on_both_engines_and_whole_epochs_match_the_per_epoch_run(problems, kind, method):
    problem, rule = problems[kind], METHODS[method]
    sampler = sl.shuffled_cyclic(7)   # N = 60 or 50: S = 9 or 8 steps an epoch, the last batch short
    runs = {engine: sl.minimize(problem, sampler, step=0.05, epochs=3, seed=4, engine=engine, method=rule,
                                record_every=0.25) for engine in ("jax", "native")}
    jax_history, native_history = runs["jax"].history, runs["native"].history
    assert runs["native"].engine == "native"
    np.testing.assert_array_equal(jax_history.iteration, native_history.iteration)
    np.testing.assert_allclose(native_history.loss, jax_history.loss, rtol=1e-10)
    S = sampler.steps_per_epoch(problem.n)
    expected = [0] + [epoch * S + piece * S // 4 for epoch in range(3) for piece in range(1, 5)]
    assert jax_history.iteration.tolist() == expected
    np.testing.assert_allclose(jax_history.epoch, np.array(expected) / S)
    whole = sl.minimize(problem, sampler, step=0.05, epochs=3, seed=4, method=rule, engine="jax").history
    at_whole = jax_history[jax_history.epoch == jax_history.epoch.round()].reset_index(drop=True)
    np.testing.assert_array_equal(at_whole.loss, whole.loss)
    np.testing.assert_array_equal(at_whole.grad_evals, whole.grad_evals)


def test_every_fractional_row_is_the_reference_loop_at_that_step(problems, regression_data):
    problem, (X, y) = problems["least_squares"], regression_data
    sampler = sl.with_replacement(5)
    result = sl.minimize(problem, sampler, step=0.03, epochs=2, seed=1, record_steps=5, record_params=True)
    assert result.history.iteration.tolist() == [0, 5, 10, 12, 17, 22, 24]
    for iteration, theta in zip(result.history.iteration, result.path, strict=True):
        gradients = lambda theta, idx: least_squares_gradients(theta, X[idx], y[idx])  # noqa: E731
        expected = reference_run(gradients, np.zeros(4), 60, sampler, lambda k: 0.03, 2, 1, steps=int(iteration))
        np.testing.assert_allclose(theta, expected, rtol=1e-10, atol=1e-12)


def test_a_budget_in_steps_ends_inside_an_epoch(problems):
    problem = problems["least_squares"]
    result = sl.minimize(problem, sl.shuffled_cyclic(7), step=0.05, steps=20, seed=2)
    S = 9
    assert result.iterations == 20 and result.epochs == pytest.approx(20 / S)
    assert result.history.iteration.tolist() == [0, 9, 18, 20]
    longer = sl.minimize(problem, sl.shuffled_cyclic(7), step=0.05, epochs=3, seed=2, record_steps=2)
    np.testing.assert_array_equal(result.history.loss.iloc[-1], longer.history.set_index("iteration").loss[20])
    assert result.message.startswith(f"stopped after {20 / S:g} epochs (20 iterations)")


def test_rows_inside_epochs_in_a_comparison_and_on_resume(problems, tmp_path):
    problem = problems["logistic"]
    table = sl.compare(problem, {"rr": dict(sampler=sl.shuffled_cyclic(5), step=0.5)}, seeds=2, epochs=2,
                       record_every=0.5, predict=False).table
    alone = sl.minimize(problem, sl.shuffled_cyclic(5), step=0.5, epochs=2, seed=1, record_every=0.5).history
    lane = table[table.seed == 1].reset_index(drop=True)
    assert lane.epoch.tolist() == [0, 0.5, 1, 1.5, 2]
    np.testing.assert_array_equal(lane.loss, alone.loss)
    path = tmp_path / "run.npz"
    sl.minimize(problem, sl.shuffled_cyclic(5), step=0.5, epochs=1, seed=1, record_every=0.5, checkpoint=path)
    resumed = sl.minimize(problem, sl.shuffled_cyclic(5), step=0.5, epochs=2, seed=1, record_every=0.5,
                          checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.history.loss, alone.loss)


def test_gradient_descent_in_a_comparison_records_every_step_when_rows_are_finer(problems):
    runs = {"GD": dict(sampler=sl.full_batch(), step=1.0), "rr": dict(sampler=sl.shuffled_cyclic(5), step=0.5)}
    table = sl.compare(problems["logistic"], runs, seeds=1, epochs=2, record_every=0.25, predict=False).table
    assert table[table.run == "GD"].epoch.tolist() == [0, 1, 2]
    assert table[table.run == "rr"].epoch.tolist() == [0, 0.2, 0.5, 0.7, 1, 1.2, 1.5, 1.7, 2]
    with pytest.raises(ValueError, match=re.escape("record_every must be at least 1/1 of an epoch here")):
        sl.minimize(problems["logistic"], step=1.0, record_every=0.25)


def test_early_stopping_counts_epochs_on_fractional_rows(problems):
    problem = problems["least_squares"]
    result = sl.minimize(problem, sl.shuffled_cyclic(7), step=1e-4, epochs=50, record_every=0.5,
                         stop=sl.patience(on="loss", epochs=2, min_delta=10.0))
    assert result.status == "stopped_early" and result.epochs == 2   # no row improves F by 10: two epochs on


def test_an_expectation_takes_record_steps():
    def loss(theta, omega):
        return 0.5 * (theta - omega) ** 2

    def sample(key):
        import jax
        return jax.random.normal(key)

    problem = sl.expectation(loss, sample, 0.0, exact_loss=lambda theta: 0.5 * theta**2 + 0.5)
    result = sl.minimize(problem, sl.iid(4), step=0.1, steps=30, record_steps=10)
    assert result.history.iteration.tolist() == [0, 10, 20, 30]


@pytest.mark.parametrize(("options", "error", "text"), [
    (dict(record_every=0.3), ValueError, "record_every must be a positive number: a whole number of epochs, or 1/m "
     "of one (0.5, 0.25, 0.2, 0.1, …); got 0.3"),
    (dict(record_every=1.5), ValueError, "record_every must be a positive number"),
    (dict(record_every=0.0), ValueError, "record_every must be a positive number"),
    (dict(record_every="half"), ValueError, "record_every must be a positive number"),
    (dict(record_every=0.05), ValueError, "record_every must be at least 1/9 of an epoch here (an epoch has 9 steps: "
     "at least one step between rows); got 0.05"),
    (dict(record_steps=10), ValueError, "record_steps must be an integer in [1, 9] for an epoch of 9 steps; got 10"),
    (dict(record_steps=2, record_every=2), ValueError, "record_steps must be left out when record_every is given"),
    (dict(steps=20, epochs=3), ValueError, "steps must be left out when epochs is given"),
])
def test_bad_recording(problems, options, error, text):
    with pytest.raises(error, match=re.escape(text)):
        sl.minimize(problems["least_squares"], sl.shuffled_cyclic(7), step=0.05, **options)
