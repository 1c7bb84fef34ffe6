"""Large dense minibatches summed in parts (sgdlab.engines.native.parted): the JAX engine's run, whatever the
number of threads computing the parts."""

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.engines.native import parted
from sgdlab.engines.native import run as native_run

N, P, B = 1_000, 64, 64   # B · p = 4,096 = PARTED_MIN_WORK; 1,000 = 15 · 64 + 40: a short last batch


def _problem(model, dtype=np.float64):
    rng = np.random.default_rng(8)
    X = (rng.normal(size=(N, P)) / np.sqrt(P)).astype(dtype)
    y = X.astype(np.float64) @ rng.normal(size=P) + 0.1 * rng.normal(size=N)
    return {"least_squares": lambda: sl.least_squares(X, y),
            "logistic": lambda: sl.logistic_regression(X, (y > 0).astype(int), l2=0.01),
            "softmax": lambda: sl.softmax_regression(X, np.digitize(y, [-0.5, 0.5]), l2=0.01)}[model]()


def test_the_benchmark_shapes_are_parted_and_small_or_sparse_batches_are_not():
    dense = np.zeros((10, P))
    assert parted.is_parted(dense, B, 1) and parted.is_parted(dense, 8, 10)
    assert not parted.is_parted(dense, B - 1, 1)
    assert not parted.is_parted((dense.ravel(), np.zeros(dense.size, np.int32), np.zeros(11, np.int32)), 1_000, 1)


@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax"])
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(B), sl.cyclic(B), sl.without_replacement(B),
                                     sl.with_replacement(B), sl.shuffled_cyclic(B, drop_last=True)], ids=repr)
def test_parted_run_equals_the_jax_run(model, sampler):
    problem = _problem(model)
    step = sl.inverse_time(0.5, 0.01)
    runs = [sl.minimize(problem, sampler, step=step, epochs=3, seed=4, engine=engine) for engine in ("native", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(runs[0].history.loss, runs[1].history.loss, rtol=0, atol=1e-10)


@pytest.mark.parametrize("model", ["least_squares", "softmax"])
def test_one_thread_and_two_threads_give_the_same_run_bit_for_bit(model, monkeypatch):
    if native_run.CORES < 2:
        pytest.skip("one core: the parts cannot run side by side here")
    problem = _problem(model)
    two = sl.minimize(problem, sl.shuffled_cyclic(B), step=0.3, epochs=3, seed=2, engine="native")
    monkeypatch.setattr(native_run, "CORES", 1)
    one = sl.minimize(problem, sl.shuffled_cyclic(B), step=0.3, epochs=3, seed=2, engine="native")
    np.testing.assert_array_equal(one.params, two.params)


def test_a_comparison_lane_is_the_run_made_alone_bit_for_bit():
    problem = _problem("logistic")
    alone = [sl.minimize(problem, sl.shuffled_cyclic(B), step=0.3, epochs=2, seed=seed, engine="native").history
             for seed in (0, 1)]
    table = sl.compare(problem, {"rr": dict(sampler=sl.shuffled_cyclic(B), step=0.3)}, seeds=2, epochs=2,
                       engine="native").table
    for seed, history in enumerate(alone):
        np.testing.assert_array_equal(table[table.seed == seed].loss.to_numpy(), history.loss.to_numpy())


def test_float32_parted_run_is_the_jax_run_up_to_float32_rounding():
    problem = _problem("least_squares", np.float32)
    runs = [sl.minimize(problem, sl.shuffled_cyclic(B), step=0.3, epochs=3, seed=1, engine=engine)
            for engine in ("native", "jax")]
    assert runs[0].params.dtype == np.float32
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-6)


def test_a_parted_run_that_blows_up_ends_diverged_like_the_jax_run():
    problem = _problem("least_squares")
    with pytest.warns(sl.StepSizeWarning):
        runs = [sl.minimize(problem, sl.shuffled_cyclic(B), step=200.0, epochs=5, engine=engine)
                for engine in ("native", "jax")]
    assert [run.status for run in runs] == ["diverged", "diverged"]
