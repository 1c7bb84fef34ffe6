"""The data sets scikit-learn ships (diabetes, breast_cancer, digits), read from its package's files without
importing scikit-learn (whose import costs about a second, mostly SciPy's statistics it does not need here).

Each reader gives what ``sklearn.datasets.load_<name>(return_X_y=True)`` gives, bit for bit (tested against it):

* diabetes: the raw features centred and scaled, xⱼ ← (xⱼ − x̄ⱼ) / (σⱼ √N) with σⱼ the population standard
  deviation (so each column has mean 0 and Σᵢ xᵢⱼ² = 1), and the disease progression a year later;
* breast_cancer: 30 features and the diagnosis in {0, 1} (a CSV whose first line gives N, p and the class names);
* digits: 8 × 8 images flattened to 64 grey levels in 0 … 16, and the digit.

Where the files are not where this scikit-learn keeps them, scikit-learn's own loader is used.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np


def shipped(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the data set ``name`` as scikit-learn loads it, read from its files when they are found."""
    paths = files(name)
    if paths:
        try:
            return SETS[name][0](*paths)
        except (OSError, ValueError):
            pass
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)


def files(name: str) -> list[Path]:
    """The files the data set ``name`` is read from (none when scikit-learn keeps no data folder)."""
    folder = _data_folder()
    return [] if folder is None else [folder / file for file in SETS[name][1]]


def _data_folder() -> Path | None:
    """scikit-learn's folder of shipped data, found without importing it (None without scikit-learn)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _diabetes(features: Path, targets: Path) -> tuple[np.ndarray, np.ndarray]:
    X = _gzipped_table(features, delimiter=None)
    y = _gzipped_table(targets, delimiter=None)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X /= np.sqrt(X.shape[0])
    return X, y


def _breast_cancer(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open(encoding="utf-8") as file:
        count, features = (int(field) for field in file.readline().split(",")[:2])
        table = np.loadtxt(file, delimiter=",")
    if table.shape != (count, features + 1):
        raise ValueError(f"{path}: expected {count} rows of {features + 1} numbers, found {table.shape}")
    return table[:, :-1], table[:, -1].astype(int)


def _digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = _gzipped_table(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def _gzipped_table(path: Path, delimiter: str | None) -> np.ndarray:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return np.loadtxt(file, delimiter=delimiter)


#: Each data set's reader and the files it reads, in scikit-learn's data folder.
SETS: dict[str, tuple[Callable[..., tuple[np.ndarray, np.ndarray]], tuple[str, ...]]] = {
    "diabetes": (_diabetes, ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")),
    "breast_cancer": (_breast_cancer, ("breast_cancer.csv",)),
    "digits": (_digits, ("digits.csv.gz",))}
