"""What the built-in linear models share: a design matrix X (N × p), targets y, an ℓ2 weight.

Each row xᵢ of X is one example; a model's per-example loss depends on θ through xᵢᵀθ (or xᵢᵀW),
so its curvature is governed by the Gram matrix XᵀX/N, whose largest eigenvalue every L uses.
No intercept is added: append a column of ones to X to fit one.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import scipy.sparse.linalg

from sgdlab import _checks
from sgdlab.problems.base import FiniteSum

#: Above this many features, λ_max(XᵀX) comes from an iterative SVD instead of a dense eigensolver.
DENSE_EIGEN_MAX_FEATURES = 2000


class LinearModel(FiniteSum):
    """A finite sum whose i-th term depends on θ only through the i-th row of X (plus an ℓ2 term).

    Each family bounds the second derivative of its loss in the margin xᵢᵀθ by ``curvature`` c
    (1 for squared error, 1/4 for the logistic loss, 1/2 for softmax cross-entropy), so
    ∇²fᵢ ⪯ c xᵢxᵢᵀ + λI and ∇²F ⪯ c XᵀX/N + λI: L = c λ_max(XᵀX)/N + λ and Lᵢ = c ‖xᵢ‖² + λ.
    """

    curvature = 1.0

    def __init__(self, loss, X, y, params0, l2: float = 0.0):
        self.X = X
        self.l2 = l2
        super().__init__(loss, (X, y), params0)

    @property
    def n_features(self) -> int:
        """p, the number of columns of X."""
        return self.X.shape[1]

    @cached_property
    def gram_max_eigenvalue(self) -> float:
        """λ_max(XᵀX)/N, the largest eigenvalue of the (uncentered) second-moment matrix."""
        return largest_gram_eigenvalue(self.X) / self.n

    def lipschitz(self) -> float:
        """L = c · λ_max(XᵀX)/N + λ (exact for least squares, and for logistic at θ = 0)."""
        return self.curvature * self.gram_max_eigenvalue + self.l2

    def lipschitz_max(self) -> float:
        """L_max = maxᵢ Lᵢ = c · maxᵢ ‖xᵢ‖² + λ, the largest per-example constant."""
        return self.curvature * self.row_max_squared_norm + self.l2

    def supremum(self) -> float | None:
        """+inf: a convex loss that varies along some direction (X ≠ 0 or λ > 0) is unbounded above."""
        return math.inf if self.l2 > 0 or np.any(self.X != 0) else None

    @cached_property
    def row_max_squared_norm(self) -> float:
        """maxᵢ ‖xᵢ‖², which bounds the per-example curvature."""
        return float(np.max(np.einsum("ij,ij->i", self.X, self.X)))


class LinearClassifier(LinearModel):
    """A linear model whose ``predict(params, X)`` returns class labels."""

    def predict(self, params, X) -> np.ndarray:
        raise NotImplementedError

    def accuracy(self, params, X, y) -> float:
        """The fraction of rows of X whose predicted label equals y."""
        return float(np.mean(self.predict(params, X) == np.asarray(y)))


def design_matrix(X) -> np.ndarray:
    """Validate X: a non-empty 2-D array of finite numbers (integers become float64)."""
    return _checks.finite_array("X", X, ndim=2)


def targets(y, X: np.ndarray, *, dtype=None) -> np.ndarray:
    """Validate y: a 1-D array of finite numbers, one per row of X."""
    y = _checks.finite_array("y", y, ndim=1, dtype=dtype)
    _checks.same_length(("X", "y"), (X.shape[0], y.shape[0]))
    return y


def class_labels(y, X: np.ndarray) -> np.ndarray:
    """Validate class labels: a 1-D array (numbers or strings), one per row of X, no NaN."""
    y = np.asarray(y)
    if y.ndim != 1:
        _checks.fail("y", "a 1-D array of class labels", f"a {y.ndim}-D array of shape {y.shape}")
    _checks.same_length(("X", "y"), (X.shape[0], y.shape[0]))
    if np.issubdtype(y.dtype, np.number):
        _checks.finite_array("y", y)
    return y


def largest_gram_eigenvalue(X: np.ndarray) -> float:
    """λ_max(XᵀX) = σ_max(X)²: dense eigvalsh for few features, else an iterative SVD."""
    X64 = np.asarray(X, dtype=np.float64)
    if min(X64.shape) <= DENSE_EIGEN_MAX_FEATURES:
        small = X64.T @ X64 if X64.shape[1] <= X64.shape[0] else X64 @ X64.T
        return float(np.linalg.eigvalsh(small)[-1])
    sigma = scipy.sparse.linalg.svds(X64, k=1, return_singular_vectors=False)
    return float(sigma[0] ** 2)
