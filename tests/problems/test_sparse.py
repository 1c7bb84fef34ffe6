"""Sparse X: every linear model takes a scipy.sparse matrix, keeps it sparse, and gives the dense answers."""

import re

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import sgdlab as sl
from sgdlab import data
from sgdlab.experiments.report import write_report

from conftest import SHARED_DATA


def _design(seed=0, n=200, p=15, density=0.2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (rng.random((n, p)) < density)
    return X, X @ rng.normal(size=p) + 0.1 * rng.normal(size=n)


MODELS = {
    "least_squares": lambda X, y: sl.least_squares(X, y),
    "logistic": lambda X, y: sl.logistic_regression(X, (y > 0).astype(int), l2=0.01),
    "softmax": lambda X, y: sl.softmax_regression(X, np.digitize(y, [-1.0, 1.0]), l2=0.01),
    "curve_fit_features": lambda X, y: sl.least_squares(X[:, :3], y),
}


@pytest.mark.parametrize("model", MODELS)
def test_sparse_and_dense_problems_agree(model):
    X, y = _design()
    dense, sparse = MODELS[model](X, y), MODELS[model](scipy.sparse.csr_matrix(X), y)
    assert sparse.is_sparse and not dense.is_sparse
    theta = np.asarray(dense.params0) + 0.3
    assert float(sparse.loss(theta)) == pytest.approx(float(dense.loss(theta)), rel=1e-13)
    np.testing.assert_allclose(sparse.grad(theta), dense.grad(theta), rtol=0, atol=1e-13)
    np.testing.assert_allclose(sparse.batch_grad(theta, [3, 3, 50]), dense.batch_grad(theta, [3, 3, 50]),
                               rtol=0, atol=1e-13)
    assert sparse.lipschitz() == pytest.approx(dense.lipschitz(), rel=1e-12)
    assert sparse.lipschitz_max() == pytest.approx(dense.lipschitz_max(), rel=1e-12)


@pytest.mark.parametrize("engine", ["jax", "native"])
@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.shuffled_cyclic(8), sl.cyclic(8, drop_last=True),
                                     sl.without_replacement(8)], ids=repr)
@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax"])
def test_sparse_run_equals_dense_run(model, sampler, engine):
    X, y = _design()
    dense, sparse = MODELS[model](X, y), MODELS[model](scipy.sparse.csr_matrix(X), y)
    runs = [sl.minimize(problem, sampler, step=0.05, epochs=2, seed=4, engine=engine) for problem in (dense, sparse)]
    np.testing.assert_allclose(runs[1].params, runs[0].params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(runs[1].history.loss, runs[0].history.loss, rtol=0, atol=1e-10)


def test_sparse_least_squares_solution_matches_lsqr_and_lstsq():
    X, y = _design(n=300, p=25)
    problem = sl.least_squares(scipy.sparse.csr_matrix(X), y)
    lsqr = scipy.sparse.linalg.lsqr(scipy.sparse.csr_matrix(X), y, atol=1e-15, btol=1e-15, iter_lim=10_000)[0]
    np.testing.assert_allclose(problem.solution(), lsqr, rtol=0, atol=1e-10)
    np.testing.assert_allclose(problem.solution(), np.linalg.lstsq(X, y, rcond=None)[0], rtol=0, atol=1e-10)
    assert problem.optimal_value() == pytest.approx(sl.least_squares(X, y).optimal_value(), rel=1e-10)
    assert problem.rank == 25
    assert problem.strong_convexity() == pytest.approx(sl.least_squares(X, y).strong_convexity(), rel=1e-8)


def test_sparse_rank_deficient_least_squares_gives_the_minimum_norm_solution():
    X, y = _design(n=120, p=10)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])   # rank 10 of 11 columns
    problem = sl.least_squares(scipy.sparse.csr_matrix(X), y)
    np.testing.assert_allclose(problem.solution(), np.linalg.pinv(X) @ y, rtol=0, atol=1e-9)
    assert problem.rank == 10 and problem.strong_convexity() == 0.0


