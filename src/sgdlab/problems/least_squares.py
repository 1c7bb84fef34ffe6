"""Least squares in the mean form F(θ) = (1/2N) ‖Xθ − y‖² = (1/N) Σᵢ ½ (xᵢᵀθ − yᵢ)².

∇F(θ) = Xᵀ(Xθ − y)/N and ∇²F = XᵀX/N, so L = λ_max(XᵀX)/N and μ = λ_min(XᵀX)/N.
The minimizers are those of ½‖Xθ − y‖²: θ* = X⁺y, the minimum-norm one when XᵀX is singular.
Well-conditioned X: from the normal equations, refined; else a QR and a small SVD (dense X) or LSMR
(sparse X, which it touches only through products).
"""

from __future__ import annotations

from functools import cached_property
from typing import cast

import numpy as np
import scipy.sparse.linalg
from numpy.typing import ArrayLike

from sgdlab._helpers.aliases import Features
from sgdlab.problems.linear import LinearModel, design_matrix, targets
from sgdlab.problems.registry import FAMILIES
from sgdlab.problems.weights import example_weights, mean_one_scale

#: The normal equations solve for θ* only when λ_min(XᵀX) > GRAM_RCOND · λ_max(XᵀX) (κ(X) < 10⁴).
GRAM_RCOND = 1e-8
#: Steps of iterative refinement after the normal-equations solve.
REFINEMENTS = 2

#: LSMR's relative tolerances (atol, btol) for a sparse θ*: it stops once ‖Xᵀr‖ ≤ SPARSE_TOL ‖X‖ ‖r‖.
SPARSE_TOL = 1e-14


