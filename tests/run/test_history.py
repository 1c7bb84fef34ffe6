"""A run's path (record_params=True): θ at each history row, against an independent loop, on both engines."""

import numpy as np
import pytest

import sgdlab as sl

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
