"""The native variance-reduced loop (SAGA and SVRG: one stored derivative an example, lazy sparse updates) gives the
JAX engine's runs of each method."""

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl


@pytest.fixture(scope="module")
def sparse_rows():
    """60 rows, 8 features, 60% zeros: CSR rows touch few coordinates, so the lazy updates matter."""
    rng = np.random.default_rng(23)
    X = rng.normal(size=(60, 8))
    X[rng.random(X.shape) < 0.6] = 0.0
    return X, X @ rng.normal(size=8) + 0.3 * rng.normal(size=60)


def _problems(X, y):
    labels = (y > np.median(y)).astype(int)
    return [sl.least_squares(X, y), sl.logistic_regression(X, labels, l2=0.05)]


#: Each method with refreshes of each kind: SAGA's table once; SVRG's snapshot every epoch or every other; loopless
#: SVRG's at random steps (B/N, and often: p = 0.3).
METHODS = [sl.saga(), sl.svrg(), sl.svrg(snapshot_every=2), sl.loopless_svrg(), sl.loopless_svrg(p=0.3)]


@pytest.mark.parametrize("method", METHODS, ids=repr)
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(5), sl.shuffled_cyclic(7)], ids=repr)
def test_native_variance_reduction_equals_the_jax_engine(sparse_rows, layout, sampler, method):
    X, y = sparse_rows
    rows = X if layout == "dense" else scipy.sparse.csr_matrix(X)
    for problem in _problems(rows, y):
        alpha = 0.3 / problem.lipschitz_max()
        jax_run = sl.minimize(problem, sampler, alpha, epochs=5, seed=4, method=method, engine="jax")
        native = sl.minimize(problem, sampler, alpha, epochs=5, seed=4, method=method, engine="native")
        assert native.engine == "native"
        np.testing.assert_allclose(native.params, jax_run.params, rtol=0, atol=1e-10)
        np.testing.assert_allclose(native.history.loss, jax_run.history.loss, rtol=1e-10)
        assert native.history.grad_evals.tolist() == jax_run.history.grad_evals.tolist()


@pytest.mark.parametrize("method", [sl.saga(), sl.loopless_svrg(p=0.05)], ids=repr)
def test_a_vanishing_product_restarts_exactly(sparse_rows, method):
    """With αλ near 1 the product of the (1 − αλ) factors underflows within an epoch; the loop brings every
    coordinate up to date and restarts it (as at a snapshot), and the run still equals the JAX engine's."""
    X, y = sparse_rows
    problem = sl.logistic_regression(scipy.sparse.csr_matrix(X), (y > 0).astype(int), l2=50.0)
    alpha = 0.9 / 50.0   # 1 − αλ = 0.1: C_t = 10⁻ᵗ falls below 1e-100 after 100 steps
    jax_run = sl.minimize(problem, sl.with_replacement(1), alpha, epochs=4, method=method, engine="jax")
    native = sl.minimize(problem, sl.with_replacement(1), alpha, epochs=4, method=method, engine="native")
    np.testing.assert_allclose(native.params, jax_run.params, rtol=0, atol=1e-12)


def test_svrg_snapshots_in_pieces_of_an_epoch(sparse_rows):
    """An epoch run in pieces (a history row every few steps) has loopless SVRG's snapshots where the whole epoch
    has them: the same θ as the JAX engine's."""
    X, y = sparse_rows
    problem = sl.least_squares(scipy.sparse.csr_matrix(X), y)
    options = dict(epochs=2, seed=3, method=sl.loopless_svrg(p=0.2), record_every=0.25)
    alpha = 0.2 / problem.lipschitz_max()
    native = sl.minimize(problem, sl.with_replacement(2), alpha, engine="native", **options)
    jax_run = sl.minimize(problem, sl.with_replacement(2), alpha, engine="jax", **options)
    assert len(native.history) == len(jax_run.history) > 3
    np.testing.assert_allclose(native.history.loss, jax_run.history.loss, rtol=1e-10)
    np.testing.assert_allclose(native.params, jax_run.params, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", [sl.saga(), sl.loopless_svrg(p=0.3)], ids=repr)
def test_native_variance_reduction_lanes_resume_and_auto(sparse_rows, tmp_path, method):
    X, y = sparse_rows
    problem = sl.least_squares(scipy.sparse.csr_matrix(X), y)
    runs = {"saga": dict(sampler=sl.with_replacement(2), step=0.05, method=method)}
    comparison = sl.compare(problem, runs, seeds=3, epochs=3, predict=False)
    assert comparison.runs["saga"]["engine"] == "native"   # "auto" on CSR rows
    for seed in range(3):
        alone = sl.minimize(problem, epochs=3, seed=seed, **runs["saga"]).history
        lane = comparison.table[comparison.table.seed == seed]
        np.testing.assert_array_equal(lane.loss.to_numpy(), alone.loss.to_numpy())
    path = tmp_path / "saga.npz"
    whole = sl.minimize(problem, epochs=5, seed=1, **runs["saga"])
    sl.minimize(problem, epochs=2, seed=1, checkpoint=path, **runs["saga"])
    resumed = sl.minimize(problem, epochs=5, seed=1, checkpoint=path, resume=True, **runs["saga"])
    assert resumed.engine == "native"
    np.testing.assert_array_equal(resumed.params, whole.params)


def test_softmax_saga_runs_on_the_jax_engine(classification_data):
    X, y = classification_data
    problem = sl.softmax_regression(X, y)
    assert sl.minimize(problem, sl.cyclic(5), 0.05, epochs=1, method=sl.saga()).engine == "jax"
    with pytest.raises(ValueError, match="and SAGA and SVRG on least squares and logistic regression"):
        sl.minimize(problem, sl.cyclic(5), 0.05, epochs=1, method=sl.svrg(), engine="native")
