"""Least squares in the mean form F(θ) = (1/2N) ‖Xθ − y‖² = (1/N) Σᵢ ½ (xᵢᵀθ − yᵢ)².

∇F(θ) = Xᵀ(Xθ − y)/N and ∇²F = XᵀX/N, so L = λ_max(XᵀX)/N and μ = λ_min(XᵀX)/N.
The minimizers are those of ½‖Xθ − y‖²: θ* = X⁺y, the minimum-norm one when XᵀX is singular.
Dense X: from a QR and a small SVD. Sparse X: from LSMR, which touches X only through products.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse.linalg

from sgdlab.problems.linear import DENSE_EIGEN_MAX_FEATURES, LinearModel, design_matrix, small_gram, targets

#: LSMR's relative tolerances (atol, btol) for a sparse θ*: it stops once ‖Xᵀr‖ ≤ SPARSE_TOL ‖X‖ ‖r‖.
SPARSE_TOL = 1e-14


class LeastSquares(LinearModel):
    """F(θ) = (1/2N) ‖Xθ − y‖², with its closed-form solution, optimal value and L."""

    native_loss = "squared"

    def __init__(self, X, y):
        X = design_matrix(X)
        y = targets(y, X, dtype=X.dtype)
        super().__init__(X, y, np.zeros(X.shape[1], dtype=X.dtype))

    @staticmethod
    def margin_losses(margins, y):
        """ℓ(m, y) = ½ (m − y)²."""
        return 0.5 * (margins - y) ** 2

    @cached_property
    def _decomposition(self):
        """(s, Vᵀ, Uᵀy, rank) for X = U diag(s) Vᵀ. For N ≥ p, one QR of [X | y] gives R and Qᵀy
        together (X = QR), and the SVD of the small p × p matrix R = U_R diag(s) Vᵀ gives X's
        singular values and Uᵀy = U_Rᵀ(Qᵀy): several times faster than the SVD of X itself."""
        X, y = np.asarray(self.X, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        p = X.shape[1]
        if X.shape[0] >= p:
            R = np.linalg.qr(np.column_stack([X, y]), mode="r")
            U, s, Vt = np.linalg.svd(R[:p, :p])
            projected = U.T @ R[:p, p]
        else:
            U, s, Vt = np.linalg.svd(X, full_matrices=False)
            projected = U.T @ y
        cutoff = s[0] * max(X.shape) * np.finfo(np.float64).eps
        return s, Vt, projected, int(np.sum(s > cutoff))

    @property
    def rank(self) -> int | None:
        """The numerical rank of X: singular values above σ_max · max(N, p) · eps. For sparse X it is
        read from the eigenvalues of the smaller Gram matrix (None when both N and p exceed
        DENSE_EIGEN_MAX_FEATURES), so singular values below √eps · σ_max are not resolved there."""
        if self.is_sparse:
            return None if self._gram_spectrum is None else self._gram_spectrum[1]
        return self._decomposition[3]

    @cached_property
    def _gram_spectrum(self) -> tuple[float, int] | None:
        """(λ_min(XᵀX), rank) from the smaller Gram matrix of a sparse X, or None when both sides are large."""
        if min(self.X.shape) > DENSE_EIGEN_MAX_FEATURES:
            return None
        eigenvalues = np.linalg.eigvalsh(small_gram(self.X.astype(np.float64)))
        cutoff = eigenvalues[-1] * max(self.X.shape) * np.finfo(np.float64).eps
        return float(eigenvalues[0]), int(np.sum(eigenvalues > cutoff))

    def unconstrained_solution(self) -> np.ndarray:
        """θ* = X⁺y = V Σ⁻¹ Uᵀ y over the nonzero singular values.

        When X has full column rank this is the unique minimizer. When XᵀX is singular every
        θ* + v with Xv = 0 is a minimizer; this returns the one of least norm, the limit that
        gradient descent from θ⁰ = 0 reaches.
        """
        if self.is_sparse:
            return self._sparse_solution
        s, Vt, projected, rank = self._decomposition
        return (Vt[:rank].T @ (projected[:rank] / s[:rank])).astype(self.X.dtype)

    @cached_property
    def _sparse_solution(self) -> np.ndarray:
        """θ* for sparse X by LSMR started at 0: its iterates stay in the row space of X, so it
        converges to the minimum-norm minimizer X⁺y (no limit on cond(X); up to 20·min(N, p) steps)."""
        solution = scipy.sparse.linalg.lsmr(self.X, self.y.astype(np.float64), atol=SPARSE_TOL, btol=SPARSE_TOL,
                                            conlim=0, maxiter=20 * min(self.X.shape))[0]
        return solution.astype(self.X.dtype)

    def unconstrained_optimal_value(self) -> float:
        """p* = F(θ*) = (1/2N) ‖Xθ* − y‖², the mean squared residual of the best fit, halved."""
        return self._optimal_value

    @cached_property
    def _optimal_value(self) -> float:
        X = self.X.astype(np.float64)
        residual = X @ self.unconstrained_solution().astype(np.float64) - self.y
        return float(0.5 * np.mean(residual**2))

    def strong_convexity(self) -> float:
        """μ = λ_min(XᵀX)/N (0 when X has fewer rows than columns or is rank deficient; None when X is
        sparse with N and p both above DENSE_EIGEN_MAX_FEATURES)."""
        if self.rank is None:
            return None
        if self.rank < self.n_features:
            return 0.0
        smallest = self._gram_spectrum[0] if self.is_sparse else self._decomposition[0][-1] ** 2
        return float(smallest / self.n)


def least_squares(X, y) -> LeastSquares:
    """F(θ) = (1/2N) ‖Xθ − y‖² on a design matrix X (N × p) and targets y (N,)."""
    return LeastSquares(X, y)
