"""A problem and everything compiled for it are freed once the user drops it: nothing in JAX's global caches holds
it (a problem given to jax.jit as a static argument stayed alive, with its data and programs, for the whole
process; a long session of studies ran out of memory maps)."""

import gc
import weakref

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
