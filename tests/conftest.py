"""Shared data for the tests: small problems with known answers, and the shared LIBSVM files."""

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "libsvm"


@pytest.fixture(scope="module", autouse=True)
def release_compiled_programs():
    """Drop JAX's compiled programs after each test module. A process holds at most vm.max_map_count (65,530)
    memory maps and each XLA:CPU executable takes dozens: clearing between modules bounds a worker's count whatever
    a module leaves behind (a worker once reached the limit, and LLVM crashed mapping the next program)."""
    yield
    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def regression_data():
    """A well-conditioned least-squares problem: N = 60, p = 4, noisy targets."""
    rng = np.random.default_rng(20261123)
    X = rng.normal(size=(60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3 * rng.normal(size=60)
    return X, y


@pytest.fixture(scope="session")
def classification_data():
    """Two overlapping Gaussian classes in 3-D, labels {0, 1}: N = 50."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=50)
    X = rng.normal(size=(50, 3)) + 0.8 * (2 * y[:, None] - 1)
    return X, y


@pytest.fixture(scope="session")
def multiclass_data():
    """Three classes in 4-D with labels 'a', 'b', 'c': N = 45."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, size=45)
    X = rng.normal(size=(45, 4)) + np.eye(3, 4)[labels] * 1.5
    return X, np.array(["a", "b", "c"])[labels]


@pytest.fixture(scope="session")
def mushrooms():
    """LIBSVM mushrooms (8,124 × 112, labels 1/2), dense, labels mapped to {0, 1}."""
    from sklearn.datasets import load_svmlight_file

    path = SHARED_DATA / "mushrooms"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    X, y = load_svmlight_file(str(path))
    return X.toarray(), (y == 2).astype(int)


@pytest.fixture(scope="session")
def w8a():
    """LIBSVM w8a (49,749 × 300, sparse CSR, labels ±1)."""
    from sklearn.datasets import load_svmlight_file

    path = SHARED_DATA / "w8a"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return load_svmlight_file(str(path))
