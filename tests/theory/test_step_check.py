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
