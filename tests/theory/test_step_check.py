"""The 2/L rule: verdicts in words, the warning and note of a run beyond it, refused steps."""

import re
import warnings

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
