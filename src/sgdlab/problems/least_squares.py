"""Least squares in the mean form F(θ) = (1/2N) ‖Xθ − y‖² = (1/N) Σᵢ ½ (xᵢᵀθ − yᵢ)².

∇F(θ) = Xᵀ(Xθ − y)/N and ∇²F = XᵀX/N, so L = λ_max(XᵀX)/N and μ = λ_min(XᵀX)/N.
The minimizers are those of ½‖Xθ − y‖²: θ* = X⁺y, the minimum-norm one when XᵀX is singular.
"""

from __future__ import annotations

from functools import cached_property

import jax.numpy as jnp
import numpy as np

from sgdlab.problems.linear import LinearModel, design_matrix, targets


def squared_error(theta, example):
    """fᵢ(θ) = ½ (xᵢᵀθ − yᵢ)²."""
    x, y = example
    return 0.5 * (jnp.dot(x, theta) - y) ** 2


class LeastSquares(LinearModel):
    """F(θ) = (1/2N) ‖Xθ − y‖², with its closed-form solution, optimal value and L."""

    def __init__(self, X, y):
        X = design_matrix(X)
        y = targets(y, X, dtype=X.dtype)
        super().__init__(squared_error, X, y, np.zeros(X.shape[1], dtype=X.dtype))
        self.y = y

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
    def rank(self) -> int:
        """The numerical rank of X (singular values above σ_max · max(N, p) · eps)."""
        return self._decomposition[3]

    def unconstrained_solution(self) -> np.ndarray:
        """θ* = X⁺y = V Σ⁻¹ Uᵀ y over the nonzero singular values.

        When X has full column rank this is the unique minimizer. When XᵀX is singular every
        θ* + v with Xv = 0 is a minimizer; this returns the one of least norm, the limit that
        gradient descent from θ⁰ = 0 reaches.
        """
        s, Vt, projected, rank = self._decomposition
        return (Vt[:rank].T @ (projected[:rank] / s[:rank])).astype(self.X.dtype)

    def unconstrained_optimal_value(self) -> float:
        """p* = F(θ*) = (1/2N) ‖Xθ* − y‖², the mean squared residual of the best fit, halved."""
        return self._optimal_value

    @cached_property
    def _optimal_value(self) -> float:
        residual = np.asarray(self.X, np.float64) @ self.unconstrained_solution().astype(np.float64) - self.y
        return float(0.5 * np.mean(residual**2))

    def strong_convexity(self) -> float:
        """μ = λ_min(XᵀX)/N (0 when X has fewer rows than columns or is rank deficient)."""
        s = self._decomposition[0]
        return float(s[-1] ** 2 / self.n) if self.rank == self.n_features else 0.0


def least_squares(X, y) -> LeastSquares:
    """F(θ) = (1/2N) ‖Xθ − y‖² on a design matrix X (N × p) and targets y (N,)."""
    return LeastSquares(X, y)
