"""The native loop of the linear models gives the JAX engine's run: every scheme, dense and CSR, float32, divergence, thinned histories, comparisons."""

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl
from sgdlab.engines.native.linear_sgd import LOOKAHEAD_MAX_FEATURES

SCHEMES = [
    sl.with_replacement(1), sl.with_replacement(8),
    sl.without_replacement(1), sl.without_replacement(8),
    sl.cyclic(1), sl.cyclic(8), sl.cyclic(8, drop_last=True),
    sl.shuffled_cyclic(1), sl.shuffled_cyclic(8), sl.shuffled_cyclic(8, drop_last=True),
    sl.shuffle_once(1), sl.shuffle_once(8), sl.flip_flop(1), sl.flip_flop(8),
]


def _sparse_data(seed=3, n=90, p=12, density=0.3):
    """A sparse design (about 30% nonzeros, some empty rows) with noisy linear targets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (rng.random((n, p)) < density)
    X[[4, 17]] = 0.0
    return X, X @ rng.normal(size=p) + 0.2 * rng.normal(size=n)


def _problems(X, y):
    return {
        "least_squares": sl.least_squares(X, y),
        "logistic": sl.logistic_regression(X, (y > 0).astype(int), l2=0.05),
        "softmax": sl.softmax_regression(X, np.digitize(y, [-1.0, 0.0, 1.0]), l2=0.05),
    }


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax"])
@pytest.mark.parametrize("sampler", SCHEMES, ids=repr)
def test_native_run_equals_jax_run(sampler, model, sparse):
    X, y = _sparse_data()
    problem = _problems(scipy.sparse.csr_matrix(X) if sparse else X, y)[model]
    step = sl.inverse_time(0.05, 0.01)
    native = sl.minimize(problem, sampler, step=step, epochs=3, seed=11, engine="native")
    reference = sl.minimize(problem, sampler, step=step, epochs=3, seed=11, engine="jax")
    assert (native.engine, reference.engine) == ("native", "jax")
    np.testing.assert_allclose(native.params, reference.params, rtol=0, atol=1e-10)
    for column in ("loss", "grad_norm"):
        np.testing.assert_allclose(native.history[column], reference.history[column], rtol=0, atol=1e-10)


@pytest.mark.parametrize("features", [LOOKAHEAD_MAX_FEATURES, LOOKAHEAD_MAX_FEATURES + 1],
                         ids=["lookahead", "plain"])
@pytest.mark.parametrize("model", ["least_squares", "logistic"])
def test_both_dense_single_example_loops_equal_the_jax_run(model, features):
    """The dense B = 1 loop looks one step ahead up to LOOKAHEAD_MAX_FEATURES features, not above."""
    X, y = _sparse_data(n=120, p=features, density=1.0)
    problem = _problems(X / np.sqrt(features), y)[model]
    runs = [sl.minimize(problem, sl.shuffled_cyclic(1), step=0.5, epochs=3, seed=5, engine=engine)
            for engine in ("native", "jax")]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(runs[0].history.loss, runs[1].history.loss, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax"])
def test_float32_native_run_is_the_jax_run_up_to_float32_rounding(model, sparse):
    X, y = _sparse_data()
    X = X.astype(np.float32)
    problem = _problems(scipy.sparse.csr_matrix(X) if sparse else X, y)[model]
    runs = [sl.minimize(problem, sl.shuffled_cyclic(8), step=0.05, epochs=3, seed=11, engine=name)
            for name in ("native", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    assert runs[0].params.dtype == runs[1].params.dtype == np.float32
    # The native loop computes in float64 and rounds θ each epoch; JAX computes in float32. Over 36 steps
    # of |θ| ≲ 1 the float32 roundings (6e-8 relative each) stay below 1e-6 (1.2e-7 seen).
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(runs[0].history.loss, runs[1].history.loss, rtol=1e-5)


def test_step_with_alpha_lambda_one_zeroes_the_weights():
    """αλ = 1 makes (1 − αλ) W vanish: the scale s = 0 is folded into the weights, not divided by."""
    X, y = _sparse_data()
    problem = sl.logistic_regression(X, (y > 0).astype(int), l2=2.0)
    runs = [sl.minimize(problem, sl.cyclic(1), step=0.5, epochs=1, engine=engine) for engine in ("native", "jax")]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(runs[0].params))


def test_native_run_diverges_like_the_jax_run():
    X, y = _sparse_data()
    problem = sl.least_squares(X, 100 * y)
    with pytest.warns(sl.StepSizeWarning):
        runs = [sl.minimize(problem, sl.shuffled_cyclic(1), step=50.0, epochs=5, engine=engine)
                for engine in ("native", "jax")]
    assert [run.status for run in runs] == ["diverged", "diverged"]
    assert runs[0].message == runs[1].message


def test_thinned_history_gives_the_same_final_params():
    X, y = _sparse_data()
    problem = sl.least_squares(X, y)
    every = sl.minimize(problem, sl.shuffled_cyclic(1), step=0.02, epochs=4, engine="native")
    thinned = sl.minimize(problem, sl.shuffled_cyclic(1), step=0.02, epochs=4, record_every=4, engine="native")
    np.testing.assert_array_equal(every.params, thinned.params)
    assert list(thinned.history.epoch) == [0, 4]


def test_compare_gives_the_same_table_on_both_engines():
    X, y = _sparse_data()
    problem = sl.least_squares(X, y)
    runs = {"rr": dict(sampler=sl.shuffled_cyclic(1), step=0.02), "sgd": dict(sampler=sl.with_replacement(2))}
    native = sl.compare(problem, runs, seeds=3, epochs=3, engine="native").table
    jax_table = sl.compare(problem, runs, seeds=3, epochs=3, engine="jax").table
    for column in ("loss", "grad_norm", "dist"):
        np.testing.assert_allclose(native[column], jax_table[column], rtol=0, atol=1e-10)
