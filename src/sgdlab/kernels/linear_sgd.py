"""The native loop: one epoch of minibatch SGD on a built-in linear model, compiled by Numba.

The parameters are W (p × K; K = 1 for least squares and logistic regression) kept as Wᵀ = s·Vt,
a scalar times a matrix, stored transposed (K × p, so each class's weights are contiguous), so that the ℓ2 part of a step, W ← (1 − αλ) W, costs one multiplication
of s instead of a pass over all p·K weights; a step then touches only the features present in
its batch, which is what makes it proportional to the nonzeros on CSR data. Step t of the plan,
with batch I (the row's entries where the mask is True, b = |I| of them), is

    mᵢ = s · xᵢᵀV          (the margins of the batch, all at the same W)
    dᵢ = ∂ℓ(mᵢ, yᵢ)/∂m     (squared: m − y; logistic: −y σ(−y m); softmax: softmax(m) − e_y)
    s ← (1 − αₜλ) s,   V ← V − (αₜ / (b s)) Σᵢ xᵢ dᵢᵀ,

that is W ← W − αₜ ((1/b) Σᵢ xᵢ dᵢᵀ + λW), the JAX engine's step. When |s| falls below
RESCALE_BELOW, s is folded into V (s = 0, from αλ = 1, sets W to 0 exactly).

Rows are a dense C-ordered X, or a CSR matrix given as the tuple (data, indices, indptr); the
functions below are compiled once for each and cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload

#: The loss families, as the kernel's integer switch.
SQUARED, LOGISTIC, SOFTMAX = 0, 1, 2

#: Floating-point freedoms the loop may take: reassociating sums (so dot products vectorize) and fused
#: multiply-adds. Not "fast math" in full: NaN and inf keep their meaning, so divergence is still seen.
REORDER = {"reassoc", "contract"}

#: When the scale s of Wᵀ = s·Vt falls below this in magnitude, it is folded into V.
RESCALE_BELOW = 1e-9


def row_margins(rows, i, Vt, scale, margins, slot):
    """margins[slot, k] = scale · xᵢᵀ Vt[k] for row i of ``rows`` (dense or CSR), every class k."""


def add_row(rows, i, Vt, factor, derivatives, slot):
    """Vt[k, j] += factor · derivatives[slot, k] · xᵢⱼ over the (nonzero) entries j of row i."""


def _is_dense(rows) -> bool:
    return isinstance(rows, numba.types.Array)


@overload(row_margins, inline="always")
def _row_margins(rows, i, Vt, scale, margins, slot):
    if _is_dense(rows):
        def dense(rows, i, Vt, scale, margins, slot):
            for k in range(Vt.shape[0]):
                total = 0.0
                for j in range(rows.shape[1]):
                    total += rows[i, j] * Vt[k, j]
                margins[slot, k] = scale * total
        return dense

    def csr(rows, i, Vt, scale, margins, slot):
        data, indices, indptr = rows
        for k in range(Vt.shape[0]):
            total = 0.0
            for position in range(indptr[i], indptr[i + 1]):
                total += data[position] * Vt[k, indices[position]]
            margins[slot, k] = scale * total
    return csr


@overload(add_row, inline="always")
def _add_row(rows, i, Vt, factor, derivatives, slot):
    if _is_dense(rows):
        def dense(rows, i, Vt, factor, derivatives, slot):
            for k in range(Vt.shape[0]):
                coefficient = factor * derivatives[slot, k]
                for j in range(rows.shape[1]):
                    Vt[k, j] += coefficient * rows[i, j]
        return dense

    def csr(rows, i, Vt, factor, derivatives, slot):
        data, indices, indptr = rows
        for k in range(Vt.shape[0]):
            coefficient = factor * derivatives[slot, k]
            for position in range(indptr[i], indptr[i + 1]):
                Vt[k, indices[position]] += coefficient * data[position]
    return csr


@numba.njit(cache=True)
def margin_derivative(loss, margins, slot, label, derivatives):
    """derivatives[slot] = ∂ℓ/∂m at the margins m = margins[slot] of one example with target ``label``."""
    if loss == SQUARED:
        derivatives[slot, 0] = margins[slot, 0] - label
    elif loss == LOGISTIC:
        z = label * margins[slot, 0]   # −y σ(−y m) = −y / (1 + e^{y m}), evaluated without overflow
        if z <= 0:
            derivatives[slot, 0] = -label / (1.0 + math.exp(z))
        else:
            derivatives[slot, 0] = -label * math.exp(-z) / (1.0 + math.exp(-z))
    else:
        K = margins.shape[1]
        top = margins[slot, 0]
        for k in range(1, K):
            top = max(top, margins[slot, k])
        total = 0.0
        for k in range(K):
            derivatives[slot, k] = math.exp(margins[slot, k] - top)
            total += derivatives[slot, k]
        for k in range(K):
            derivatives[slot, k] /= total
        derivatives[slot, int(label)] -= 1.0


@numba.njit(cache=True, fastmath=REORDER)
def sgd_epoch(loss, rows, y, Vt, scale, indices, mask, alphas, l2):
    """Run the plan's steps (``indices``/``mask``: S × B, ``alphas``: S) on Wᵀ = scale·Vt (K × p)
    in place; return the new scale."""
    steps, width = indices.shape
    K = Vt.shape[0]
    margins = np.empty((width, K))
    derivatives = np.empty((width, K))
    for t in range(steps):
        count = 0
        for b in range(width):
            if mask[t, b]:
                i = indices[t, b]
                row_margins(rows, i, Vt, scale, margins, count)
                margin_derivative(loss, margins, count, y[i], derivatives)
                count += 1
        scale *= 1.0 - alphas[t] * l2
        if abs(scale) < RESCALE_BELOW:
            Vt *= scale
            scale = 1.0
        factor = -alphas[t] / (count * scale)
        count = 0
        for b in range(width):
            if mask[t, b]:
                add_row(rows, indices[t, b], Vt, factor, derivatives, count)
                count += 1
    return scale
