"""Loading data: bundled sets, a synthetic generator, files, and standardizing.

* Bundled (through scikit-learn, no download): ``diabetes`` (442 × 10, regression),
  ``breast_cancer`` (569 × 30, binary {0, 1}), ``digits`` (1,797 × 64, ten classes).
* ``synthetic(n, p, condition_number, noise, seed)``: least-squares data whose second-moment
  matrix XᵀX/N has eigenvalues log-spaced from 1 to κ, so L = κ and μ = 1 exactly.
* Files: ``.npy`` (a 2-D array; the target is the last column unless ``target`` names another
  index), ``.npz`` (arrays ``X`` and ``y``), ``.csv`` and ``.parquet`` (pandas; ``target`` names
  the column, default the last), and svmlight / LIBSVM text (scikit-learn; any other suffix or
  none, ``.bz2`` read directly), which stays a sparse CSR matrix: the linear models run on it
  at a cost proportional to its nonzeros.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from sgdlab._helpers import validation
from sgdlab.data.shipped import SETS, shipped

BUNDLED = tuple(SETS)
#: What ``load`` takes by name rather than as a file.
NAMED = (*BUNDLED, "synthetic")
#: The suffixes of files read as tables (pandas), and of every file read dense (any other suffix: svmlight / LIBSVM
#: text, read sparse).
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
DENSE_SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Features X (N × p; a NumPy array, or a SciPy CSR matrix from a sparse file), targets y (N,),
    and a name that says where they came from."""

    name: str
    X: np.ndarray | scipy.sparse.csr_matrix
    y: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


def load(source: str, target: str | int | None = None) -> Dataset:
    """A bundled set by name, ``"synthetic"`` (with its defaults), or a file by path."""
    checked_source(source)
    if str(source) in BUNDLED:
        return bundled(str(source))
    if str(source) == "synthetic":
        return synthetic()
    return load_file(source, target)


def checked_source(source: Any) -> None:
    """Refuse, without reading anything, a source that is neither a bundled name, "synthetic" nor an existing file."""
    if not isinstance(source, (str, Path)):
        validation.fail("data", "a bundled name or a file path", validation.shown(source), error=TypeError)
    if str(source) not in NAMED and not Path(source).is_file():
        _no_such_source(source)


def _no_such_source(source: Any) -> None:
    validation.fail("data", "a bundled name (" + ", ".join(BUNDLED) + ", synthetic) or an existing file",
                    validation.shown(str(source)))


def bundled(name: str) -> Dataset:
    """One of the data sets scikit-learn ships: diabetes, breast_cancer or digits (:mod:`sgdlab.data.shipped`)."""
    if name not in BUNDLED:
        validation.fail("data", f"one of {', '.join(BUNDLED)}", validation.shown(name))
    X, y = shipped(name)
    return Dataset(name, X.astype(np.float64), y)


def synthetic(n: int = 1000, p: int = 20, condition_number: float = 100.0, noise: float = 0.1,
              seed: int = 0) -> Dataset:
    """X = √N · U diag(√λ) Vᵀ with λ log-spaced in [1, κ] (U, V random orthonormal), θ* ~ N(0, I),
    y = Xθ* + noise · ε: the least-squares problem on it has L = κ and μ = 1."""
    n = validation.integer("n", n, low=2, context="synthetic")
    p = validation.integer("p", p, high=n, context="synthetic")
    kappa = validation.real("condition_number", condition_number, allowed="a number >= 1", accept=lambda v: v >= 1,
                            context="synthetic")
    noise = validation.nonnegative_float("noise", noise, context="synthetic")
    rng = np.random.default_rng(validation.integer("seed", seed, low=0, context="synthetic"))
    U, _ = np.linalg.qr(rng.normal(size=(n, p)))
    V, _ = np.linalg.qr(rng.normal(size=(p, p)))
    eigenvalues = np.geomspace(1.0, kappa, p)
    X = np.sqrt(n) * (U * np.sqrt(eigenvalues)) @ V.T
    y = X @ rng.normal(size=p) + noise * rng.normal(size=n)
    return Dataset(f"synthetic(n={n}, p={p}, κ={kappa:g}, noise={noise:g})", X, y)


def is_sparse_source(source: str | Path) -> bool:
    """Whether ``source`` loads as a sparse CSR matrix: an svmlight / LIBSVM file (a suffix not in DENSE_SUFFIXES),
    not a bundled or synthetic set."""
    if str(source) in NAMED:
        return False
    return Path(source).suffix.lower() not in DENSE_SUFFIXES


