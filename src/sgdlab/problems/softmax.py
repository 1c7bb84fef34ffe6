"""Multinomial (softmax) regression with K classes and weights W (p × K):

fᵢ(W) = log Σₖ exp(xᵢᵀWₖ) − xᵢᵀW_{yᵢ} + (λ/2) ‖W‖²_F,   F(W) = (1/N) Σᵢ fᵢ(W).

Labels are any K distinct values; ``classes`` lists them in sorted order and class k is column k
of W. The Hessian of the cross-entropy in the logits is diag(p) − ppᵀ ⪯ ½ I, so
L = λ_max(XᵀX)/(2N) + λ bounds the curvature everywhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab.problems.linear import LinearClassifier, class_labels, design_matrix


class SoftmaxRegression(LinearClassifier):
    """Softmax regression over the classes found in y, with an optional ℓ2 weight ``l2``."""

    native_loss = "softmax"

    curvature = 0.5

    def __init__(self, X, y, l2: float = 0.0):
        X = design_matrix(X)
        y = class_labels(y, X)
        self.classes, labels = np.unique(y, return_inverse=True)
        if self.classes.size < 2:
            validation.fail("y", "labels of at least 2 classes", f"only {self.classes.tolist()}",
                            context="softmax_regression")
        W0 = np.zeros((X.shape[1], self.classes.size), dtype=X.dtype)
        super().__init__(X, labels, W0, l2=validation.nonnegative_float("l2", l2))

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = logsumexp(m) − m_y for the logits m = xᵀW (one row per example)."""
        picked = jnp.take_along_axis(margins, y[..., None], axis=-1)[..., 0]
        return jax.nn.logsumexp(margins, axis=-1) - picked

    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return self.classes.size

    def predict(self, params, X) -> np.ndarray:
        """The class (from ``classes``) with the largest logit xᵀWₖ for each row of X."""
        return self.classes[np.argmax(design_matrix(X) @ np.asarray(params), axis=1)]


def softmax_regression(X: Features, y: ArrayLike, l2: float = 0.0) -> SoftmaxRegression:
    """Softmax (multinomial logistic) regression, fᵢ(W) = log Σₖ exp(xᵢᵀWₖ) − xᵢᵀW_{yᵢ} + (λ/2) ‖W‖²_F.

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The features (a SciPy sparse matrix is kept as CSR).
    y : array, N
        The labels: any K ≥ 2 distinct values; ``classes`` lists them sorted, class k is column k of W.
    l2 : float, default 0
        λ ≥ 0, the ℓ2 weight.

    Returns
    -------
    SoftmaxRegression
        The problem (W is p × K), with L = λ_max(XᵀX)/(2N) + λ, ``predict`` and ``accuracy``.

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
    return SoftmaxRegression(X, y, l2)
