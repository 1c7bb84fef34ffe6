"""Constraints: projections against closed forms and SciPy, feasibility, projected GD against scipy.optimize."""

import math
import re

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import sgdlab as sl

rng = np.random.default_rng(31)
POINTS = [rng.normal(size=7) * scale for scale in (0.1, 1.0, 5.0)]


def simplex_by_sorting(v):
    """Reference: sort v descending, ρ = max{j : u_j − (Σ_{i≤j} u_i − 1)/j > 0}, τ = (Σ_{i≤ρ} u_i − 1)/ρ."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)


def nearest_point(v, constraints):
    """Reference: argmin ‖θ − v‖² subject to the constraints, by SciPy's SLSQP."""
    result = scipy.optimize.minimize(lambda t: np.sum((t - v) ** 2), np.zeros_like(v), jac=lambda t: 2 * (t - v),
                                     constraints=constraints, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    return result.x


@pytest.mark.parametrize("v", POINTS)
def test_simplex_projection_matches_sorting_and_slsqp(v):
    projected = np.asarray(sl.simplex().project(jnp.asarray(v)))
    np.testing.assert_allclose(projected, simplex_by_sorting(v), atol=1e-14)
    reference = nearest_point(v, [{"type": "eq", "fun": lambda t: np.sum(t) - 1}, {"type": "ineq", "fun": lambda t: t}])
    np.testing.assert_allclose(projected, reference, atol=1e-6)
    assert sl.simplex().is_feasible(projected, tol=1e-12)


@pytest.mark.parametrize("v", POINTS)
def test_box_and_nonnegative_projections_clip(v):
    lower, upper = -0.5 * np.ones(7), np.linspace(0.1, 2.0, 7)
    np.testing.assert_array_equal(sl.box(lower, upper).project(jnp.asarray(v)), np.clip(v, lower, upper))
    np.testing.assert_array_equal(sl.nonnegative().project(jnp.asarray(v)), np.maximum(v, 0))
    reference = nearest_point(v, [{"type": "ineq", "fun": lambda t: t - lower}, {"type": "ineq", "fun": lambda t: upper - t}])
    np.testing.assert_allclose(sl.box(lower, upper).project(jnp.asarray(v)), reference, atol=1e-6)


@pytest.mark.parametrize("v", POINTS)
def test_ball_projection_is_radial(v):
    projected = np.asarray(sl.ball(1.5).project(jnp.asarray(v)))
    expected = v if np.linalg.norm(v) <= 1.5 else 1.5 * v / np.linalg.norm(v)
    np.testing.assert_allclose(projected, expected, rtol=1e-14)
    reference = nearest_point(v, [{"type": "ineq", "fun": lambda t: 1.5**2 - np.sum(t**2)}])
    np.testing.assert_allclose(projected, reference, atol=1e-6)


@pytest.mark.parametrize("v", POINTS)
def test_affine_projection_solves_the_kkt_system(v):
    A, b = rng.normal(size=(3, 7)), rng.normal(size=3)
    # Nearest point of {Aθ = b}: [[I, Aᵀ], [A, 0]] [θ; λ] = [v; b], solved by lstsq.
    kkt = np.block([[np.eye(7), A.T], [A, np.zeros((3, 3))]])
    expected = np.linalg.lstsq(kkt, np.concatenate([v, b]), rcond=None)[0][:7]
    projected = np.asarray(sl.affine(A, b).project(jnp.asarray(v)))
    np.testing.assert_allclose(projected, expected, atol=1e-12)
    assert sl.affine(A, b).is_feasible(projected, tol=1e-10)


def test_violation_and_feasibility():
    box = sl.box(0.0, 1.0)
    assert float(box.violation(jnp.array([0.5, 1.25, -0.1]))) == pytest.approx(0.25)
    assert box.is_feasible([0.0, 1.0, 0.5]) and not box.is_feasible([0.0, 1.0 + 1e-6, 0.5])
    general = sl.general_constraints(equalities=[lambda t: t[0] + t[1] - 1], inequalities=[lambda t: t[2] ** 2 - 4])
    assert general.is_feasible(jnp.array([0.25, 0.75, 1.9])) and not general.is_feasible(jnp.array([0.25, 0.75, 2.1]))
    assert not general.has_projection and sl.ball(1.0).has_projection


def test_problem_carries_constraints_and_reports_feasibility(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    inside = problem.subject_to(sl.ball(100.0))
    assert inside.is_feasible(problem.solution()) and inside.solution() is not None
    assert inside.optimal_value() == pytest.approx(problem.optimal_value())
    tight = problem.subject_to(sl.ball(0.1))
    assert not tight.is_feasible(problem.solution())
    assert tight.solution() is None and tight.optimal_value() is None   # not known in closed form
    assert problem.constraint is None                                    # the original is unchanged


def test_known_infeasible_and_unbounded_problems(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    inconsistent = sl.affine(np.array([[1.0, 0, 0, 0], [1.0, 0, 0, 0]]), np.array([0.0, 1.0]))
    assert inconsistent.is_empty()
    assert problem.subject_to(inconsistent).optimal_value() == math.inf
    assert problem.negation.optimal_value() == -math.inf   # maximizing a least-squares loss is unbounded
    with pytest.raises(ValueError, match="which is empty"):
        sl.minimize(problem, constraint=inconsistent)


def test_projected_gd_on_box_least_squares_matches_lsq_linear(regression_data):
    X, y = regression_data
    lower, upper = np.array([0.0, -1.0, 0.0, 0.0]), np.array([0.8, 0.0, 2.0, 2.5])
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, constraint=sl.box(lower, upper), epochs=2000, step=1 / problem.lipschitz())
    expected = scipy.optimize.lsq_linear(X, y, bounds=(lower, upper), tol=1e-14, method="bvls").x
    np.testing.assert_allclose(result.params, expected, atol=1e-6)
    history = result.history
    assert "violation" in history.columns and history.violation.max() == 0.0
    assert history.gap.isna().all()        # the unconstrained θ* is outside the box, so p* is not known here
    assert "violation = 0" in result.message


def test_projected_sgd_on_simplex_stays_feasible(regression_data):
    X, y = regression_data
    result = sl.minimize(sl.least_squares(X, y), sampler=sl.shuffled_cyclic(5), step=0.01, epochs=5,
                         constraint=sl.simplex(), params0=np.array([3.0, -1.0, 0.0, 0.0]))
    assert np.all(result.params >= 0) and result.params.sum() == pytest.approx(1.0, abs=1e-12)
    assert result.history.violation.max() <= 1e-12


def test_nonnegative_least_squares_matches_nnls(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y).subject_to(sl.nonnegative())
    result = sl.minimize(problem, epochs=3000, step=1 / problem.lipschitz())
    np.testing.assert_allclose(result.params, scipy.optimize.nnls(X, y)[0], atol=1e-6)


BAD = [
    (lambda: sl.box(1.0, 0.0), ValueError, "lower must be <= upper everywhere (an empty box has no feasible point) for box; got lower > upper at index ()"),
    (lambda: sl.box([0, 2], [1, 1]), ValueError, "got lower > upper at index (1,)"),
    (lambda: sl.ball(-1.0), ValueError, "radius must be a finite number >= 0 for ball; got -1.0"),
    (lambda: sl.least_squares(np.eye(3), np.ones(3)).subject_to(sl.box(np.zeros(4), np.ones(4))), ValueError,
     "lower must be a scalar or an array broadcastable to the parameters' shape (3,) for box; got shape (4,)"),
    (lambda: sl.least_squares(np.eye(3), np.ones(3)).subject_to(sl.affine(np.ones((2, 5)), np.ones(2))), ValueError,
     "A must be of shape (m, 3) for parameters of shape (3,) for affine; got shape (2, 5)"),
    (lambda: sl.softmax_regression(np.eye(3), [0, 1, 2]).subject_to(sl.simplex()), ValueError,
     "constraint must be applied to a 1-D parameter vector for simplex; got parameters of shape (3, 3)"),
    (lambda: sl.finite_sum(lambda p, e: p["a"] * e, np.ones(3), {"a": 0.0, "b": 0.0}).subject_to(sl.ball(1.0)),
     ValueError, "constraint must be applied to a single array of parameters for ball"),
    (lambda: sl.minimize(sl.least_squares(np.eye(3), np.ones(3)), constraint=sl.general_constraints(inequalities=[lambda t: t])),
     ValueError, "constraint must be a set with a projection (box, nonnegative, ball, simplex, affine)"),
    (lambda: sl.least_squares(np.eye(3), np.ones(3)).subject_to("box"), TypeError, "constraint must be a set such as"),
    (lambda: sl.affine(np.ones((2, 3)), np.ones(3)), ValueError, "A and b must be of the same length"),
]


@pytest.mark.parametrize("call, error, text", BAD)
def test_bad_constraints_are_refused(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()
