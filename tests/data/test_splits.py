"""sl.data.split: disjoint parts of the given sizes (scikit-learn's for two), stratified by class on request."""

import re

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl


def _rows_of(part_X):
    return part_X[:, 0].astype(int).tolist()


@pytest.mark.parametrize("n", [10, 442, 1001])
@pytest.mark.parametrize("test", [0.2, 0.25, 0.33])
def test_two_parts_have_scikit_learns_sizes_and_cover_the_rows_once(n, test):
    model_selection = pytest.importorskip("sklearn.model_selection")
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 3))
    (X_train, y_train), (X_test, y_test) = sl.data.split(X, np.arange(n), fractions=(1 - test, test), seed=4)
    theirs_train, theirs_test = model_selection.train_test_split(np.arange(n), test_size=test, random_state=0)
    assert (len(y_train), len(y_test)) == (len(theirs_train), len(theirs_test))
    assert sorted(_rows_of(X_train) + _rows_of(X_test)) == list(range(n))
    assert _rows_of(X_train) == y_train.tolist() and _rows_of(X_test) == y_test.tolist()   # rows and targets agree


def test_three_parts_sparse_rows_and_the_seed():
    X = scipy.sparse.csr_matrix(np.arange(100, dtype=float)[:, None] + 1.0)
    parts = sl.data.split(X, np.arange(100), fractions=(0.6, 0.3, 0.1), seed=1)
    assert [len(y) for _, y in parts] == [60, 30, 10]
    assert all(scipy.sparse.issparse(part) for part, _ in parts)
    again = sl.data.split(X, np.arange(100), fractions=(0.6, 0.3, 0.1), seed=1)
    other = sl.data.split(X, np.arange(100), fractions=(0.6, 0.3, 0.1), seed=2)
    assert [y.tolist() for _, y in again] == [y.tolist() for _, y in parts]
    assert [y.tolist() for _, y in other] != [y.tolist() for _, y in parts]


def test_stratified_parts_keep_each_class_proportion():
    labels = np.repeat([0, 1, 2], [70, 20, 10])
    X = np.arange(100, dtype=float)[:, None]
    (_, train), (_, test) = sl.data.split(X, labels, fractions=(0.8, 0.2), seed=0, stratify=True)
    assert np.bincount(test).tolist() == [14, 4, 2] and np.bincount(train).tolist() == [56, 16, 8]
    (_, plain_test) = sl.data.split(X, labels, fractions=(0.8, 0.2), seed=3)[1]
    assert len(plain_test) == 20


@pytest.mark.parametrize("test", [0.2, 0.25, 0.33])
def test_stratified_parts_have_scikit_learns_sizes(test):
    # digits: ten classes of 174–183 rows. scikit-learn's stratified split has its unstratified sizes (1,437 / 360 at
    # 0.2); a ceiling within each class gave 1,433 / 364. Each class's test rows are within one of f·m_c.
    datasets, model_selection = (pytest.importorskip(f"sklearn.{module}") for module in ("datasets",
                                                                                         "model_selection"))
    X, y = datasets.load_digits(return_X_y=True)
    (_, train), (_, held) = sl.data.split(X, y, fractions=(1 - test, test), seed=0, stratify=True)
    theirs_train, theirs_test = model_selection.train_test_split(y, test_size=test, random_state=0, stratify=y)
    assert (len(train), len(held)) == (len(theirs_train), len(theirs_test))
    assert np.all(np.abs(np.bincount(held) - test * np.bincount(y)) < 1)
    assert np.all(np.abs(np.bincount(held) - np.bincount(theirs_test)) <= 1)


@pytest.mark.parametrize(("call", "text"), [
    (lambda X, y: sl.data.split(X, y, fractions=(1.0,)), "fractions must be at least two positive fractions"),
    (lambda X, y: sl.data.split(X, y, fractions=(0.9, 0.2)), "fractions must be at least two positive fractions"),
    (lambda X, y: sl.data.split(X, y, fractions=(1.2, -0.2)), "fractions must be at least two positive fractions"),
    (lambda X, y: sl.data.split(X[:3], y[:3], fractions=(0.9, 0.1, 1e-12)), "that leave every part of the data"),
    (lambda X, y: sl.data.split(X[:3], y[:3], fractions=(0.2, 0.8)), "fractions must be fractions that leave every "
                                                                     "part of the data (m=3 rows of N=3) non-empty"),
    (lambda X, y: sl.data.split(X, y[:5]), "y must be a 1-D array with one entry a row of X (N=10)"),
    (lambda X, y: sl.data.split(X, y, stratify=[0, 1]), "stratify must be None, True or N=10 labels"),
])
def test_bad_splits_are_refused(call, text):
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    with pytest.raises(ValueError, match=re.escape(text)):
        call(X, y)
