"""Gradient descent's native step for the built-in linear models of one margin on CSR rows.

fᵢ(θ) = ℓ(xᵢᵀθ, yᵢ) + (λ/2)‖θ‖² (least squares, logistic regression), θ = s·v (the scale s carries the
ℓ2 shrink, as in :mod:`sgdlab.engines.native.linear_sgd`). A step is

    m = s·Xv,   dᵢ = ℓ′(mᵢ, yᵢ),   s ← (1 − αλ) s,   v ← v − (α / (N s)) Xᵀd,

the minibatch loop's step on the batch of all N rows, computed as SciPy's two sparse matrix–vector products
and a vectorized derivative: a sparse product in SciPy's compiled loop runs about twice as fast as the same
loop compiled by Numba here (0.41 against 0.8 ms on w8a; benchmarks/NOTES.md), and a step of gradient descent
is nothing but the two products. Xᵀd is taken from a CSR copy of Xᵀ (rows gathered, 0.28 ms on w8a) rather
than scattered through X's rows (0.51 ms): the price is a second copy of X's nonzeros.
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native.linear_sgd import RESCALE_BELOW, scalar_derivative


@numba.njit(cache=True, nogil=True, error_model="numpy")
def derivatives(loss: int, margins: np.ndarray, scale: float, y: np.ndarray) -> np.ndarray:
    """ℓ′(s·mᵢ, yᵢ) for every row, in place of mᵢ: s·m − y (squared error) or −y σ(−y s·m) (logistic, y = ±1,
    without overflow), the minibatch loop's derivative (linear_sgd.scalar_derivative) in one pass."""
    for i in range(margins.shape[0]):
        margins[i] = scalar_derivative(loss, scale * margins[i], y[i])
    return margins


def gd_steps(loss: int, X, XT, y: np.ndarray, v: np.ndarray, scale: float, alphas: np.ndarray, l2: float) -> float:
    """Gradient descent's steps with step sizes ``alphas`` on θ = scale · v (v updated in place), X a CSR matrix and
    XT its transpose as CSR; returns the scale (folded into v, and reset to 1, once it falls below RESCALE_BELOW)."""
    n = y.shape[0]
    for alpha in alphas:
        gradient_part = XT @ derivatives(loss, X @ v, scale, y)
        scale *= 1.0 - alpha * l2
        if abs(scale) < RESCALE_BELOW:
            v *= scale
            scale = 1.0
        v -= (alpha / (n * scale)) * gradient_part
    return scale