class LeastSquares(LinearModel):
    """F(θ) = (1/2N) ‖Xθ − y‖², with its closed-form solution, optimal value and L."""

    native_loss = "squared"
    exact_lipschitz = True
    #: The squared loss's second derivative in the margin (declared beside margin_losses: see knows_its_losses).
    curvature = 1.0
    #: Each term is convex, and quadratic in θ (declared per class: read by the theory for this class alone).
    convex_terms = True
    quadratic_terms = True
    #: b with fᵢ ≥ b for every i: ½(xᵢᵀθ − yᵢ)² ≥ 0 (declared per class; the non-convex SGD theorem's F_low).
    term_lower_bound = 0.0

    def __init__(self, X, y, sample_weight=None):
        X = design_matrix(X)
        y = targets(y, X, dtype=X.dtype)
        weights = example_weights(X.shape[0], sample_weight)
        if weights is not None:   # the rows scaled by √cᵢ, cᵢ = N wᵢ/Σw (see least_squares)
            root = np.sqrt(mean_one_scale(weights)).astype(X.dtype)
            X, y = (scipy.sparse.diags(root) @ X if scipy.sparse.issparse(X) else root[:, None] * X), root * y
        super().__init__(X, y, np.zeros(X.shape[1], dtype=X.dtype))
        self.sample_weight = None if weights is None else weights.values

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = ½ (m − y)²."""
        return 0.5 * (margins - y) ** 2

    def with_data(self, X, y) -> LeastSquares:
        """The same model (dtype) on other rows (X, y), e.g. held-out data."""
        return LeastSquares(self.rows_like(X), y)

    @cached_property
    def _decomposition(self):
        """(s, Vᵀ, Uᵀy, rank) for X = U diag(s) Vᵀ. For N ≥ p, one QR of [X | y] gives R and Qᵀy
        together (X = QR), and the SVD of the small p × p matrix R = U_R diag(s) Vᵀ gives X's
        singular values and Uᵀy = U_Rᵀ(Qᵀy): several times faster than the SVD of X itself."""
        X, y = np.asarray(self.X, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        p = X.shape[1]
        if X.shape[0] >= p:
            R = cast(np.ndarray, np.linalg.qr(np.column_stack([X, y]), mode="r"))   # mode "r": R alone
            U, s, Vt = np.linalg.svd(R[:p, :p])
            projected = U.T @ R[:p, p]
        else:
            U, s, Vt = np.linalg.svd(X, full_matrices=False)
            projected = U.T @ y
        cutoff = s[0] * max(X.shape) * np.finfo(np.float64).eps
        return s, Vt, projected, int(np.sum(s > cutoff))

    @property
    def rank(self) -> int | None:
        """The numerical rank of X: singular values above σ_max · max(N, p) · eps. Read from the Gram
        matrix's eigenvalues where X is well conditioned or sparse (None when sparse X has N and p both
        above DENSE_EIGEN_MAX_FEATURES; there singular values below √eps · σ_max are not resolved)."""
        if self._well_conditioned:
            return self.n_features
        if not self.is_sparse:
            return self._decomposition[3]
        if self.gram_eigen is None:
            return None
        eigenvalues = self.gram_eigen[0]
        return int(np.sum(eigenvalues > eigenvalues[-1] * max(self.X.shape) * np.finfo(np.float64).eps))

    @property
    def _well_conditioned(self) -> bool:
        """N ≥ p and κ(XᵀX) < 1/GRAM_RCOND: the normal equations then give θ* accurately (refined)."""
        eigen = self.gram_eigen
        return eigen is not None and eigen[1] is not None and eigen[0][0] > GRAM_RCOND * eigen[0][-1]

    @property
    def _gram_eigenvalues(self) -> np.ndarray:
        """The Gram matrix's eigenvalues, where they are computed (X well conditioned, or of known rank)."""
        eigen = self.gram_eigen
        if eigen is None:
            raise RuntimeError("the Gram matrix's eigenvalues are not computed for this X")
        return eigen[0]

    @property
    def _gram_with_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """XᵀX's eigenvalues and eigenvectors, where they are computed (X well conditioned)."""
        eigen = self.gram_eigen
        if eigen is None or eigen[1] is None:
            raise RuntimeError("the Gram matrix's eigenvectors are not computed for this X")
        return eigen[0], eigen[1]

    def unconstrained_solution(self) -> np.ndarray:
        """θ* = X⁺y, the unique minimizer when X has full column rank.

        When XᵀX is singular every θ* + v with Xv = 0 is a minimizer; this returns the one of least
        norm, the limit that gradient descent from θ⁰ = 0 reaches. Computed by the normal equations
        (refined) when XᵀX is well conditioned, else by QR and SVD (dense X) or LSMR (sparse X).
        """
        if self._well_conditioned:
            solution = self._normal_solution
        elif self.is_sparse:
            solution = self._sparse_solution
        else:
            s, Vt, projected, rank = self._decomposition
            solution = Vt[:rank].T @ (projected[:rank] / s[:rank])
        return solution.astype(self.X.dtype)

    @cached_property
    def _normal_solution(self) -> np.ndarray:
        """θ = (XᵀX)⁻¹Xᵀy from the Gram eigendecomposition V Λ Vᵀ, then REFINEMENTS steps of
        θ ← θ + (XᵀX)⁻¹Xᵀ(y − Xθ). Each step shrinks the error by about κ(XᵀX)·eps ≤ 1e-8, so θ ends
        as accurate as a QR solution at a fraction of its cost (two passes over X a step)."""
        eigenvalues, V = self._gram_with_vectors
        X, y = self.X.astype(np.float64, copy=False), np.asarray(self.y, dtype=np.float64)

        def solve(target):
            return V @ ((V.T @ (X.T @ target)) / eigenvalues)

        theta = solve(y)
        for _ in range(REFINEMENTS):
            theta = theta + solve(y - X @ theta)
        return theta

    @cached_property
    def _sparse_solution(self) -> np.ndarray:
        """θ* for sparse X by LSMR started at 0: its iterates stay in the row space of X, so it
        converges to the minimum-norm minimizer X⁺y (no limit on cond(X); up to 20·min(N, p) steps)."""
        return scipy.sparse.linalg.lsmr(self.X, self.y.astype(np.float64), atol=SPARSE_TOL, btol=SPARSE_TOL,
                                        conlim=0, maxiter=20 * min(self.X.shape))[0]

    def unconstrained_optimal_value(self) -> float:
        """p* = F(θ*) = (1/2N) ‖Xθ* − y‖², the mean squared residual of the best fit, halved."""
        return self._optimal_value

    @cached_property
    def _optimal_value(self) -> float:
        X = self.X.astype(np.float64, copy=False)
        residual = X @ self.unconstrained_solution().astype(np.float64) - self.y
        return float(0.5 * np.mean(residual**2))

    def strong_convexity(self) -> float | None:
        """μ = λ_min(XᵀX)/N (0 when X has fewer rows than columns or is rank deficient; None when X is
        sparse with N and p both above DENSE_EIGEN_MAX_FEATURES, and for losses the family does not know)."""
        if self.rank is None or not self.knows_its_losses():
            return None
        if self.rank < self.n_features:
            return 0.0
        dense_route = not (self._well_conditioned or self.is_sparse)
        smallest = self._decomposition[0][-1] ** 2 if dense_route else self._gram_eigenvalues[0]
        return float(smallest / self.n)


    def polyak_lojasiewicz(self) -> float | None:
        """μ_PL = the smallest non-zero eigenvalue of XᵀX/N, for which ‖∇F(θ)‖² ≥ 2μ_PL (F(θ) − p*) at every θ: with
        H = XᵀX/N and e = θ − θ*, ∇F = He and F − p* = ½ eᵀHe, and eᵀH²e ≥ μ_PL eᵀHe (e's part in H's null space
        counts in neither). It equals μ when X has full column rank; rank deficient, μ = 0 while μ_PL > 0. None
        where the rank is not known (sparse X with N and p both large) or the losses are not the family's."""
        rank = self.rank
        if rank is None or rank == 0 or not self.knows_its_losses():
            return None
        if self._well_conditioned:
            return self.strong_convexity()
        if not self.is_sparse:
            return float(self._decomposition[0][rank - 1] ** 2 / self.n)
        return float(self._gram_eigenvalues[-rank] / self.n)


