"""Polyak's step and the stochastic Polyak step: optax's polyak_sgd on the same batches, and Polyak's inequalities."""

import re

import numpy as np
import pytest

import sgdlab as sl


@pytest.fixture(scope="module")
def problem(regression_data):
    X, y = regression_data
    return sl.least_squares(X, y)


def test_polyak_step_equals_optax_polyak_sgd(problem):
    """optax.polyak_sgd with f_min = p* and no cap is gradient descent with Polyak's step; sgdlab gives it the
    loss through ``value=`` (optax's GradientTransformationExtraArgs)."""
    optax = pytest.importorskip("optax")
    ours = sl.minimize(problem, sl.full_batch(), sl.polyak(), epochs=15)
    theirs = sl.minimize(problem, sl.full_batch(), epochs=15,
                         optimizer=optax.polyak_sgd(max_learning_rate=1e30, f_min=problem.optimal_value()))
    np.testing.assert_allclose(ours.params, theirs.params, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sampler", [sl.with_replacement(4), sl.shuffled_cyclic(8)], ids=repr)
def test_stochastic_polyak_equals_optax_polyak_sgd_on_the_same_batches(problem, sampler):
    """SPS_max with c and cap γ is optax.polyak_sgd(scaling=c, max_learning_rate=γ/c), which scales the
    gradient by c before measuring it: both step by min((f_B − f_min)/(c‖g‖²), γ) along the batch gradient."""
    optax = pytest.importorskip("optax")
    c, cap = 0.5, 0.05
    ours = sl.minimize(problem, sampler, sl.stochastic_polyak(c=c, max_step=cap), epochs=5, seed=2)
    theirs = sl.minimize(problem, sampler, epochs=5, seed=2,
                         optimizer=optax.polyak_sgd(max_learning_rate=cap / c, scaling=c, f_min=0.0))
    np.testing.assert_allclose(ours.params, theirs.params, rtol=0, atol=1e-10)


def test_polyak_step_keeps_its_two_promises(problem):
    """On a convex F: ‖θᵏ − θ*‖ never grows, and min_{j ≤ k} F(θʲ) − p* ≤ 2L‖θ⁰ − θ*‖²/k (Hazan and Kakade 2019)."""
    history = sl.minimize(problem, sl.full_batch(), sl.polyak(), epochs=40).history
    assert np.all(np.diff(history.dist) <= 1e-12)
    k = history.epoch.to_numpy()[1:]
    best = np.minimum.accumulate(history.gap.to_numpy())[1:]
    assert np.all(best <= 2 * problem.lipschitz() * history.dist.iloc[0] ** 2 / k)
    assert history.gap.iloc[-1] < 1e-8 * history.gap.iloc[0]


def test_check_step_speaks_of_the_adaptive_steps(problem):
    check = sl.check_step(problem, sl.polyak(optimal=0.0))
    assert check.ok and "needs no L" in check.verdict and "Polyak 1987" in check.theorem
    assert "Loizou" in sl.check_step(problem, sl.stochastic_polyak(), sl.cyclic(1)).theorem


def test_polyak_steps_are_refused_where_they_do_not_apply(problem):
    with pytest.raises(ValueError, match=re.escape("step must be sl.stochastic_polyak() for a stochastic sampler")):
        sl.minimize(problem, sl.cyclic(4), sl.polyak(), epochs=1)
    network = sl.mlp(np.eye(4), np.array([0, 1, 0, 1]), hidden=(3,))
    with pytest.raises(ValueError, match=re.escape("step must be sl.polyak(optimal=p*) where the problem's p* is not "
                                                   "known, or another step; got sl.polyak() on MLP")):
        sl.minimize(network, sl.full_batch(), sl.polyak(), epochs=1)
    with pytest.raises(ValueError, match="step must be a number or a schedule for SAGA"):
        sl.minimize(problem, sl.cyclic(4), sl.stochastic_polyak(), epochs=1, method=sl.saga())
    with pytest.raises(ValueError, match=re.escape("c must be a positive finite number for stochastic_polyak; got 0.0")):
        sl.stochastic_polyak(c=0.0)


def test_optax_line_search_gets_the_batch_loss(problem):
    """optax's backtracking line search needs value, grad and value_fn (GradientTransformationExtraArgs): on
    gradient descent it equals the same optax chain driven by hand on F."""
    optax = pytest.importorskip("optax")
    import jax
    import jax.numpy as jnp

    optimizer = optax.chain(optax.sgd(1.0), optax.scale_by_backtracking_linesearch(max_backtracking_steps=20))
    result = sl.minimize(problem, sl.full_batch(), epochs=6, optimizer=optimizer)
    X, y = (np.asarray(part) for part in problem.data)

    def loss(theta):
        return 0.5 * jnp.mean((X @ theta - y) ** 2)

    params, state = jnp.zeros(X.shape[1]), optimizer.init(jnp.zeros(X.shape[1]))
    for _ in range(6):
        value, grad = jax.value_and_grad(loss)(params)
        updates, state = optimizer.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(result.params, params, rtol=0, atol=1e-10)
    assert np.all(np.diff(result.history.loss) < 0)   # Armijo: every accepted step decreases F
