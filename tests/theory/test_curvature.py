"""Curvature beside runs: sharpness, Hessian trace and batch sharpness against closed forms, jax.hessian and
numpy.linalg.eigvalsh, on both engines."""

import re

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import sgdlab as sl
from sgdlab.experiments.report import write_report
from sgdlab.theory.curvature import batch_sharpness


def _regression(n=120, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 2.0, p)
    return X, X @ rng.normal(size=p) + 0.5 * rng.normal(size=n)


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_least_squares_sharpness_is_the_top_eigenvalue_and_the_trace_within_three_errors(engine):
    X, y = _regression()
    problem = sl.least_squares(X, y)
    gram = X.T @ X / len(X)
    result = sl.minimize(problem, sl.shuffled_cyclic(4), step=0.02, epochs=6, curvature_every=2, engine=engine)
    rows = result.history[result.history.sharpness.notna()]
    assert rows.epoch.tolist() == [0, 2, 4, 6] and result.engine == engine
    top = np.linalg.eigvalsh(gram).max()
    np.testing.assert_allclose(rows.sharpness, top, rtol=1e-8)
    assert (np.abs(rows.hessian_trace - np.trace(gram)) <= 3 * rows.hessian_trace_se).all()
    assert (rows.hessian_trace_se > 0).all() and rows.batch_sharpness.notna().all()


def test_ridge_logistic_sharpness_is_that_of_its_hessian_at_each_recorded_theta():
    """∇²F(θ) = Xᵀ diag(σ(1 − σ)) X / N + λI, built here from the recorded θ (record_params)."""
    X, y = _regression(seed=1)
    labels = (y > np.median(y)).astype(int)
    l2 = 0.05
    problem = sl.logistic_regression(X, labels, l2=l2)
    result = sl.minimize(problem, sl.full_batch(), step=1.0, epochs=4, curvature_every=1, record_params=True)
    for theta, sharpness in zip(result.path, result.history.sharpness, strict=True):
        margins = X @ theta
        weights = 1 / (1 + np.exp(-margins)) * (1 - 1 / (1 + np.exp(-margins)))
        hessian = X.T @ (weights[:, None] * X) / len(X) + l2 * np.eye(X.shape[1])
        assert sharpness == pytest.approx(np.linalg.eigvalsh(hessian).max(), rel=1e-8)
    assert result.history.batch_sharpness.isna().all()   # gradient descent has no minibatches


def test_network_sharpness_is_the_top_eigenvalue_of_jax_hessian():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 5))
    labels = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    problem = sl.mlp(X, labels, hidden=(12,), seed=3)
    size = ravel_pytree(problem.params0)[0].size
    assert size <= 500
    result = sl.minimize(problem, sl.with_replacement(10), step=0.2, epochs=4, curvature_every=2, record_params=True)
    recorded = result.history.sharpness.notna().to_numpy()
    assert recorded.sum() == 3
    for theta, sharpness in zip([t for t, kept in zip(result.path, recorded, strict=True) if kept],
                                result.history.sharpness[recorded], strict=True):
        flat, unravel = ravel_pytree(theta)
        hessian = jax.hessian(lambda v, unravel=unravel: problem.data_loss(unravel(v), problem.data))(flat)
        assert sharpness == pytest.approx(np.linalg.eigvalsh(np.asarray(hessian)).max(), rel=1e-6)


def test_batch_sharpness_at_the_full_batch_and_against_its_closed_form_at_b_one():
    """At B = N the one batch is F: gᵀHg/‖g‖². At B = 1 on least squares, g_i = rᵢxᵢ and H_i = xᵢxᵢᵀ, so
    E[g_iᵀH_i g_i]/E[‖g_i‖²] = Σ rᵢ²‖xᵢ‖⁴ / Σ rᵢ²‖xᵢ‖²; 4,000 draws put the estimate within 5% (its
    relative standard error here is about 1%)."""
    X, y = _regression(n=80, seed=4)
    problem = sl.least_squares(X, y)
    theta = np.zeros(X.shape[1])
    gradient, gram = X.T @ (X @ theta - y) / len(X), X.T @ X / len(X)
    full = batch_sharpness(problem, theta, batch_size=len(X))
    assert full == pytest.approx(gradient @ gram @ gradient / (gradient @ gradient), rel=1e-10)
    residuals, norms = X @ theta - y, np.sum(X**2, axis=1)
    exact = np.sum(residuals**2 * norms**2) / np.sum(residuals**2 * norms)
    assert batch_sharpness(problem, theta, batch_size=1, draws=4000, seed=1) == pytest.approx(exact, rel=0.05)


@pytest.mark.parametrize("method, edge", [(sl.plain(), 2.0), (sl.heavy_ball(0.5), 3.0), (sl.nesterov(0.5), 1.5)],
                         ids=["plain", "heavy_ball", "nesterov"])
def test_each_run_has_its_stability_line_and_the_report_draws_them(tmp_path, method, edge):
    X, y = _regression()
    problem = sl.least_squares(X, y)
    alpha = 0.5 / problem.lipschitz()
    comparison = sl.compare(problem, {"run": dict(sampler=sl.with_replacement(8), step=alpha, method=method)},
                            seeds=2, epochs=2, curvature_every=1, out=tmp_path / "out")
    assert comparison.runs["run"]["stability_edge"] == pytest.approx(edge / alpha)
    assert comparison.table.sharpness.notna().all()
    page = write_report(tmp_path / "out").read_text()
    assert "Curvature and the edge of stability" in page and "alt='sharpness against epochs'" in page


def test_curvature_every_is_refused_where_it_cannot_be_measured():
    expectation = sl.expectation(lambda t, w: 0.5 * (t - w) ** 2, lambda key: jax.random.normal(key), 0.0)
    with pytest.raises(ValueError, match=re.escape("curvature_every must be left out for an expectation")):
        sl.minimize(expectation, sl.iid(1), step=0.1, steps=10, curvature_every=1)
    with pytest.raises(ValueError, match=re.escape("problem must be a finite sum held in memory")):
        sl.theory.curvature(expectation, expectation.params0)
    problem = sl.least_squares(*_regression())
    with pytest.raises(ValueError, match="curvature_every"):
        sl.minimize(problem, step=0.1, epochs=2, curvature_every=0)
