"""Robust regression: its losses against their formulas, Lᵢ = ‖xᵢ‖² against jax.hessian, bad input refused."""

import re

import jax
import numpy as np
import pytest

import sgdlab as sl

FORMULAS = {"cauchy": lambda r, c: 0.5 * c**2 * np.log1p((r / c) ** 2),
            "geman_mcclure": lambda r, c: 0.5 * c**2 * r**2 / (c**2 + r**2)}


@pytest.mark.parametrize("loss", sorted(FORMULAS))
def test_loss_and_exact_term_constants(loss):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(25, 3)), rng.normal(size=25) * 3
    problem = sl.robust_regression(X, y, loss=loss, scale=0.7)
    theta = rng.normal(size=3)
    assert float(problem.loss(theta)) == pytest.approx(np.mean(FORMULAS[loss](X @ theta - y, 0.7)), rel=1e-12)
    np.testing.assert_allclose(problem.lipschitz_each(), np.sum(X**2, axis=1), rtol=1e-12)
    for i in (0, 7):
        def term(t, i=i):
            return problem.data_loss(t, tuple(leaf[i:i + 1] for leaf in problem.data))

        hessian = jax.jit(jax.vmap(jax.hessian(term)))
        at_zero = X[i] * y[i] / (X[i] @ X[i])   # xᵢᵀθ = yᵢ: the residual is 0, where ρ″ = 1
        top = np.linalg.eigvalsh(np.asarray(hessian(at_zero[None]))[0]).max()
        assert top == pytest.approx(X[i] @ X[i], rel=1e-10)
        elsewhere = np.linalg.eigvalsh(np.asarray(hessian(rng.normal(size=(50, 3)) * 3)))
        assert np.abs(elsewhere).max() <= X[i] @ X[i] * (1 + 1e-12)   # within ±‖xᵢ‖² everywhere else
    assert problem.solution() is None and problem.optimal_value() is None and problem.lower_bound() == 0.0


def test_bad_loss_and_scale_are_refused_by_name():
    X, y = np.eye(3), np.ones(3)
    with pytest.raises(ValueError, match=re.escape("loss must be one of cauchy, geman_mcclure; got 'huber'")):
        sl.robust_regression(X, y, loss="huber")
    with pytest.raises(ValueError, match="scale must be a positive"):
        sl.robust_regression(X, y, scale=0.0)