@FAMILIES.register(data="diabetes", classifier=False)
def least_squares(X: Features, y: ArrayLike, sample_weight: ArrayLike | None = None) -> LeastSquares:
    """F(θ) = (1/2N) ‖Xθ − y‖² = (1/N) Σᵢ ½(xᵢᵀθ − yᵢ)², least squares in its mean form; with sample weights
    F(θ) = Σᵢ wᵢ ½(xᵢᵀθ − yᵢ)² / Σᵢ wᵢ.

    Its minimizers are those of ½‖Xθ − y‖²; L = λ_max(XᵀX)/N and μ = λ_min(XᵀX)/N. Weighted, it is least squares
    on the rows scaled by √cᵢ, cᵢ = N wᵢ/Σw (so (1/N) Σᵢ cᵢ ½(xᵢᵀθ − yᵢ)²): θ*, p*, L, μ and the per-example
    Lᵢ = cᵢ‖xᵢ‖² are those of the weighted sum, integer weights give F, ∇F, θ* and p* of the rows repeated, and both
    engines run it as any least squares. ``problem.X`` and ``problem.y`` are the scaled rows;
    ``problem.sample_weight`` the weights.

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The design matrix (finite; a SciPy sparse matrix is kept as CSR, and runs cost its nonzeros).
    y : array, N
        The targets.
    sample_weight : array of N nonnegative numbers, optional
        wᵢ, as scikit-learn's ``fit(sample_weight=)`` (not all 0; a row of weight 0 counts for nothing).

    Returns
    -------
    LeastSquares
        The problem, with ``solution()`` θ* = X⁺y, ``optimal_value()`` p*, ``lipschitz()`` L,
        ``strong_convexity()`` μ and ``lipschitz_max()`` maxᵢ ‖xᵢ‖².

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> problem.solution(), problem.optimal_value()
    (array([1., 1.]), 0.0)
    >>> round(problem.lipschitz(), 6) == round(float(np.linalg.eigvalsh(X.T @ X / 3).max()), 6)
    True
    >>> weighted = sl.least_squares(X, np.array([1.0, 2.0, 3.0]), sample_weight=[1, 1, 2])   # row 2 counts twice
    >>> repeated = sl.least_squares(X[[0, 1, 2, 2]], np.array([1.0, 2.0, 3.0, 3.0]))
    >>> bool(np.allclose(weighted.solution(), repeated.solution())), round(weighted.optimal_value(), 6)
    (True, 0.071429)
    """
    return LeastSquares(X, y, sample_weight)
