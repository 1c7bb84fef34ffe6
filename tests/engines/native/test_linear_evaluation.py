"""History rows of native runs come from the native evaluation: the same numbers as the JAX engine's evaluation
(F, ‖∇F‖, ‖θ − θ*‖, the averaged iterate's, held-out scores), for every linear family, on CSR and dense rows (a
small problem's rows in one range, a larger one's in two, side by side)."""

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl


@pytest.fixture(scope="module")
def sparse_data():
    rng = np.random.default_rng(8)
    X = scipy.sparse.random(240, 30, density=0.15, format="csr", random_state=9) * 2
    scores = X @ rng.normal(size=30)
    return scipy.sparse.csr_matrix(X), scores


def _problems(X, scores):
    return {"least_squares": sl.least_squares(X, scores),
            "logistic": sl.logistic_regression(X, scores > 0, l2=0.01),
            "softmax": sl.softmax_regression(X, np.digitize(scores, [-0.5, 0.5]), l2=0.01)}


@pytest.fixture(scope="module", params=["csr", "dense", "dense, two ranges"])
def data(request, sparse_data):
    X, scores = sparse_data
    if request.param == "csr":
        return X, scores
    if request.param == "dense":
        return X.toarray(), scores
    rng = np.random.default_rng(3)   # 3,000 × 30: its training rows hold 72,000 numbers, evaluated in two ranges
    dense = rng.normal(size=(3000, 30))
    return dense, dense @ rng.normal(size=30) / 5


@pytest.mark.parametrize("kind", ["least_squares", "logistic", "softmax"])
def test_native_rows_equal_the_jax_evaluation(data, kind):
    problem = _problems(*data)[kind]
    (X_train, y_train), (X_test, y_test) = sl.data.split(problem.X, np.asarray(problem.y), seed=1)
    train = problem.with_data(X_train, _labels(problem, y_train))
    heldout = {"test": train.with_data(X_test, _labels(problem, y_test))}
    runs = {engine: sl.minimize(train, sl.shuffled_cyclic(4), step=0.05, epochs=3, engine=engine, heldout=heldout,
                                average=sl.polyak_average() if kind != "softmax" else None)
            for engine in ("native", "jax")}
    native, jax_run = runs["native"].history, runs["jax"].history
    assert runs["native"].engine == "native"
    for column in native.columns.drop(["time"]):
        np.testing.assert_allclose(native[column], jax_run[column], rtol=1e-10, atol=1e-13, err_msg=column)
    assert native.dist.notna().all() == (train.solution() is not None)


def _labels(problem, y):
    """Labels as the problem's constructor takes them (the family's own coding of the stored targets)."""
    if isinstance(problem, sl.problems.LogisticRegression):
        return (y > 0).astype(int)
    return y
