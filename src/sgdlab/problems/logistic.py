"""Binary logistic regression, F(θ) = (1/N) Σᵢ log(1 + exp(−yᵢ xᵢᵀθ)) + (λ/2) ‖θ‖², yᵢ ∈ {−1, +1}.

Labels may be given coded {0, 1} or {−1, +1}; 0 is read as −1. The Hessian is
(1/N) Σᵢ σ(mᵢ)(1 − σ(mᵢ)) xᵢxᵢᵀ + λI with σ(m)(1 − σ(m)) ≤ 1/4 (equality at θ = 0), so
L = λ_max(XᵀX)/(4N) + λ. With λ > 0 the minimizer is unique; with λ = 0 and separable data
there is none (F decreases towards 0 along a separating direction).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab.problems.linear import LinearClassifier, design_matrix, targets


class LogisticRegression(LinearClassifier):
    """Binary logistic regression with an optional ℓ2 weight ``l2`` (λ above)."""

    native_loss = "logistic"

    curvature = 0.25

    def __init__(self, X, y, l2: float = 0.0):
        X = design_matrix(X)
        y, self.label_coding = _signed_labels(targets(y, X), X.dtype)
        super().__init__(X, y, np.zeros(X.shape[1], dtype=X.dtype), l2=validation.nonnegative_float("l2", l2))

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = log(1 + exp(−y m)), computed without overflow."""
        return jnp.logaddexp(0.0, -y * margins)

    def predict(self, params, X) -> np.ndarray:
        """The label (in the coding of the training labels) of sign(xᵀθ) for each row of X."""
        positive = np.asarray(design_matrix(X) @ np.asarray(params)) > 0
        low = 0 if self.label_coding == "{0, 1}" else -1
        return np.where(positive, 1, low)


def _signed_labels(y: np.ndarray, dtype) -> tuple[np.ndarray, str]:
    """Map labels coded {0, 1} or {−1, 1} to ±1; say which coding was used."""
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return np.where(y == 1, 1, -1).astype(dtype), "{0, 1}"
    if values <= {-1.0, 1.0}:
        return y.astype(dtype), "{-1, 1}"
    validation.fail("y", "labels coded {0, 1} or {-1, 1}", f"values {sorted(values)[:6]}",
                    context="logistic_regression")


def logistic_regression(X: Features, y: ArrayLike, l2: float = 0.0) -> LogisticRegression:
    """Binary logistic regression, F(θ) = (1/N) Σᵢ log(1 + exp(−yᵢ xᵢᵀθ)) + (λ/2) ‖θ‖².

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The features (a SciPy sparse matrix is kept as CSR).
    y : array, N
        The labels, coded {0, 1} or {−1, +1} (0 is read as −1).
    l2 : float, default 0
        λ ≥ 0, the ℓ2 weight (with λ > 0 the minimizer is unique).

    Returns
    -------
    LogisticRegression
        The problem, with L = λ_max(XᵀX)/(4N) + λ (tight at θ = 0), ``predict`` and ``accuracy``.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> problem = sl.logistic_regression(X, np.array([0, 1, 1, 0]), l2=0.1)
    >>> bool(np.isclose(problem.loss(np.zeros(2)), np.log(2)))
    True
    >>> round(problem.lipschitz(), 4)
    0.2875
    """
    return LogisticRegression(X, y, l2)
