"""What the built-in linear models share: a design matrix X (N × p), targets y, an ℓ2 weight.

Each row xᵢ of X is one example; a model's per-example loss depends on θ only through the margin
mᵢ = xᵢᵀθ (a K-vector xᵢᵀW for softmax): fᵢ(θ) = ℓ(mᵢ, yᵢ) + (λ/2) ‖θ‖². So F, ∇F and every
minibatch gradient need only products of rows with θ, and X may be dense or a scipy.sparse matrix
(kept in CSR form, costs proportional to its nonzeros; see :mod:`sgdlab.problems.rows`).
The curvature is governed by the Gram matrix XᵀX/N, whose largest eigenvalue every L uses.
No intercept is added: append a column of ones to X to fit one.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.finite_sum import FiniteSum, weighted_mean
from sgdlab.problems.rows import batch_products, engine_rows, products
from sgdlab.problems.weights import mean_one_scale, scaled
from sgdlab.samplers import ExampleWeights

#: Above this many features, λ_max(XᵀX) comes from an iterative SVD instead of a dense eigensolver.
DENSE_EIGEN_MAX_FEATURES = 2000


class LinearModel(FiniteSum):
    """A finite sum fᵢ(θ) = ℓ(xᵢᵀθ, yᵢ) + (λ/2) ‖θ‖² over the rows of X (dense or sparse).

    Each family gives its ``margin_losses`` ℓ and bounds its second derivative in the margin by
    ``curvature`` c (1 for squared error, 1/4 for the logistic loss, 1/2 for softmax
    cross-entropy), so ∇²fᵢ ⪯ c xᵢxᵢᵀ + λI and ∇²F ⪯ c XᵀX/N + λI: L = c λ_max(XᵀX)/N + λ and
    Lᵢ = c ‖xᵢ‖² + λ.
    """

    curvature = 1.0
    #: The loss kernel the native loop (sgdlab.engines.select) runs for this model, declared by each family's own
    #: class (read with sgdlab._helpers.declared: a subclass with other margin_losses has none until it says so).
    native_loss: str | None = None
    #: Whether L = c λ_max(XᵀX)/N + λ is F's exact constant (least squares), not a bound (declared per class).
    exact_lipschitz = False
    #: Whether every term is convex (and quadratic) in θ, as each family's own class declares: the theorems need it.
    convex_terms = False
    quadratic_terms = False
    #: The weights wᵢ the problem was built with (None: unweighted), see :mod:`sgdlab.problems.weights`.
    sample_weight: np.ndarray | None = None

    def __init__(self, X, y, params0, l2: float = 0.0, weights: ExampleWeights | None = None):
        self.X, self.y, self.l2 = X, y, l2
        if weights is not None:
            self.sample_weight = weights.values
        #: cᵢ = N wᵢ / Σw, each loss's factor in fᵢ = cᵢ ℓ(xᵢᵀθ, yᵢ) + (λ/2)‖θ‖² (None: every cᵢ = 1).
        self.scale = None if weights is None else mean_one_scale(weights)
        super().__init__(type(self).margin_losses, (X, y) if self.scale is None else (X, y, self.scale), params0)

    @staticmethod
    def margin_losses(margins, y):
        """(ℓ(mᵢ, yᵢ))ᵢ for margins m (N, or N × K) and targets y: the loss without the ℓ2 term."""
        raise NotImplementedError

    def _validated_data(self, data):
        X, y, *scale = data   # validated by the family's constructor
        return (engine_rows(X), jnp.asarray(y), *(jnp.asarray(c, dtype=X.dtype) for c in scale)), X.shape[0]

    def example_losses(self, params, data):
        """fᵢ(θ) = cᵢ ℓ(xᵢᵀθ, yᵢ) + (λ/2) ‖θ‖² for every row of the data (cᵢ = 1 unweighted)."""
        rows, y, scale = data_parts(data)
        return scaled(self.margin_losses(products(rows, params), y), scale) + self.penalty(params)

    def masked_loss(self, params, data, idx, mask):
        """The mean of fᵢ over the batch's real entries, from the products of the batch's rows alone."""
        losses = self.batch_losses(params, data, idx)
        # the penalty weighted as each fᵢ is: times the mean weight, exactly 1 for a True/False mask
        return weighted_mean(losses, mask) + self.penalty(params) * weighted_mean(jnp.ones_like(losses), mask)

    def penalty(self, params):
        """r(θ) = (λ/2) ‖θ‖², shared by every fᵢ."""
        return 0.5 * self.l2 * jnp.sum(params * params)

    def batch_losses(self, params, data, idx):
        """cᵢ ℓ(xᵢᵀθ, yᵢ) for i in ``idx``: fᵢ without the penalty."""
        rows, y, scale = data_parts(data)
        losses = self.margin_losses(batch_products(rows, idx, params), y[idx])
        return scaled(losses, None if scale is None else scale[idx])

    def with_data(self, X, y) -> LinearModel:
        """The same model — family, ℓ2 weight, classes, dtype — on other rows (X, y), e.g. held-out data:
        ``minimize(train, …, heldout={"test": train.with_data(X_test, y_test)})``."""
        raise NotImplementedError

    def rows_like(self, X):
        """X validated as a design matrix in this problem's dtype (held-out rows, :meth:`with_data`)."""
        X = design_matrix(X)
        if X.shape[1] != self.n_features:
            validation.fail("X", f"{self.n_features} columns (the training problem's features)",
                            f"{X.shape[1]} columns", context="with_data")
        return X if X.dtype == self.X.dtype else X.astype(self.X.dtype)

    def heldout_mismatch(self, other) -> str | None:
        """FiniteSum's reasons, and another ℓ2 weight (the penalty is part of the model)."""
        reason = super().heldout_mismatch(other)
        if reason is None and other.l2 != self.l2:
            return f"the ℓ2 weight {other.l2:g}, not {self.l2:g} (build it with .with_data(X, y))"
        return reason

    @property
    def n_features(self) -> int:
        """p, the number of columns of X."""
        return self.X.shape[1]

    @property
    def is_sparse(self) -> bool:
        """True when X is a (CSR) sparse matrix."""
        return scipy.sparse.issparse(self.X)

    @property
    def dtype(self) -> str:
        """The dtype of X, which every run computes in."""
        return np.dtype(self.X.dtype).name

    def native_data(self) -> tuple:
        """(rows, targets) as the native loop takes them: X in its own float dtype, float32 or float64
        (dense C-ordered, or the CSR arrays (data, indices, indptr)), y as float64 numbers."""
        return self._native_data

    @cached_property
    def _native_data(self) -> tuple:
        targets = np.asarray(self.y, dtype=np.float64)
        if self.is_sparse:
            return (self.X.data, self.X.indices, self.X.indptr), targets
        return np.ascontiguousarray(self.X), targets

    @cached_property
    def gram_eigen(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(eigenvalues in ascending order, eigenvectors) of the smaller Gram matrix, XᵀX (p × p, with
        its eigenvectors) or XXᵀ (N × N, eigenvalues only); None when both N and p exceed
        DENSE_EIGEN_MAX_FEATURES. Both share their nonzero eigenvalues, the σᵢ(X)²."""
        if min(self.X.shape) > DENSE_EIGEN_MAX_FEATURES:
            return None
        gram = small_gram(self._curvature_rows())
        if self.X.shape[0] >= self.X.shape[1]:
            return np.linalg.eigh(gram)
        return np.linalg.eigvalsh(gram), None

    @cached_property
    def gram_max_eigenvalue(self) -> float:
        """λ_max(XᵀX)/N, the largest eigenvalue of the (uncentered) second-moment matrix: from the small
        Gram matrix's eigenvalues, or σ_max(X)² by an iterative SVD when both sides of X are large."""
        if self.gram_eigen is not None:
            return float(self.gram_eigen[0][-1]) / self.n
        sigma = scipy.sparse.linalg.svds(self._curvature_rows(), k=1, return_singular_vectors=False)
        return float(sigma[0] ** 2) / self.n

    def _curvature_rows(self):
        """The rows √cᵢ xᵢ in float64, whose Gram matrix Σᵢ cᵢ xᵢxᵢᵀ bounds the weighted curvature (X unweighted). Made
        when asked and not kept: for float32 X it is a copy twice X's size."""
        rows = self.X.astype(np.float64, copy=False)
        if self.scale is None:
            return rows
        root = np.sqrt(self.scale)
        return scipy.sparse.diags(root) @ rows if self.is_sparse else root[:, None] * rows

    @classmethod
    def knows_its_losses(cls) -> bool:
        """Whether the family's constants and closed forms describe this class's losses: the class that defines
        ``margin_losses`` declares their ``curvature`` too. A subclass with other losses knows none of them: its L,
        L_max, Lᵢ, μ, θ*, p* and bounds on F are None (the theory then estimates L by power iteration)."""
        definer = next(klass for klass in cls.__mro__ if "margin_losses" in vars(klass))
        return "curvature" in vars(definer)

    def lipschitz(self) -> float | None:
        """L = c · λ_max(XᵀX)/N + λ (Xᵀ diag(cᵢ) X weighted) (exact for least squares, and for logistic at θ = 0)."""
        return self.curvature * self.gram_max_eigenvalue + self.l2 if self.knows_its_losses() else None

    def lipschitz_max(self) -> float | None:
        """L_max = maxᵢ Lᵢ = c · maxᵢ cᵢ‖xᵢ‖² + λ, the largest per-example constant."""
        each = self.lipschitz_each()
        return None if each is None else float(np.max(each))

    def lipschitz_each(self) -> np.ndarray | None:
        """(Lᵢ)ᵢ = (c cᵢ‖xᵢ‖² + λ)ᵢ (cᵢ = 1 unweighted), a Lipschitz constant of each ∇fᵢ (N numbers): the largest
        eigenvalue of ∇²fᵢ, attained for least squares everywhere, for logistic regression at a zero margin, and for
        softmax where two classes share all the probability equally."""
        return self.curvature * self._weighted_squared_norms + self.l2 if self.knows_its_losses() else None

    def solution(self):
        """θ* where the family knows it for these losses (see :meth:`knows_its_losses`)."""
        return super().solution() if self.knows_its_losses() else None

    def optimal_value(self) -> float | None:
        """p* where the family knows it for these losses (see :meth:`knows_its_losses`)."""
        return super().optimal_value() if self.knows_its_losses() else None

    def supremum(self) -> float | None:
        """+inf: a convex loss that varies along some direction (X ≠ 0 or λ > 0) is unbounded above."""
        nonzero = self.X.count_nonzero() > 0 if self.is_sparse else np.any(self.X != 0)
        return math.inf if self.knows_its_losses() and (self.l2 > 0 or nonzero) else None

    def lower_bound(self) -> float | None:
        """p* where known, else 0: every loss ℓ and the penalty (λ/2)‖θ‖² are nonnegative (None for losses the
        family does not know)."""
        known = super().lower_bound()
        return known if known is not None or not self.knows_its_losses() else 0.0

    @cached_property
    def row_squared_norms(self) -> np.ndarray:
        """(‖xᵢ‖²)ᵢ, in float64 (N numbers)."""
        if self.is_sparse:
            return np.asarray(self.X.multiply(self.X).sum(axis=1), dtype=np.float64).ravel()
        return np.einsum("ij,ij->i", self.X, self.X, dtype=np.float64)

    @property
    def _weighted_squared_norms(self) -> np.ndarray:
        """(cᵢ‖xᵢ‖²)ᵢ: the rows' squared norms times their losses' factors."""
        return self.row_squared_norms if self.scale is None else self.scale * self.row_squared_norms

    @cached_property
    def row_max_squared_norm(self) -> float:
        """maxᵢ ‖xᵢ‖², the largest squared row norm."""
        return float(np.max(self.row_squared_norms))


class LinearClassifier(LinearModel):
    """A linear model whose ``predict(params, X)`` returns class labels."""

    is_classifier = True

    def strong_convexity(self) -> float | None:
        """μ = λ, the ℓ2 weight, when positive: the loss is convex and the penalty λ-strongly convex, so F is
        at least λ-strongly convex (None without a penalty, or for losses the family does not know)."""
        return self.l2 if self.l2 > 0 and self.knows_its_losses() else None

    def predict(self, params, X) -> np.ndarray:
        raise NotImplementedError

    def accuracy(self, params, X, y) -> float:
        """The fraction of rows of X whose predicted label equals y."""
        return float(np.mean(self.predict(params, X) == np.asarray(y)))


def data_parts(data: tuple) -> tuple:
    """(rows, y, (cᵢ)ᵢ or None) of a linear model's data: (X, y) unweighted, (X, y, c) weighted."""
    rows, y, *scale = data
    return rows, y, scale[0] if scale else None


def design_matrix(X):
    """Validate X: a non-empty 2-D array of finite numbers (integers become float64), or a
    scipy.sparse matrix, which stays sparse (see :func:`sparse_design_matrix`)."""
    if scipy.sparse.issparse(X):
        return sparse_design_matrix(X)
    if isinstance(X, jax.Array) and not X.is_fully_addressable:
        validation.fail("X", "held whole in this process (L and θ* need every row); for rows spread over processes "
                        "use sl.finite_sum on sl.distributed.shard_rows(...)", "an array spread over processes",
                        error=TypeError)
    X = validation.finite_array("X", X, ndim=2)
    return moderate("X", X, X)


def moderate(name: str, values, entries: np.ndarray):
    """``values`` when the largest magnitude of its ``entries`` (its stored values) keeps N·x² (a sum of squares
    over the N rows: XᵀX, whose largest eigenvalue gives L, or Σ yᵢ²) 10⁴ times below the largest number of
    its dtype, else an error that says so. The magnitude comes from the entries' max and min: no copy of X."""
    largest = max(float(entries.max(initial=0.0)), -float(entries.min(initial=0.0)))
    rows = values.shape[0]
    limit = float(np.sqrt(np.finfo(values.dtype).max / (1e4 * rows)))
    if largest > limit:
        validation.fail(name, f"scaled to entries of at most {limit:.3g} in magnitude for {rows} rows in "
                        f"{values.dtype} (so that sums of their squares stay finite)", f"max |{name}| = {largest:.3g}")
    return values


def sparse_design_matrix(X) -> scipy.sparse.csr_matrix:
    """Validate a sparse X and return it as a canonical CSR matrix of floats (a copy; other formats are
    converted): sorted, summed duplicates, finite stored values, int32 indices where they fit."""
    if X.ndim != 2 or 0 in X.shape:
        validation.fail("X", "a non-empty 2-D sparse matrix", f"shape {X.shape}")
    for name in ("indices", "indptr", "row", "col"):
        array = getattr(X, name, None)
        if array is not None and not np.issubdtype(np.asarray(array).dtype, np.integer):
            validation.fail(f"X.{name}", "an array of integers", f"dtype {np.asarray(array).dtype}", error=TypeError)
    if np.issubdtype(X.dtype, np.complexfloating) or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        validation.fail("X", "a sparse matrix of real numbers", f"dtype {X.dtype}", error=TypeError)
    X = scipy.sparse.csr_matrix(X, dtype=X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64, copy=True)
    X.sum_duplicates()
    bad = np.flatnonzero(~np.isfinite(X.data))
    if bad.size:
        row = int(np.searchsorted(X.indptr, bad[0], side="right") - 1)
        validation.fail("X", "a sparse matrix of finite stored values (no NaN or inf)",
                        f"{X.data[bad[0]]} at row {row}, column {X.indices[bad[0]]}")
    if max(X.nnz, X.shape[1]) < np.iinfo(np.int32).max:
        X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return moderate("X", X, X.data)


def targets(y, X: np.ndarray, *, dtype=None) -> np.ndarray:
    """Validate y: a 1-D array of finite numbers, one per row of X."""
    y = validation.finite_array("y", y, ndim=1, dtype=dtype)
    validation.same_length(("X", "y"), (X.shape[0], y.shape[0]))
    return moderate("y", y, y)


def class_labels(y, X: np.ndarray) -> np.ndarray:
    """Validate class labels: a 1-D array (numbers or strings), one per row of X, no NaN."""
    y = np.asarray(y)
    if y.ndim != 1:
        validation.fail("y", "a 1-D array of class labels", f"a {y.ndim}-D array of shape {y.shape}")
    validation.same_length(("X", "y"), (X.shape[0], y.shape[0]))
    if np.issubdtype(y.dtype, np.number):
        validation.finite_array("y", y)
    return y


def known_classes(labels: np.ndarray, classes, context: str) -> np.ndarray:
    """The sorted classes of a classifier: those given (every label must be one of them, so that held-out
    data may lack some), else the at least two found in the labels."""
    found = np.unique(labels)
    if classes is None:
        if found.size < 2:
            validation.fail("y", "labels of at least 2 classes", f"only {found.tolist()}", context=context)
        return found
    classes = np.unique(np.asarray(classes))
    outside = np.setdiff1d(found, classes)
    if outside.size:
        validation.fail("y", f"labels among the classes {classes.tolist()[:10]}",
                        f"labels {outside.tolist()[:5]} outside them")
    return classes


def correct_fraction(correct: jax.Array, dtype) -> jax.Array:
    """The fraction of True entries of ``correct`` as count / N, the division scikit-learn's accuracy_score makes,
    so the two agree to the last bit (the barrier keeps XLA from turning ÷ N into × (1/N), one ulp off)."""
    return jnp.sum(correct.astype(dtype)) / jax.lax.optimization_barrier(jnp.asarray(correct.size, dtype))


def small_gram(X) -> np.ndarray:
    """The smaller of XᵀX and XXᵀ as a dense array (they share their nonzero eigenvalues)."""
    small = X.T @ X if X.shape[1] <= X.shape[0] else X @ X.T
    return small.toarray() if scipy.sparse.issparse(small) else small
