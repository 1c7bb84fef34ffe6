"""Robust regression: F(θ) = (1/N) Σᵢ ρ(xᵢᵀθ − yᵢ) with a smooth, bounded-influence, non-convex loss ρ.

With scale c > 0 and residual r:

* Cauchy (Lorentzian): ρ(r) = (c²/2) log(1 + r²/c²), ρ′(r) = r/(1 + r²/c²),
  ρ″(r) = (1 − r²/c²)/(1 + r²/c²)² ∈ [−1/8, 1];
* Geman–McClure: ρ(r) = (c²/2) r²/(c² + r²), ρ′(r) = c⁴ r/(c² + r²)²,
  ρ″(r) = c⁴ (c² − 3r²)/(c² + r²)³ ∈ [−1/4, 1].

Both are ½r² near 0, so |ρ″| ≤ ρ″(0) = 1: ∇²fᵢ = ρ″(rᵢ) xᵢxᵢᵀ has ‖∇²fᵢ‖ ≤ ‖xᵢ‖², attained where rᵢ = 0, so
Lᵢ = ‖xᵢ‖² exactly, and L = λ_max(XᵀX)/N bounds F's (attained only where every residual vanishes). Both are
nonnegative with inf ρ = 0, so every fᵢ is bounded below by 0 (reached where xᵢᵀθ = yᵢ) and F_low = 0. Neither is
convex (ρ″ < 0 for |r| > c, resp. > c/√3): no θ*, p* or μ is known, and the theorems that apply are those for
smooth non-convex F (:mod:`sgdlab.theory.nonconvex`).
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab._helpers.lazy import jnp
from sgdlab.problems.linear import LinearModel, design_matrix, targets
from sgdlab.problems.registry import FAMILIES

#: The losses, by name: ρ(r) for scale c.
LOSSES = {
    "cauchy": lambda r, c: 0.5 * c**2 * jnp.log1p((r / c) ** 2),
    "geman_mcclure": lambda r, c: 0.5 * c**2 * r**2 / (c**2 + r**2),
}


class RobustRegression(LinearModel):
    """F(θ) = (1/N) Σᵢ ρ(xᵢᵀθ − yᵢ) for a smooth non-convex ρ (see the module docstring)."""

    #: sup |ρ″| = ρ″(0) = 1 for both losses (declared beside margin_losses: see knows_its_losses).
    curvature = 1.0
    exact_lipschitz = False
    #: b with fᵢ ≥ b for every i (declared per class): ρ ≥ 0, the non-convex SGD theorem's F_low.
    term_lower_bound = 0.0

    def __init__(self, X, y, loss: str = "cauchy", scale: float = 1.0):
        if loss not in LOSSES:
            validation.fail("loss", f"one of {', '.join(LOSSES)}", validation.shown(loss))
        self.loss_name, self.scale_c = loss, validation.positive_float("scale", scale)
        X = design_matrix(X)
        super().__init__(X, targets(y, X, dtype=X.dtype), jnp.zeros(X.shape[1], dtype=X.dtype))

    def hyperparameters(self) -> dict:
        """The loss's name and its scale c."""
        return {"loss": self.loss_name, "scale": self.scale_c}

    def margin_losses(self, margins, y):   # type: ignore[override]   # the loss depends on the instance's c
        """ρ(m − y) for the problem's loss and scale."""
        return LOSSES[self.loss_name](margins - y, jnp.asarray(self.scale_c, margins.dtype))

    def with_data(self, X, y) -> RobustRegression:
        """The same loss and scale on other rows (X, y), e.g. held-out data."""
        return RobustRegression(self.rows_like(X), y, self.loss_name, self.scale_c)

    def solution(self):
        """None: a non-convex F has no minimizer known in closed form."""
        return None

    def optimal_value(self) -> float | None:
        return None

    def supremum(self) -> float | None:
        """None: ρ is bounded (Geman–McClure) or grows like log r² (Cauchy); no value is promised."""
        return None

    def lower_bound(self) -> float:
        """0 = (1/N) Σᵢ inf fᵢ: ρ ≥ 0 with ρ(0) = 0."""
        return 0.0


@FAMILIES.register(data="diabetes", classifier=False)
def robust_regression(X: Features, y: ArrayLike, loss: str = "cauchy", scale: float = 1.0) -> RobustRegression:
    """F(θ) = (1/N) Σᵢ ρ(xᵢᵀθ − yᵢ), regression with a smooth loss whose influence ρ′ vanishes for large residuals:
    smooth and non-convex, with exact per-example constants Lᵢ = ‖xᵢ‖² (see :mod:`sgdlab.problems.robust`).

    Parameters
    ----------
    X : array or sparse matrix, N × p
        The design matrix.
    y : array, N
        The targets.
    loss : {"cauchy", "geman_mcclure"}, default "cauchy"
        ρ: Cauchy's (c²/2) log(1 + r²/c²), or Geman–McClure's (c²/2) r²/(c² + r²).
    scale : float, default 1.0
        c > 0: residuals well below c count as in least squares, those well above it hardly at all.

    Returns
    -------
    RobustRegression
        The problem, θ⁰ = 0, with ``lipschitz_each()`` Lᵢ = ‖xᵢ‖², ``lipschitz()`` L ≤ λ_max(XᵀX)/N and
        ``lower_bound()`` 0; no θ*, p* or μ.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.robust_regression(X, np.array([1.0, 2.0, 30.0]), loss="cauchy", scale=1.0)
    >>> problem.lipschitz_each().tolist(), problem.solution() is None
    ([1.0, 4.0, 2.0], True)
    >>> float(problem.loss(np.array([1.0, 1.0]))) == float(np.log1p(28.0**2) / 6)   # one outlier, r = 28
    True
    """
    return RobustRegression(X, y, loss, scale)
