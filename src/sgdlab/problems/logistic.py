"""Binary logistic regression, F(θ) = (1/N) Σᵢ log(1 + exp(−yᵢ xᵢᵀθ)) + (λ/2) ‖θ‖², yᵢ ∈ {−1, +1}.

Labels may be given coded {0, 1} or {−1, +1}; 0 is read as −1. The Hessian is
(1/N) Σᵢ σ(mᵢ)(1 − σ(mᵢ)) xᵢxᵢᵀ + λI with σ(m)(1 − σ(m)) ≤ 1/4 (equality at θ = 0), so
L = λ_max(XᵀX)/(4N) + λ. With λ > 0 the minimizer is unique; with λ = 0 and separable data
there is none (F decreases towards 0 along a separating direction).

With λ > 0 and at most MAX_NEWTON_FEATURES features, θ* is found by damped Newton's method in
float64: θ ← θ − t H⁻¹∇F(θ), t halved from 1 until F decreases by at least t·|∇Fᵀ H⁻¹∇F|/4, until
‖∇F(θ)‖ ≤ NEWTON_TOL · max(1, ‖∇F(0)‖). F is λ-strongly convex, so then F(θ) − p* ≤ ‖∇F(θ)‖²/(2λ)
and ‖θ − θ*‖ ≤ ‖∇F(θ)‖/λ: far below what a run can resolve.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.special
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.linear import LinearClassifier, class_labels, correct_fraction, data_parts, design_matrix
from sgdlab.problems.registry import FAMILIES
from sgdlab.problems.rows import products
from sgdlab.problems.weights import example_weights

#: The most features whose p × p Hessian Newton's method forms to find θ* (beyond it θ* is not known here).
MAX_NEWTON_FEATURES = 4000
#: Newton stops when ‖∇F(θ)‖ ≤ NEWTON_TOL · max(1, ‖∇F(0)‖).
NEWTON_TOL = 1e-11
#: Newton steps before giving up (θ* then stays unknown).
MAX_NEWTON_STEPS = 100


class LogisticRegression(LinearClassifier):
    """Binary logistic regression with an optional ℓ2 weight ``l2`` (λ above)."""

    native_loss = "logistic"
    convex_terms = True

    curvature = 0.25

    def __init__(self, X, y, l2: float = 0.0, sample_weight=None, class_weight=None):
        X = design_matrix(X)
        labels = np.asarray(y)   # as given, for the keys of class_weight
        y, self.labels = _signed_labels(class_labels(y, X), X.dtype)
        #: How the labels were coded, e.g. "{0, 1}".
        self.label_coding = "{" + ", ".join(str(label) for label in self.labels) + "}"
        weights = example_weights(X.shape[0], sample_weight, class_weight, labels)
        self.class_weight = class_weight
        super().__init__(X, y, np.zeros(X.shape[1], dtype=X.dtype), l2=validation.nonnegative_float("l2", l2),
                         weights=weights)

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = log(1 + exp(−y m)), computed without overflow."""
        return jnp.logaddexp(0.0, -y * margins)

    def unconstrained_solution(self) -> np.ndarray | None:
        """θ*, the unique minimizer when λ > 0 (by Newton's method, see the module docstring); None when
        λ = 0 (separable data have none), when p > MAX_NEWTON_FEATURES or if Newton did not converge."""
        return None if self._newton_solution is None else self._newton_solution.astype(self.X.dtype)

    def unconstrained_optimal_value(self) -> float | None:
        """p* = F(θ*) when θ* is known (computed in float64), else None."""
        return self._optimal_value

    @cached_property
    def _optimal_value(self) -> float | None:
        if self._newton_solution is None:
            return None
        return _value_and_gradient(*self._float64_data, self.l2, self._newton_solution)[0]

    @cached_property
    def _float64_data(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """(X, y, (cᵢ)ᵢ) in float64."""
        scale = np.ones(self.n) if self.scale is None else self.scale
        return self.X.astype(np.float64, copy=False), np.asarray(self.y, dtype=np.float64), scale

    @cached_property
    def _newton_solution(self) -> np.ndarray | None:
        if self.l2 == 0 or self.n_features > MAX_NEWTON_FEATURES:
            return None
        return _newton(*self._float64_data, self.l2)

    def with_data(self, X, y) -> LogisticRegression:
        """The same model (ℓ2 weight, dtype) on other rows, labels coded {0, 1} or {−1, +1}, unweighted."""
        return LogisticRegression(self.rows_like(X), y, self.l2)

    def data_accuracy(self, params, data) -> jax.Array:
        """The fraction of rows with sign(xᵢᵀθ) = yᵢ (a zero margin predicts −1, as :meth:`predict`)."""
        rows, y, _ = data_parts(data)
        return correct_fraction((products(rows, params) > 0) == (y > 0), params.dtype)

    def predict(self, params, X) -> np.ndarray:
        """The label (in the coding of the training labels) of sign(xᵀθ) for each row of X."""
        positive = np.asarray(design_matrix(X) @ np.asarray(params)) > 0
        low, high = self.labels
        return np.where(positive, high, low)


def _signed_labels(y: np.ndarray, dtype) -> tuple[np.ndarray, tuple]:
    """Map two labels to ±1 — {0, 1} and {−1, 1} as coded, any other two (numbers, or text like LIBSVM's and CSV
    files') in sorted order, the larger one +1 — and give the two labels (low, high)."""
    values = sorted(np.unique(y).tolist())
    if set(values) <= {0, 1} or set(values) <= {-1, 1}:
        low, high = (-1 if -1 in values else 0), 1
    elif len(values) == 2:
        low, high = values
    else:
        validation.fail("y", "labels coded {0, 1}, {-1, 1} or two other values (the larger is the positive class)",
                        f"values {values[:6]}", context="logistic_regression")
    return np.where(y == high, 1, -1).astype(dtype), (low, high)


@FAMILIES.register(name="logistic", data="breast_cancer", classifier=True)
def logistic_regression(X: Features, y: ArrayLike, l2: float = 0.0, sample_weight: ArrayLike | None = None,
                        class_weight: str | dict | None = None) -> LogisticRegression:
    """Binary logistic regression, F(θ) = (1/N) Σᵢ log(1 + exp(−yᵢ xᵢᵀθ)) + (λ/2) ‖θ‖²; with weights wᵢ
    F(θ) = Σᵢ wᵢ log(1 + exp(−yᵢ xᵢᵀθ)) / Σᵢ wᵢ + (λ/2) ‖θ‖² (see :mod:`sgdlab.problems.weights`).

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The features (a SciPy sparse matrix is kept as CSR).
    y : array, N
        The labels, coded {0, 1} or {−1, +1} (0 is read as −1), or any two values a < b (b is the positive class).
    l2 : float, default 0
        λ ≥ 0, the ℓ2 weight (with λ > 0 the minimizer is unique).
    sample_weight : array of N nonnegative numbers, optional
        sᵢ, as scikit-learn's ``fit(sample_weight=)``: wᵢ = sᵢ (times the class weight).
    class_weight : "balanced" or dict, optional
        A factor per class: "balanced" gives N / (2 · #class), a dict maps a label (as given) to its weight.

    Returns
    -------
    LogisticRegression
        The problem, with L = λ_max(XᵀX)/(4N) + λ (tight at θ = 0; Xᵀ diag(N wᵢ/Σw) X weighted), ``predict``
        and ``accuracy`` (the unweighted fraction of correct labels).

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
    return LogisticRegression(X, y, l2, sample_weight, class_weight)


def _value_and_gradient(X, y: np.ndarray, c: np.ndarray, l2: float, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """F(θ) = (1/N) Σᵢ cᵢ log(1 + exp(−mᵢ)) + (λ/2)‖θ‖², mᵢ = yᵢxᵢᵀθ, and ∇F(θ) = −(1/N) Xᵀ(c ⊙ y ⊙ σ(−m)) + λθ,
    in float64."""
    margins = y * (X @ theta)
    value = float(np.mean(c * np.logaddexp(0.0, -margins)) + 0.5 * l2 * theta @ theta)
    return value, -(X.T @ (c * y * scipy.special.expit(-margins))) / len(y) + l2 * theta


def _hessian(X, y: np.ndarray, c: np.ndarray, l2: float, theta: np.ndarray) -> np.ndarray:
    """∇²F(θ) = (1/N) Xᵀ diag(cᵢ σ(mᵢ)σ(−mᵢ)) X + λI, mᵢ = yᵢxᵢᵀθ, as a dense p × p array."""
    margins = y * (X @ theta)
    weights = c * scipy.special.expit(margins) * scipy.special.expit(-margins) / len(y)
    if scipy.sparse.issparse(X):
        curvature = (X.T @ scipy.sparse.diags(weights) @ X).toarray()
    else:
        curvature = X.T @ (weights[:, None] * X)
    return curvature + l2 * np.eye(X.shape[1])


def _newton(X, y: np.ndarray, c: np.ndarray, l2: float) -> np.ndarray | None:
    """θ* by damped Newton's method from θ = 0 (see the module docstring), or None if it did not converge."""
    theta = np.zeros(X.shape[1])
    value, gradient = _value_and_gradient(X, y, c, l2, theta)
    tolerance = NEWTON_TOL * max(1.0, float(np.linalg.norm(gradient)))
    for _ in range(MAX_NEWTON_STEPS):
        if np.linalg.norm(gradient) <= tolerance:
            return theta
        direction = -scipy.linalg.solve(_hessian(X, y, c, l2, theta), gradient, assume_a="pos")
        theta, value, gradient = _backtrack(X, y, c, l2, theta, value, gradient, direction)
    return None


def _backtrack(X, y, c, l2, theta, value, gradient, direction):
    """The step θ + t·d with the largest t in {1, 1/2, …} that decreases F by t·|∇Fᵀd|/4 (up to rounding
    of F), with F and ∇F there."""
    decrease, t = float(gradient @ direction), 1.0
    while True:
        candidate = theta + t * direction
        new_value, new_gradient = _value_and_gradient(X, y, c, l2, candidate)
        if new_value <= value + 0.25 * t * decrease + 1e-14 * abs(value) or t < 1e-12:
            return candidate, new_value, new_gradient
        t /= 2
