"""The native evaluation of the built-in linear models, for the history rows of their native runs.

For θ = s·V (the loop's layout) and rows first, …, last − 1, one pass computes their share of

    F(θ) = (1/N) Σᵢ ℓ(mᵢ, yᵢ)   and   ∇F(θ) = (1/N) Σᵢ xᵢ ℓ′(mᵢ, yᵢ)ᵀ,   mᵢ = s xᵢᵀV,

the data part (the ℓ2 penalty is added once, by the caller), and how many of the rows a classifier gets
right (sign(m) = y for logistic regression, the largest logit at y for softmax). Shares of disjoint row
ranges add up, so ranges run side by side. JAX's evaluation of the same sums on CSR rows goes through a
scatter for ∇F, several times slower on the CPU (benchmarks/NOTES.md); on a small dense problem its call costs
tens of times the arithmetic.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native.linear_sgd import (
    LOGISTIC,
    SOFTMAX,
    class_count,
    row_add_outer,
    row_axpy,
    row_dot,
    row_margins,
    softmax_derivatives,
)


@numba.njit(cache=True, inline="always", error_model="numpy")
def softmax_loss(margins, label):
    """ℓ(m, y) = logsumexp(m) − m_y for the logits m of one example."""
    top = margins.max()
    total = 0.0
    for k in range(margins.size):
        total += math.exp(margins[k] - top)
    return top + math.log(total) - margins[int(label)]


@numba.njit(cache=True, inline="always", error_model="numpy")
def margin_loss_and_derivative(loss, margin, label):
    """(ℓ(m, y), ℓ′(m, y)) of a single-margin family, the logistic pair from one exponential: with z = −y m and
    e = e^{−|z|}, ℓ = max(z, 0) + log(1 + e) and ℓ′ = −y σ(z), σ(z) = 1/(1 + e) for z ≥ 0, else e/(1 + e)."""
    if loss == LOGISTIC:
        z = -label * margin
        e = math.exp(-abs(z))
        sigma = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
        return max(z, 0.0) + math.log1p(e), -label * sigma
    return 0.5 * (margin - label) ** 2, margin - label


def linear_evaluation(loss: int, rows, y, V, scale: float, first: int, last: int, n: int, gradient,
                      with_gradient: bool) -> tuple[float, int]:
    """Rows first, …, last − 1's sum of ℓ(mᵢ, yᵢ)/n and count of rows classified correctly, returned; with
    ``with_gradient``, their (1/n) Σᵢ xᵢ ℓ′ᵢᵀ added to ``gradient`` (V's layout, CSR rows: p × K; both C-contiguous).
    One margin: a dot product and one exponential a row; softmax: the K logits and their softmax. The loss picks its
    kernel here, so that a run compiles only its own family's."""
    if loss != SOFTMAX:   # one margin: V and the gradient are p numbers in either layout (1 × p or p × 1)
        return _single_margin(loss, rows, y, V.reshape(-1), scale, first, last, n, gradient.reshape(-1),
                              with_gradient)
    return _softmax(rows, y, V, scale, first, last, n, gradient, with_gradient)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def _softmax(rows, y, V, scale, first, last, n, gradient, with_gradient):
    """:func:`linear_evaluation` for softmax regression, on the weights V (K logits a row)."""
    K = class_count(rows, V)
    margins, derivatives = np.empty(K), np.empty(K)
    total, correct = 0.0, 0
    for i in range(first, last):
        row_margins(rows, i, V, scale, margins)
        total += softmax_loss(margins, y[i])
        correct += np.argmax(margins) == int(y[i])
        if with_gradient:
            softmax_derivatives(margins, y[i], derivatives)
            row_add_outer(rows, i, gradient, 1.0 / n, derivatives)
    return total / n, correct


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def _single_margin(loss, rows, y, v, scale, first, last, n, gradient, with_gradient):
    """:func:`linear_evaluation` for least squares and logistic regression, on the weight vector v."""
    total, correct = 0.0, 0
    for i in range(first, last):
        margin = scale * row_dot(rows, i, v)
        value, derivative = margin_loss_and_derivative(loss, margin, y[i])
        total += value
        correct += loss == LOGISTIC and (margin > 0.0) == (y[i] > 0.0)
        if with_gradient:
            row_axpy(rows, i, gradient, derivative / n)
    return total / n, correct
