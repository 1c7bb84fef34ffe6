"""A run's path (record_params=True): θ at each history row, against an independent loop, on both engines."""

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.run.history import divergence_threshold

from reference import least_squares_gradients, reference_run


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_gradient_descent_path_is_the_textbook_recursion(regression_data, engine):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    step = 1.0 / problem.lipschitz()
    result = sl.minimize(problem, sampler=sl.full_batch(), step=step, epochs=6, record_params=True, engine=engine)
    theta, expected = np.zeros(X.shape[1]), [np.zeros(X.shape[1])]
    for _ in range(6):                               # θ ← θ − α Xᵀ(Xθ − y)/N
        theta = theta - step * X.T @ (X @ theta - y) / len(y)
        expected.append(theta)
    assert len(result.path) == len(result.history) == 7
    np.testing.assert_allclose(np.array(result.path), np.array(expected), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(result.path[-1], result.params)


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_stochastic_path_follows_the_reference_loop_row_by_row(regression_data, engine):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    sampler, step = sl.shuffled_cyclic(7), 0.05
    result = sl.minimize(problem, sampler=sampler, step=step, epochs=6, seed=3, record_params=True,
                         record_every=2, engine=engine)
    assert list(result.history.epoch) == [0, 2, 4, 6] and len(result.path) == 4
    def gradients(theta, idx):
        return least_squares_gradients(theta, X[idx], y[idx])

    for row, epoch in enumerate(result.history.epoch):
        expected = reference_run(gradients, np.zeros(4), len(y), sampler, lambda k: step, int(epoch), 3)
        np.testing.assert_allclose(result.path[row], expected, rtol=0, atol=1e-10)


def test_path_stops_with_the_run_that_diverges(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    with pytest.warns(sl.StepSizeWarning):
        result = sl.minimize(problem, sampler=sl.full_batch(), step=3.0 / problem.lipschitz(), epochs=400,
                             record_params=True)
    assert result.status == "diverged"
    assert len(result.path) == len(result.history)


def test_path_is_off_by_default(regression_data):
    X, y = regression_data
    assert sl.minimize(sl.least_squares(X, y), sampler=sl.full_batch(), step=0.1, epochs=2).path is None


@pytest.mark.parametrize(("value", "error", "words"), [
    ("yes", TypeError, "record_params must be True or False; got 'yes'"),
    (1, TypeError, "record_params must be True or False; got 1"),
])
def test_record_params_must_be_a_bool(regression_data, value, error, words):
    X, y = regression_data
    with pytest.raises(error, match=words):
        sl.minimize(sl.least_squares(X, y), sampler=sl.full_batch(), step=0.1, epochs=2, record_params=value)


def test_record_params_is_refused_with_a_checkpoint(regression_data, tmp_path):
    X, y = regression_data
    with pytest.raises(ValueError, match=r"record_params must be False with checkpoint="):
        sl.minimize(sl.least_squares(X, y), sampler=sl.full_batch(), step=0.1, epochs=2, record_params=True,
                    checkpoint=tmp_path / "run.npz")


def _diabetes():
    data = sl.data.load("diabetes")
    return sl.least_squares(sl.data.with_intercept(sl.data.standardize(data.X)), data.y)


def test_gradient_descent_beyond_the_edge_diverges_within_a_few_steps():
    """At α·L = 5 the error along the top eigenvector grows 4× a step (16× in F − p*), so F − p* passes
    10⁴ times its start after four steps; the run stops there with the threshold in its message."""
    problem = _diabetes()
    with pytest.warns(sl.StepSizeWarning):
        result = sl.minimize(problem, sampler=sl.full_batch(), step=5 / problem.lipschitz(), epochs=20)
    assert result.status == "diverged" and result.epochs <= 6
    start, end = result.history.gap.iloc[0], result.history.gap.iloc[-1]
    assert end > 1e4 * start and result.history.gap.iloc[-2] <= 1e4 * start
    assert "past the divergence threshold" in result.message and "α·L = 5 ≥ 2" in result.message


def test_sgd_started_at_the_solution_is_not_called_diverged():
    """From θ⁰ = θ* the gap starts at 0; SGD's noise lifts it to its floor, far below the threshold's
    allowance of 10⁻³ |F(θ⁰)| × 10⁴ = 10 p*."""
    problem = _diabetes()
    alpha = 0.5 / sl.theory.minibatch_lipschitz(problem, 1, sl.with_replacement(1))
    result = sl.minimize(problem, sampler=sl.with_replacement(1), step=alpha, epochs=20, params0=problem.solution())
    assert result.status == "max_epochs" and result.history.gap.max() > 0


def test_divergence_threshold_follows_the_rule():
    problem = _diabetes()
    low = problem.optimal_value()
    assert divergence_threshold(problem, low + 2.0) == pytest.approx(low + 1e4 * 2.0)
    assert divergence_threshold(problem, low) == pytest.approx(low + 1e4 * 1e-3 * low)
    unbounded = sl.finite_sum(lambda p, e: p * e, np.ones(3), 1.0)       # no lower bound known
    assert divergence_threshold(unbounded, 2.0) == pytest.approx(2.0 + 1e10 * 2.0)
