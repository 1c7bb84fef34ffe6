"""Any optax GradientTransformation replaces the plain update; samplers, history, divergence and compare keep working."""

import re

import numpy as np
import optax
import pytest

import sgdlab as sl
from sgdlab.experiments.compare import compare


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(80, 3))
    return sl.least_squares(X, X @ np.array([1.0, 2.0, -1.0]) + 0.1 * rng.normal(size=80))


@pytest.mark.parametrize("sampler", [sl.full_batch(), sl.with_replacement(1), sl.shuffled_cyclic(7)], ids=repr)
def test_optax_sgd_reproduces_the_constant_step(problem, sampler):
    built_in = sl.minimize(problem, sampler=sampler, step=0.05, epochs=6, seed=4)
    with_optax = sl.minimize(problem, sampler=sampler, optimizer=optax.sgd(0.05), epochs=6, seed=4)
    np.testing.assert_allclose(with_optax.params, built_in.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(with_optax.history.loss, built_in.history.loss, rtol=1e-12)


def test_momentum_matches_the_heavy_ball_recursion(problem):
    alpha, beta, epochs = 0.05, 0.9, 30
    result = sl.minimize(problem, optimizer=optax.sgd(alpha, momentum=beta), epochs=epochs)
    theta, velocity = np.zeros(3), np.zeros(3)     # optax: v ← βv + g, θ ← θ − αv
    for _ in range(epochs):
        velocity = beta * velocity + np.asarray(problem.grad(theta))
        theta = theta - alpha * velocity
    np.testing.assert_allclose(result.params, theta, atol=1e-12)


def test_adam_reaches_the_solution(problem):
    """With a constant rate Adam hovers within about its rate of θ*; a cosine decay to 0 over the run's
    2,000 steps (N = 80, B = 8, 200 epochs) lets it settle."""
    rate = optax.cosine_decay_schedule(0.05, decay_steps=2000)
    result = sl.minimize(problem, sampler=sl.shuffled_cyclic(8), optimizer=optax.adam(rate), epochs=200)
    np.testing.assert_allclose(result.params, problem.solution(), atol=1e-3)


def test_divergence_with_an_optimizer_says_so(problem):
    result = sl.minimize(problem, optimizer=optax.sgd(10.0), epochs=500)
    assert result.status == "diverged" and "The optimizer sets the steps" in result.message


def test_compare_runs_optimizers_over_seeds(problem):
    comparison = compare(problem, {"adam": dict(sampler=sl.shuffled_cyclic(8), optimizer=optax.adam(0.05)),
                                   "momentum": dict(sampler=sl.shuffled_cyclic(8), optimizer=optax.sgd(0.02, momentum=0.9))},
                         seeds=3, epochs=4)
    table = comparison.table
    alone = sl.minimize(problem, sampler=sl.shuffled_cyclic(8), optimizer=optax.adam(0.05), epochs=4, seed=2)
    together = table[(table.run == "adam") & (table.seed == 2)]
    np.testing.assert_allclose(together.loss.to_numpy(), alone.history.loss.to_numpy(), rtol=1e-10)
    assert comparison.runs["adam"]["step_check"] == "set by the optimizer"


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(optimizer="adam"), TypeError, "optimizer must be an optax GradientTransformation such as optax.sgd(0.1); got 'adam'"),
    (dict(optimizer=optax.sgd(0.1), step=0.1), ValueError, "step must be left out when an optimizer is given"),
])
def test_bad_optimizers(problem, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        sl.minimize(problem, **kwargs)
