"""Multinomial (softmax) regression with K classes and weights W (p × K):

fᵢ(W) = log Σₖ exp(xᵢᵀWₖ) − xᵢᵀW_{yᵢ} + (λ/2) ‖W‖²_F,   F(W) = (1/N) Σᵢ fᵢ(W).

Labels are any K distinct values; ``classes`` lists them in sorted order and class k is column k
of W. The Hessian of the cross-entropy in the logits is diag(p) − ppᵀ ⪯ ½ I, so
L = λ_max(XᵀX)/(2N) + λ bounds the curvature everywhere.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.linear import (
    LinearClassifier,
    class_labels,
    correct_fraction,
    data_parts,
    design_matrix,
    known_classes,
)
from sgdlab.problems.registry import FAMILIES
from sgdlab.problems.rows import products
from sgdlab.problems.weights import example_weights


class SoftmaxRegression(LinearClassifier):
    """Softmax regression over the classes found in y, with an optional ℓ2 weight ``l2``."""

    native_loss = "softmax"
    convex_terms = True

    curvature = 0.5

    def __init__(self, X, y, l2: float = 0.0, classes=None, sample_weight=None, class_weight=None):
        X = design_matrix(X)
        y = class_labels(y, X)
        self.classes = known_classes(y, classes, "softmax_regression")
        labels = np.searchsorted(self.classes, y)
        W0 = np.zeros((X.shape[1], self.classes.size), dtype=X.dtype)
        weights = example_weights(X.shape[0], sample_weight, class_weight, y)
        self.class_weight = class_weight
        super().__init__(X, labels, W0, l2=validation.nonnegative_float("l2", l2), weights=weights)

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = logsumexp(m) − m_y for the logits m = xᵀW (one row per example)."""
        picked = jnp.take_along_axis(margins, y[..., None], axis=-1)[..., 0]
        return jax.nn.logsumexp(margins, axis=-1) - picked

    def with_data(self, X, y) -> SoftmaxRegression:
        """The same model (classes, ℓ2 weight, dtype) on other rows, unweighted; their labels must be among the
        classes."""
        return SoftmaxRegression(self.rows_like(X), y, self.l2, classes=self.classes)

    def heldout_mismatch(self, other) -> str | None:
        """LinearModel's reasons, and another set of classes."""
        reason = super().heldout_mismatch(other)
        if reason is None and not np.array_equal(other.classes, self.classes):
            return f"the classes {other.classes.tolist()[:10]}, not {self.classes.tolist()[:10]}"
        return reason

    def data_accuracy(self, params, data) -> jax.Array:
        """The fraction of rows whose largest logit xᵢᵀWₖ is their class's (ties: the first, as :meth:`predict`)."""
        rows, y, _ = data_parts(data)
        return correct_fraction(jnp.argmax(products(rows, params), axis=-1) == y, params.dtype)

    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return self.classes.size

    def predict(self, params, X) -> np.ndarray:
        """The class (from ``classes``) with the largest logit xᵀWₖ for each row of X."""
        return self.classes[np.argmax(design_matrix(X) @ np.asarray(params), axis=1)]


@FAMILIES.register(name="softmax", data="digits", classifier=True)
def softmax_regression(X: Features, y: ArrayLike, l2: float = 0.0, sample_weight: ArrayLike | None = None,
                       class_weight: str | dict | None = None) -> SoftmaxRegression:
    """Softmax (multinomial logistic) regression, fᵢ(W) = log Σₖ exp(xᵢᵀWₖ) − xᵢᵀW_{yᵢ} + (λ/2) ‖W‖²_F; with weights
    wᵢ the losses are weighed, F(W) = Σᵢ wᵢ ℓᵢ(W) / Σᵢ wᵢ + (λ/2) ‖W‖²_F (see :mod:`sgdlab.problems.weights`).

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The features (a SciPy sparse matrix is kept as CSR).
    y : array, N
        The labels: any K ≥ 2 distinct values; ``classes`` lists them sorted, class k is column k of W.
    l2 : float, default 0
        λ ≥ 0, the ℓ2 weight.
    sample_weight : array of N nonnegative numbers, optional
        sᵢ, as scikit-learn's ``fit(sample_weight=)``: wᵢ = sᵢ (times the class weight).
    class_weight : "balanced" or dict, optional
        A factor per class: "balanced" gives N / (K · #class), a dict maps a label to its weight (1 if absent).

    Returns
    -------
    SoftmaxRegression
        The problem (W is p × K), with L = λ_max(XᵀX)/(2N) + λ (Xᵀ diag(N wᵢ/Σw) X weighted), ``predict`` and
        ``accuracy`` (unweighted).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> problem = sl.softmax_regression(X, np.array(["a", "b", "c", "a"]))
    >>> problem.classes.tolist(), problem.params0.shape
    (['a', 'b', 'c'], (2, 3))
    >>> bool(np.isclose(problem.loss(np.zeros((2, 3))), np.log(3)))
    True
    """
    return SoftmaxRegression(X, y, l2, sample_weight=sample_weight, class_weight=class_weight)
