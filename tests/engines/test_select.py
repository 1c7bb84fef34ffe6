"""The engine choice: auto runs natively where the loop is the faster, JAX elsewhere, and a refused engine says why."""

import numpy as np
import optax
import pytest
import scipy.sparse

import sgdlab as sl
from sgdlab.engines import select


def _sparse_data(seed=3, n=90, p=12, density=0.3):
    """A sparse design (about 30% nonzeros, some empty rows) with noisy linear targets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (rng.random((n, p)) < density)
    X[[4, 17]] = 0.0
    return X, X @ rng.normal(size=p) + 0.2 * rng.normal(size=n)


@pytest.mark.parametrize(("sampler", "expected"), [
    (sl.shuffled_cyclic(1), "native"),
    (sl.with_replacement(select.AUTO_MAX_WORK // 4), "native"),   # p = 4 features
    (sl.with_replacement(select.AUTO_MAX_WORK // 4 + 1), "jax"),
    (sl.full_batch(), "jax"),
], ids=repr)
def test_auto_picks_the_native_loop_for_small_steps(sampler, expected):
    rng = np.random.default_rng(0)
    problem = sl.least_squares(rng.normal(size=(2000, 4)), rng.normal(size=2000))
    assert sl.minimize(problem, sampler, step=0.01, epochs=1).engine == expected


@pytest.mark.parametrize(("batch_size", "expected"), [(select.AUTO_MAX_WORK // 12, "native"),
                                                      (select.AUTO_MAX_WORK // 12 + 1, "jax")])
def test_auto_counts_every_class_of_softmax(batch_size, expected):
    rng = np.random.default_rng(0)
    problem = sl.softmax_regression(rng.normal(size=(2000, 4)), rng.integers(0, 3, size=2000))   # p·K = 12
    assert sl.minimize(problem, sl.with_replacement(batch_size), step=0.01, epochs=1).engine == expected


def test_auto_runs_what_the_native_loop_cannot_on_jax(regression_data):
    X, y = regression_data
    problem = sl.least_squares(X, y)
    assert sl.minimize(problem, sl.cyclic(1), optimizer=optax.sgd(0.01), epochs=1).engine == "jax"
    assert sl.minimize(problem, sl.cyclic(1), step=0.01, epochs=1, constraint=sl.ball(1.0)).engine == "jax"
    assert sl.maximize(sl.logistic_regression(X, y > 0), sl.cyclic(1), step=0.01, epochs=1).engine == "jax"


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(engine="numba"), "engine must be one of 'auto', 'jax', 'native'; got 'numba'"),
    (dict(engine="native", optimizer=optax.sgd(0.1)), "but an optax optimizer is given"),
    (dict(engine="native", step=0.1, constraint=sl.box(-1, 1)), "but the problem is constrained"),
])
def test_engine_errors_name_the_parameter(regression_data, kwargs, message):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sl.minimize(problem, sl.cyclic(1), epochs=1, **kwargs)


def test_native_engine_refuses_a_model_it_does_not_have(regression_data):
    X, y = regression_data
    problem = sl.finite_sum(lambda theta, example: (example[0] @ theta - example[1]) ** 2, (X, y), np.zeros(4))
    with pytest.raises(ValueError, match="engine must be 'auto' or 'jax' here; got 'native', but FiniteSum is not"):
        sl.minimize(problem, sl.cyclic(1), step=0.01, epochs=1, engine="native")


def test_auto_runs_sparse_minibatches_and_single_margin_gradient_descent_natively():
    X, y = _sparse_data()
    problem = sl.least_squares(scipy.sparse.csr_matrix(X), y)
    assert sl.minimize(problem, sl.shuffled_cyclic(64), step=0.01, epochs=1).engine == "native"
    assert sl.minimize(problem, sl.full_batch(), step=0.01, epochs=1).engine == "native"   # two sparse products
    assert sl.minimize(sl.least_squares(X, y), sl.full_batch(), step=0.01, epochs=1).engine == "jax"
