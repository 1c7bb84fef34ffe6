"""Data: bundled sets, the synthetic generator's constants, every file format, standardizing."""

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.datasets import dump_svmlight_file

import sgdlab as sl
from sgdlab import data


@pytest.mark.parametrize("name, shape, classes", [("diabetes", (442, 10), None), ("breast_cancer", (569, 30), 2),
                                                  ("digits", (1797, 64), 10)])
def test_bundled_sets(name, shape, classes):
    dataset = data.load(name)
    assert dataset.shape == shape and dataset.X.dtype == np.float64
    if classes:
        assert len(np.unique(dataset.y)) == classes


@pytest.mark.parametrize("name", ["diabetes", "breast_cancer", "digits"])
def test_bundled_sets_are_scikit_learns_bit_for_bit(name):
    """Read from scikit-learn's files without importing it, each set equals its loader's."""
    import sklearn.datasets

    X, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    dataset = data.load(name)
    np.testing.assert_array_equal(dataset.X, X)
    np.testing.assert_array_equal(dataset.y, y)
    assert dataset.y.dtype == y.dtype


def test_bundled_sets_fall_back_on_scikit_learns_loader(monkeypatch, tmp_path):
    """Where scikit-learn keeps its files elsewhere, its loader gives the set."""
    import sklearn.datasets

    from sgdlab.data import shipped

    monkeypatch.setattr(shipped, "_data_folder", lambda: tmp_path)
    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda return_X_y: (np.ones((3, 2)), np.arange(3)))
    np.testing.assert_array_equal(data.load("digits").X, np.ones((3, 2)))


def test_loading_diabetes_imports_no_scikit_learn():
    import subprocess
    import sys

    code = "import sys, sgdlab.data as d; d.load('diabetes'); print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_synthetic_has_the_requested_condition_number():
    dataset = data.synthetic(n=500, p=8, condition_number=50.0, noise=0.0, seed=3)
    problem = sl.least_squares(dataset.X, dataset.y)
    assert problem.lipschitz() == pytest.approx(50.0, rel=1e-10)
    assert problem.strong_convexity() == pytest.approx(1.0, rel=1e-10)
    assert problem.optimal_value() == pytest.approx(0.0, abs=1e-20)     # noise 0: y is in the range of X


def test_standardize_and_intercept():
    X = np.column_stack([np.arange(10.0), np.full(10, 3.0), np.random.default_rng(0).normal(size=10) * 7 + 2])
    Z = data.standardize(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), [1, 0, 1], atol=1e-12)     # the constant column is only centered
    assert data.with_intercept(Z).shape == (10, 4) and np.all(data.with_intercept(Z)[:, -1] == 1)


@pytest.fixture()
def table():
    rng = np.random.default_rng(1)
    return pd.DataFrame({"a": rng.normal(size=20), "b": rng.normal(size=20), "price": rng.normal(size=20)})


def test_file_formats_round_trip(tmp_path, table):
    X, y = table[["a", "b"]].to_numpy(), table["price"].to_numpy()
    np.save(tmp_path / "d.npy", table.to_numpy())
    np.savez(tmp_path / "d.npz", X=X, y=y)
    table.to_csv(tmp_path / "d.csv", index=False)
    table[["price", "a", "b"]].to_parquet(tmp_path / "d.parquet")
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"))
    for name, target in [("d.npy", None), ("d.npz", None), ("d.csv", "price"), ("d.parquet", "price"), ("d.svm", None)]:
        dataset = data.load(str(tmp_path / name), target)
        assert scipy.sparse.issparse(dataset.X) == (name == "d.svm")
        dense = dataset.X.toarray() if name == "d.svm" else dataset.X
        np.testing.assert_allclose(dense, X, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(dataset.y, y, rtol=1e-12, err_msg=name)
    assert data.load(str(tmp_path / "d.npy"), "0").y[3] == table.a[3]
    with pytest.raises(ValueError, match=re.escape("target must be a column index in [-3, 2] for an .npy file; got 'price'")):
        data.load(str(tmp_path / "d.npy"), "price")


def test_shared_libsvm_file_loads(mushrooms):
    X, y = mushrooms
    assert X.shape == (8124, 112) and set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("setup, target, text", [
    (lambda d: None, None, "data must be a bundled name (diabetes, breast_cancer, digits, synthetic) or an existing file"),
    (lambda d: pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(d / "x.csv", index=False), "price",
     "target must be a column of x.csv (a, b); got 'price'"),
    (lambda d: pd.DataFrame({"a": ["u", "v"], "y": [3.0, 4.0]}).to_csv(d / "x.csv", index=False), None,
     "data must be numeric feature columns; got non-numeric columns ['a'] in x.csv"),
    (lambda d: (d / "x.csv").write_bytes(b"\xff\xfe\x00garbage"), None, "data must be a readable .csv file"),
    (lambda d: np.savez(d / "x.npz", A=np.ones(3)), None, "data must be an .npz file with arrays named X and y; got arrays ['A']"),
    (lambda d: np.save(d / "x.npy", np.ones((4, 3))), "7", "target must be an integer in [-3, 2] for an .npy file; got 7"),
    (lambda d: pd.DataFrame({"a": [1.0, 2.0], "price": [3.0, 4.0]}).to_csv(d / "x.csv", index=False), "Price",
     "target must be a column of x.csv (a, price); got 'Price' (did you mean 'price'?)"),
    (lambda d: (d / "x.csv").write_text("a,b,y\n"), None, "data must be a table with at least one row of data; got "
     "x.csv with no rows (only the header: a, b, y)"),
    (lambda d: pd.DataFrame({"a": np.arange(30.0), "b": np.where(np.arange(30) == 17, np.nan, 1.0),
                             "y": np.ones(30)}).to_csv(d / "x.csv", index=False), None,
     "data must be finite feature values (no NaN or infinity); got nan at row 17, feature column 1 of x.csv"),
    (lambda d: np.save(d / "x.npy", np.column_stack([np.ones((5, 2)), [1.0, 2.0, np.inf, 4.0, 5.0]])), None,
     "data must be finite target values; got inf at row 2 of x.npy"),
    (lambda d: (d / "x.svm").write_text("1 1:0.5\n0 2:1.0 3:nan\n"), None,   # sparse: checked without densifying
     "data must be finite feature values (no NaN or infinity); got nan at row 1, feature column 2 of x.svm"),
])
def test_bad_files_are_refused(tmp_path, setup, target, text):
    setup(tmp_path)
    path = next(iter(tmp_path.glob("x.*")), tmp_path / "missing.csv")
    with pytest.raises((ValueError, TypeError), match=re.escape(text)):
        data.load(str(path), target)