def test_logistic_on_sparse_mushrooms_matches_scikit_learn():
    """The ℓ2 weight λ = L/√N of the random-reshuffling experiments; scikit-learn's C is 1/(λN)."""
    path = SHARED_DATA / "mushrooms"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    dataset = data.load(str(path))
    assert scipy.sparse.issparse(dataset.X)
    labels = (dataset.y == 2).astype(int)
    unregularized = sl.logistic_regression(dataset.X, labels)
    l2 = unregularized.lipschitz() / np.sqrt(unregularized.n)
    problem = sl.logistic_regression(dataset.X, labels, l2=l2)
    result = sl.minimize(problem, step=1 / problem.lipschitz(), epochs=20_000, tol=1e-9, record_every=1000)
    assert result.status == "converged"
    reference = LogisticRegression(C=1 / (l2 * problem.n), fit_intercept=False, tol=1e-12, max_iter=10_000)
    reference.fit(dataset.X, labels)
    np.testing.assert_allclose(result.params, reference.coef_[0], rtol=0, atol=1e-6)


def test_wide_sparse_softmax_runs_in_memory_of_its_nonzeros():
    """2,000 × 300,000 with 10 nonzeros a row: dense X would take 4.8 GB, the problem holds about 0.5 MB."""
    rng = np.random.default_rng(2)
    n, p, per_row = 2000, 300_000, 10
    X = scipy.sparse.csr_matrix((rng.normal(size=n * per_row), rng.integers(0, p, n * per_row),
                                 np.arange(0, n * per_row + 1, per_row)), shape=(n, p))
    problem = sl.softmax_regression(X, rng.integers(0, 4, n), l2=1e-4)
    held = sum(leaf.nbytes for leaf in __import__("jax").tree.leaves(problem.data))
    assert held < 40 * X.nnz
    for engine in ("native", "jax"):
        result = sl.minimize(problem, sl.shuffled_cyclic(1), step=0.1, epochs=1, record_every=1, engine=engine)
        assert result.status == "max_epochs" and result.history.loss.iloc[-1] < result.history.loss.iloc[0]


def test_other_sparse_formats_are_converted():
    X, y = _design()
    csr, coo = sl.least_squares(scipy.sparse.csr_matrix(X), y), sl.least_squares(scipy.sparse.coo_array(X), y)
    assert isinstance(coo.X, scipy.sparse.csr_matrix)
    np.testing.assert_allclose(coo.solution(), csr.solution(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("make, error, text", [
    (lambda X: _with_value(X, np.nan), ValueError,
     "X must be a sparse matrix of finite stored values (no NaN or inf); got nan at row"),
    (lambda X: _with_value(X, np.inf), ValueError, "X must be a sparse matrix of finite stored values"),
    (lambda X: _with_float_indices(X), TypeError, "X.indices must be an array of integers; got dtype float64"),
    (lambda X: X[:0], ValueError, "X must be a non-empty 2-D sparse matrix; got shape (0, 15)"),
])
def test_bad_sparse_input_names_the_parameter(make, error, text):
    X, y = _design()
    with pytest.raises(error, match=re.escape(text)):
        sl.least_squares(make(scipy.sparse.csr_matrix(X)), y[: max(make(scipy.sparse.csr_matrix(X)).shape[0], 1)])


def test_sparse_shape_mismatch_with_y_is_refused():
    X, y = _design()
    with pytest.raises(ValueError, match=re.escape("X and y must be of the same length")):
        sl.logistic_regression(scipy.sparse.csr_matrix(X), (y[:-1] > 0).astype(int))


def _with_float_indices(X):
    X = X.copy()
    X.indices = X.indices.astype(np.float64)
    return X


def _with_value(X, value):
    X = X.copy()
    X.data[3] = value
    return X


def test_sparse_standardize_scales_like_scikit_learn_without_centering():
    X, _ = _design()
    scaled = data.standardize(scipy.sparse.csr_matrix(X))
    assert scipy.sparse.issparse(scaled)
    np.testing.assert_allclose(scaled.toarray(), StandardScaler(with_mean=False).fit_transform(X), rtol=1e-12)
    assert data.with_intercept(scaled).shape == (200, 16) and scipy.sparse.issparse(data.with_intercept(scaled))


def test_compare_and_report_on_sparse_data(tmp_path):
    X, y = _design()
    problem = sl.logistic_regression(scipy.sparse.csr_matrix(X), (y > 0).astype(int), l2=0.01)
    comparison = sl.compare(problem, {"rr": dict(sampler=sl.shuffled_cyclic(1)), "mb": dict(sampler=sl.shuffled_cyclic(32))},
                            seeds=2, epochs=3, out=tmp_path / "out")
    assert set(comparison.table.status) == {"max_epochs"}
    page = write_report(tmp_path / "out")
    assert page.exists() and "LogisticRegression" in page.read_text()
