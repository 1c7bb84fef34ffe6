"""minimize: both engines (JAX and the native loop) against the slow reference loop, the textbook GD results, history and status."""

import inspect
import re

import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.run.options import RunKeywords

from reference import least_squares_gradients, logistic_gradients, reference_run, softmax_gradients

SCHEMES = [
    sl.full_batch(),
    sl.with_replacement(1), sl.with_replacement(7),
    sl.without_replacement(1), sl.without_replacement(7),
    sl.cyclic(1), sl.cyclic(7), sl.cyclic(7, drop_last=True),
    sl.shuffled_cyclic(1), sl.shuffled_cyclic(7), sl.shuffled_cyclic(7, drop_last=True),
    sl.shuffle_once(1), sl.shuffle_once(7), sl.shuffle_once(7, drop_last=True),
    sl.flip_flop(1), sl.flip_flop(7), sl.flip_flop(7, drop_last=True),
]
EPOCHS, SEED = 3, 5


ENGINES = ["jax", "native"]


def _engine_equals_reference(problem, gradients, theta0, sampler, step, engine):
    result = sl.minimize(problem, sampler=sampler, step=step, epochs=EPOCHS, seed=SEED, params0=theta0, engine=engine)
    assert result.engine == engine
    schedule = sl.schedules.as_schedule(step)
    expected = reference_run(gradients, theta0, problem.n, sampler, lambda k: float(schedule(k)), EPOCHS, SEED)
    assert result.iterations == EPOCHS * sampler.steps_per_epoch(problem.n)
    np.testing.assert_allclose(result.params, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sampler", SCHEMES, ids=repr)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_equals_reference_on_least_squares(regression_data, sampler, engine):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    _engine_equals_reference(problem, lambda t, idx: least_squares_gradients(t, X[idx], y[idx]),
                             np.array([1.0, 1.0, -1.0, 0.0]), sampler, sl.inverse_time(0.05, 0.01), engine)


@pytest.mark.parametrize("sampler", SCHEMES, ids=repr)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_equals_reference_on_logistic(classification_data, sampler, engine):
    X, y = classification_data
    signs = np.where(y == 1, 1.0, -1.0)
    problem = sl.logistic_regression(X, y, l2=0.01)
    _engine_equals_reference(problem, lambda t, idx: logistic_gradients(t, X[idx], signs[idx], l2=0.01),
                             np.array([0.2, -0.3, 0.1]), sampler, 0.5, engine)


@pytest.mark.parametrize("sampler", [sl.with_replacement(4), sl.shuffled_cyclic(4)], ids=repr)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_equals_reference_on_softmax(multiclass_data, sampler, engine):
    X, y = multiclass_data
    problem = sl.softmax_regression(X, y, l2=0.01)
    _engine_equals_reference(problem, lambda W, idx: softmax_gradients(W, X[idx], problem.y[idx], l2=0.01),
                             np.zeros((4, 3)), sampler, 0.3, engine)


def test_gd_with_one_over_L_reaches_gradient_tolerance(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, step=1.0 / problem.lipschitz(), epochs=1000, tol=1e-8)
    assert result.status == "converged" and "converged" in result.message
    assert result.history.grad_norm.iloc[-1] <= 1e-8
    np.testing.assert_allclose(result.params, problem.solution(), atol=1e-7)


def test_default_step_is_one_over_L(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    assert float(sl.minimize(problem, epochs=1).step(0)) == pytest.approx(1.0 / problem.lipschitz())


def test_gd_above_two_over_L_diverges_and_says_why(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    with pytest.warns(sl.StepSizeWarning):
        result = sl.minimize(problem, step=2.1 / problem.lipschitz(), epochs=2000)
    assert result.status == "diverged"
    assert result.epochs < 2000
    assert f"diverged at epoch {result.epochs}" in result.message and "α·L = 2.1 ≥ 2" in result.message
    assert len(result.history) == result.epochs + 1 and np.isfinite(result.history.loss.iloc[-2])


def test_non_finite_parameters_end_as_diverged(regression_data):
    X, y = regression_data
    with pytest.warns(sl.StepSizeWarning):
        result = sl.minimize(sl.least_squares(X * 1e150, y), sampler=sl.cyclic(1), step=1.0, epochs=3)
    assert result.status == "diverged" and "non-finite" in result.message


def test_run_started_at_the_optimum_does_not_diverge():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    problem = sl.least_squares(X, X @ np.array([1.0, 2.0, 3.0]))  # p* = 0
    result = sl.minimize(problem, sampler=sl.shuffled_cyclic(1), step=0.05, epochs=5, params0=problem.solution())
    assert result.status == "max_epochs"
    assert result.history.loss.max() < 1e-20


def test_history_rows_columns_and_thinning(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, sampler=sl.shuffled_cyclic(8), step=0.02, epochs=10, record_every=4)
    history = result.history
    assert list(history.columns) == ["epoch", "iteration", "grad_evals", "loss", "grad_norm", "gap", "dist", "time"]
    assert history.epoch.tolist() == [0, 4, 8, 10]
    assert history.iteration.tolist() == [0, 32, 64, 80]
    assert history.grad_evals.tolist() == [0.0, 4.0, 8.0, 10.0]   # plain SGD: N per-example gradients an epoch
    assert history.time.is_monotonic_increasing and history.time.iloc[0] == 0.0
    theta = result.params
    assert history.loss.iloc[-1] == pytest.approx(float(problem.loss(theta)), rel=1e-12)
    assert history.gap.iloc[-1] == pytest.approx(history.loss.iloc[-1] - problem.optimal_value(), rel=1e-10)
    assert history.dist.iloc[-1] == pytest.approx(np.linalg.norm(theta - problem.solution()), rel=1e-10)
    assert history.grad_norm.iloc[-1] == pytest.approx(np.linalg.norm(problem.grad(theta)), rel=1e-10)


def test_gap_and_dist_are_nan_when_unknown(classification_data):
    X, y = classification_data
    history = sl.minimize(sl.logistic_regression(X, y), step=0.5, epochs=2).history
    assert history.gap.isna().all() and history.dist.isna().all() and history.loss.notna().all()


def test_same_seed_same_run_other_seed_other_run(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)

    def run(seed):
        return sl.minimize(problem, sampler=sl.with_replacement(2), step=0.02, epochs=3, seed=seed).params

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2))


