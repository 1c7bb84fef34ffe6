"""Expectations E_ω f(θ, ω): iid SGD with decaying steps, exact gradient descent, budgets in steps."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl

THETA_STAR = np.array([1.0, -2.0, 0.5])
VARIANCES = np.array([1.0, 2.0, 0.5])      # x ~ N(0, diag): L = 2, μ = 0.5
NOISE = 0.5


def streaming_least_squares():
    """f(θ, (x, y)) = ½(xᵀθ − y)², y = xᵀθ* + ε: F(θ) = ½(θ − θ*)ᵀΣ(θ − θ*) + σ²/2 exactly."""
    return sl.problems.streaming_least_squares(THETA_STAR, VARIANCES, NOISE)


def test_the_closed_form_matches_a_monte_carlo_mean():
    problem = streaming_least_squares()
    draws = jax.vmap(problem._sample)(jax.random.split(jax.random.key(7), 200_000))
    theta = np.array([0.0, 0.5, 1.0])
    values = np.asarray(jax.vmap(problem._loss, in_axes=(None, 0))(jnp.asarray(theta), draws))
    standard_error = values.std() / np.sqrt(values.size)
    assert abs(values.mean() - float(problem.loss(theta))) < 4 * standard_error
    assert problem.lipschitz() == 2.0 and problem.optimal_value() == pytest.approx(0.125)


def test_iid_sgd_with_decaying_steps_finds_theta_star():
    # αₖ = c/(k + k₀) with c = 4 = 2/μ and k₀ = 20: α₀ = 0.2, decay 1/k₀. The theory gives
    # E‖θᵏ − θ*‖² ≈ c²σ² tr Σ / (B (2cμ − 1) k) ≈ 3e-5 after 20,000 steps (RMS ≈ 0.005): the
    # tolerance 0.03 is six times that.
    result = sl.minimize(streaming_least_squares(), sampler=sl.iid(8), step=sl.inverse_time(0.2, 0.05),
                         steps=20_000, record_every=2_000, seed=0)
    assert np.linalg.norm(result.params - np.asarray(THETA_STAR)) < 0.03
    history = result.history
    assert "epoch" not in history.columns and history.iteration.tolist() == list(range(0, 20_001, 2_000))
    assert history.dist.iloc[-1] < 0.03 and history.gap.iloc[-1] < 1e-3
    assert result.message.startswith("stopped after 20000 steps")


def test_gradient_descent_with_the_exact_expectation_converges():
    result = sl.minimize(streaming_least_squares(), sampler=sl.full_batch(), step=0.5, steps=500, record_every=10,
                         tol=1e-10)
    assert result.status == "converged" and "converged at step" in result.message
    np.testing.assert_allclose(result.params, THETA_STAR, atol=1e-9)


def test_gaussian_fit_by_maximizing_the_expected_log_likelihood():
    mean, std = 2.0, 0.5

    def log_density(params, omega):
        return -0.5 * jnp.log(2 * jnp.pi) - params["log_std"] - 0.5 * ((omega - params["mean"]) / jnp.exp(params["log_std"])) ** 2

    problem = sl.expectation(log_density, lambda key: mean + std * jax.random.normal(key), {"mean": 0.0, "log_std": 0.0})
    result = sl.maximize(problem, sampler=sl.iid(8), step=sl.inverse_time(0.1, 0.01), steps=20_000, record_every=5_000)
    # The ascent averages ~8·20,000 draws late in the run; 0.03 is several standard errors of σ/√(8k).
    assert abs(float(result.params["mean"]) - mean) < 0.03
    assert abs(float(np.exp(result.params["log_std"])) - std) < 0.03
    assert result.history.loss.iloc[-1] > result.history.loss.iloc[0]   # f itself, estimated on 4,096 draws


def test_history_rows_every_record_every_steps_and_a_shorter_last_chunk():
    result = sl.minimize(streaming_least_squares(), sampler=sl.iid(2), step=0.05, steps=1_050, record_every=100)
    assert result.history.iteration.tolist() == [*range(0, 1_001, 100), 1_050]


def test_without_exact_loss_the_history_uses_a_fixed_evaluation_sample():
    problem = streaming_least_squares()
    estimated = sl.expectation(problem._loss, problem._sample, np.zeros(3), evaluation_size=512)
    assert repr(estimated) == "Expectation(F on 512 evaluation draws)"
    x, y = (np.asarray(a) for a in estimated.data)
    theta = np.array([0.3, 0.1, -0.2])
    assert float(estimated.loss(theta)) == pytest.approx(np.mean(0.5 * (x @ theta - y) ** 2), rel=1e-12)


def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        return sl.minimize(streaming_least_squares(), sampler=sl.iid(4), step=0.05, steps=50, seed=seed).params

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.allclose(run(3), run(4))


@pytest.mark.parametrize("call, error, text", [
    (lambda: sl.expectation(lambda t, w: t @ w, lambda key: jnp.zeros(1 + int(jax.random.key_data(key)[-1]) % 2),
                            np.zeros(2)), ValueError, "sample must be a function whose draws have the same structure"),
    (lambda: sl.expectation(lambda t, w: t @ w, lambda key: np.zeros(2) + float(jax.random.normal(key)), np.zeros(2)),
     ValueError, "sample must be a function written in jax.numpy, so that it can be vmapped over keys"),
    (lambda: sl.minimize(streaming_least_squares(), sampler=sl.iid(4), step=0.1), ValueError,
     "steps must be given for an expectation (its budget is a number of steps); got steps=None."),
    (lambda: sl.minimize(streaming_least_squares(), sampler=sl.iid(4), step=0.1, epochs=3), ValueError,
     "epochs must be left out for an expectation, which has no epochs (give steps); got 3."),
    (lambda: sl.minimize(streaming_least_squares(), sampler=sl.with_replacement(4), step=0.1, steps=5), ValueError,
     "sampler must be iid(B) (fresh draws) or full_batch() for an expectation; got with_replacement(batch_size=4)."),
    (lambda: sl.minimize(sl.least_squares(np.eye(3), np.ones(3)), sampler=sl.iid(2), step=0.1), ValueError,
     "sampler must be a finite-sum sampler such as with_replacement(B) for a problem with N terms; got iid(batch_size=2)."),
    (lambda: sl.minimize(sl.least_squares(np.eye(3), np.ones(3)), step=0.1, steps=10, epochs=2), ValueError,
     "steps must be left out when epochs is given (a finite sum's budget is one or the other); got 10."),
])
def test_bad_expectation_runs(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()


def test_gradient_descent_needs_the_exact_expectation():
    problem = streaming_least_squares()
    estimated = sl.expectation(problem._loss, problem._sample, np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("sampler must be iid(B) for an expectation without exact_loss")):
        sl.minimize(estimated, sampler=sl.full_batch(), step=0.1, steps=10)