def load_file(path, target: str | int | None = None) -> Dataset:
    """Read a data file by its suffix: .npy, .npz, .csv, .parquet, else svmlight / LIBSVM."""
    path = Path(path)
    if not path.is_file():
        _no_such_source(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            X, y = _split_columns(np.load(path, allow_pickle=False), target)
        elif suffix == ".npz":
            X, y = _npz(path)
        elif suffix in TABLE_SUFFIXES:
            X, y = _table(path, target)
        else:
            X, y = _svmlight(path)
    except (validation.InvalidValue, validation.InvalidType):
        raise
    except (OSError, ValueError, KeyError, EOFError) as error:
        validation.fail("data", f"a readable {suffix or 'svmlight'} file", f"{path}: {error}".replace("\n", " "))
    _check_finite(X, y, path)
    return Dataset(path.name, X, y)


def _check_finite(X, y, path: Path) -> None:
    """Refuse a NaN or infinity where the file has it (before any preprocessing spreads it over a column);
    a sparse X is checked in its stored values, without densifying it."""
    where = _first_non_finite(X)
    if where is not None:
        value, row, column = where
        validation.fail("data", "finite feature values (no NaN or infinity)",
                        f"{value} at row {row}, feature column {column} of {path.name} (rows and columns counted "
                        "from 0, the target left out)")
    labels = np.asarray(y)
    if np.issubdtype(labels.dtype, np.number) and not np.isfinite(labels).all():
        row = int(np.flatnonzero(~np.isfinite(labels))[0])
        validation.fail("data", "finite target values", f"{labels[row]} at row {row} of {path.name} (rows counted "
                        "from 0)")


def _first_non_finite(X) -> tuple[float, int, int] | None:
    """(value, row, column) of the first NaN or infinity of X in row order, or None (also for non-numbers)."""
    if scipy.sparse.issparse(X):
        stored = X.tocoo()
        bad = np.flatnonzero(~np.isfinite(stored.data))
        return None if not bad.size else (stored.data[bad[0]], int(stored.row[bad[0]]), int(stored.col[bad[0]]))
    values = np.asarray(X)
    if not np.issubdtype(values.dtype, np.number) or values.ndim != 2:
        return None
    where = np.argwhere(~np.isfinite(values))
    return None if not len(where) else (values[tuple(where[0])], int(where[0][0]), int(where[0][1]))


def _split_columns(array: np.ndarray, target) -> tuple[np.ndarray, np.ndarray]:
    if array.ndim != 2 or array.shape[1] < 2:
        validation.fail("data", "a 2-D array with features and a target column", f"shape {array.shape}")
    index = _column_index(target, array.shape[1])
    return np.delete(array, index, axis=1), array[:, index]


def _column_index(target, width: int) -> int:
    """The target column of an .npy array: an index (also given as text), the last by default."""
    allowed = f"a column index in [{-width}, {width - 1}]"
    if target is None:
        return width - 1
    try:
        index = int(target)
    except (TypeError, ValueError):
        validation.fail("target", allowed, validation.shown(target), context="an .npy file")
    return validation.integer("target", index, low=-width, high=width - 1, context="an .npy file")


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as arrays:
        missing = {"X", "y"} - set(arrays.files)
        if missing:
            validation.fail("data", "an .npz file with arrays named X and y", f"arrays {sorted(arrays.files)}")
        return arrays["X"], arrays["y"]


def _table(path: Path, target) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    if frame.empty:
        header = f" (only the header: {', '.join(map(str, frame.columns[:10]))})" if len(frame.columns) else ""
        validation.fail("data", "a table with at least one row of data", f"{path.name} with no rows{header}")
    column = frame.columns[-1] if target is None else target
    if column not in frame.columns:
        validation.fail("target", f"a column of {path.name} ({', '.join(map(str, frame.columns[:10]))})",
                        validation.shown(column) + _near_match(str(column), list(map(str, frame.columns))))
    features = frame.drop(columns=[column])
    non_numeric = [name for name, dtype in features.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    if non_numeric:
        validation.fail("data", "numeric feature columns", f"non-numeric columns {non_numeric[:5]} in {path.name}")
    return features.to_numpy(dtype=np.float64), frame[column].to_numpy()


def _near_match(name: str, columns: list[str]) -> str:
    """'; did you mean …?' for the column whose name is closest to ``name`` (case aside), else ''."""
    import difflib

    by_lower = {column.lower(): column for column in columns}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def _svmlight(path: Path) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    from sklearn.datasets import load_svmlight_file

    return load_svmlight_file(str(path))


def standardize(X, like=None):
    """Center every column and scale it to unit variance (constant columns are only centered), with the mean
    and standard deviation of the rows ``like`` (default X itself: held-out rows take their training rows').

    A sparse X is only scaled (centering would fill in every zero), so it stays sparse.
    """
    like = X if like is None else like
    if scipy.sparse.issparse(X):
        like = scipy.sparse.csr_matrix(like, dtype=np.float64)
        squares = like.multiply(like).mean(axis=0).A1
        scale = np.sqrt(np.maximum(squares - like.mean(axis=0).A1 ** 2, 0.0))
        return scipy.sparse.csr_matrix(scipy.sparse.csr_matrix(X, dtype=np.float64)
                                       @ scipy.sparse.diags(1.0 / np.where(scale > 0, scale, 1.0)))
    X, like = np.asarray(X, dtype=np.float64), np.asarray(like, dtype=np.float64)
    scale = like.std(axis=0)
    return (X - like.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def with_intercept(X):
    """X with a column of ones appended, so a linear model fits an intercept (sparse X stays sparse)."""
    if scipy.sparse.issparse(X):
        return scipy.sparse.hstack([X, np.ones((X.shape[0], 1))], format="csr")
    return np.column_stack([X, np.ones(len(X))])