def test_float32_data_run_in_float32(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X.astype(np.float32), y.astype(np.float32))
    result = sl.minimize(problem, sampler=sl.shuffled_cyclic(4), step=0.05, epochs=20)
    assert result.params.dtype == np.float32
    np.testing.assert_allclose(result.params, problem.solution(), atol=0.05)


def test_sgd_with_decaying_steps_approaches_the_solution(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, sampler=sl.with_replacement(1), step=sl.inverse_time(0.05, 0.002), epochs=100)
    history = result.history
    assert history.dist.iloc[-1] < 0.05 * history.dist.iloc[0]


def test_sampler_may_be_given_by_name(regression_data):
    X, y = regression_data
    result = sl.minimize(sl.least_squares(X, y), sampler="cyclic", step=0.01, epochs=1)
    assert result.sampler == sl.cyclic(1) and result.iterations == len(y)


def test_params0_may_be_a_jax_array(regression_data):
    X, y = regression_data
    result = sl.minimize(sl.least_squares(X, y), step=0.1, epochs=1, params0=jnp.ones(4))
    assert result.history.loss.iloc[0] == pytest.approx(np.sum((X @ np.ones(4) - y) ** 2) / (2 * len(y)))


def test_tol_met_at_the_start_converges_without_steps(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, tol=1e-6, params0=problem.solution())
    assert result.status == "converged" and result.epochs == 0 and result.iterations == 0


def test_options_past_the_first_three_are_keyword_only_and_shown_with_their_defaults():
    for function in (sl.minimize, sl.maximize):
        parameters = inspect.signature(function).parameters
        assert list(parameters)[:3] == ["problem", "sampler", "step"]
        keywords = {name: p for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert set(keywords) == set(RunKeywords.__annotations__) and keywords["epochs"].default is None
        assert keywords["engine"].default == "auto" and keywords["seed"].default == 0
    with pytest.raises(TypeError, match="positional"):
        sl.minimize(sl.least_squares(np.eye(2), np.ones(2)), None, 0.1, 5)


def test_a_misspelt_keyword_names_the_keywords_and_the_closest_one(regression_data):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(TypeError, match=re.escape("got an unexpected keyword argument 'epoch' (did you mean "
                                                  "'epochs'?)")) as error:
        sl.minimize(problem, step=0.1, epoch=3)
    assert "keyword must be one of sampler, step, epochs, steps, params0, seed" in str(error.value)


def test_the_step_size_warning_points_at_the_callers_line(regression_data):
    problem = sl.least_squares(*regression_data)
    line = inspect.currentframe().f_lineno + 2   # the line of the call below
    with pytest.warns(sl.StepSizeWarning) as caught:
        sl.minimize(problem, step=3.0 / problem.lipschitz(), epochs=1)
    assert caught[0].filename == __file__ and caught[0].lineno == line


@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(1), sl.with_replacement(4)], ids=repr)
def test_a_callable_step_runs_on_both_engines_alike(regression_data, sampler):
    """A step given as a function k ↦ αₖ in jax.numpy: the native loop computes it as the JAX engine does."""
    X, y = regression_data
    problem = sl.least_squares(X, y)

    def step(k):
        return 0.05 / (1.0 + 0.01 * k)

    runs = {engine: sl.minimize(problem, sampler=sampler, step=step, epochs=2, seed=1, engine=engine)
            for engine in ENGINES}
    np.testing.assert_allclose(runs["native"].params, runs["jax"].params, rtol=0, atol=1e-12)
    lanes = sl.compare(problem, {"f": dict(sampler=sampler, step=step)}, seeds=2, epochs=2, engine="native")
    assert set(lanes.table.status) == {"max_epochs"}
