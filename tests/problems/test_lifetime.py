"""A problem and everything compiled for it are freed once the user drops it: nothing in JAX's global caches holds
it (a problem given to jax.jit as a static argument stayed alive, with its data and programs, for the whole
process; a long session of studies ran out of memory maps)."""

import gc
import weakref

import cloudpickle
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl


def dropped_and_collected(make_and_use):
    """Whether the problem ``make_and_use()`` returns (after using it) is gone once dropped."""
    reference = weakref.ref(make_and_use())
    gc.collect()
    return reference() is None


def used(problem, engine):
    sl.minimize(problem, sl.shuffled_cyclic(4), 0.01, epochs=2, engine=engine)
    sl.compare(problem, {"RR": dict(sampler=sl.shuffled_cyclic(4), step=0.01)}, seeds=2, epochs=1, engine=engine)
    return problem


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_a_problem_that_ran_is_freed_when_dropped(regression_data, engine):
    X, y = regression_data
    assert dropped_and_collected(lambda: used(sl.least_squares(X, y), engine))
    assert dropped_and_collected(lambda: used(sl.logistic_regression(X, y > 0), engine))


def test_a_problem_the_theory_examined_is_freed_when_dropped(regression_data):
    X, y = regression_data

    def examined():
        problem = sl.finite_sum(lambda theta, example: 0.5 * (example[0] @ theta - example[1]) ** 2, (X, y),
                                np.zeros(X.shape[1]))
        sl.theory.hessian_norm(problem)
        sl.theory.noise_scale(problem)
        sl.theory.unbiasedness(problem, sl.with_replacement(2), draws=50)
        return problem

    assert dropped_and_collected(examined)


@pytest.mark.parametrize("make", [
    lambda X, y: sl.least_squares(X, y),
    lambda X, y: sl.logistic_regression(X, y > 0, l2=0.1),
    lambda X, y: sl.expectation(lambda theta, w: 0.5 * jnp.sum((theta - w) ** 2), lambda key: jax.random.normal(
        key, (X.shape[1],)), np.zeros(X.shape[1])),
], ids=["least_squares", "logistic", "expectation"])
def test_a_pickled_problem_carries_no_compiled_function(regression_data, make):
    """What a problem sends to another process (a study's task) is its data, its definition and the few numbers
    known of it (θ*, p*), never a compiled function, before or after it computed F, ∇F and ran; the copy computes
    the same F and ∇F. A problem once pickled its jitted F and ∇F by value: 12 kB for a 20 × 3 least squares, 2 ms
    a problem."""
    X, y = regression_data
    problem = make(X, y)
    theta = np.linspace(-1.0, 1.0, X.shape[1])
    loss, grad = problem.loss(theta), problem.grad(theta)
    budget = dict(steps=5) if problem.n is None else dict(epochs=1)
    sl.minimize(problem, sl.iid(2) if problem.n is None else sl.shuffled_cyclic(4), 0.01, **budget)
    compiled = [name for name, value in problem.__getstate__().items() if isinstance(value, jax.stages.Wrapped)]
    assert compiled == []
    used_bytes = cloudpickle.dumps(problem)
    copy = cloudpickle.loads(used_bytes)
    np.testing.assert_array_equal(copy.loss(theta), loss)
    np.testing.assert_array_equal(copy.grad(theta), grad)
    if problem.n is not None:
        data = sum(np.asarray(leaf).nbytes for leaf in jax.tree.leaves(problem.data))
        assert len(used_bytes) < 2 * data + 4_000   # the rows (and a copy's worth of targets), and a few kB
