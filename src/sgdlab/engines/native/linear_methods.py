"""Native momentum and iterate averaging for the built-in linear models (dense or CSR rows, any K).

Step t with batch I (b real rows), G = Σ_{i ∈ I} xᵢ dᵢᵀ and dᵢ = ∂ℓ(mᵢ, yᵢ)/∂m as in
:mod:`sgdlab.engines.native.linear_sgd`, and W in the rows' layout:

* momentum (heavy ball; Nesterov): g = G/b + λW, v ← βv + g, W ← W − α v (W ← W − α (g + βv)), the
  method's update in :mod:`sgdlab.methods.momentum`; W is kept whole (no scale: the velocity touches every
  weight each step anyway). Large dense batches sum G in parts on two threads (:mod:`.parted`).
* averaging (Polyak–Ruppert from step ``first``): W = s·V as in plain SGD, and the sum of the averaged
  iterates Σ = Σ_{r} W_r kept as U + c·V: a step that adds Δ to V subtracts c·Δ from U (the batch's rows
  only), and counting the new iterate adds s to c, so a step costs what a plain step costs, twice on the
  rows. When s is folded into V, c·V is folded into U first. θ̄ = Σ / count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native.linear_sgd import (
    PREFETCH_AHEAD_ROWS,
    PREFETCH_AHEAD_STEPS,
    _ask_ahead,
    _is_dense,
    batch_derivatives,
    class_count,
    fold_scale,
    row_add_outer,
    row_derivatives,
    row_dot,
    scalar_derivative,
)

#: An averaged run folds its scale into V (and c·V into U) once |s| falls below this, not RESCALE_BELOW as plain
#: SGD: V = θ/s grows as s shrinks, and U, which holds −c·V's past, with it, so Σ = U + c·V would cancel
#: log₁₀(1/s) digits. Halving s takes ln 2/(αλ) steps, so the fold's O(p) pass stays rare.
AVERAGED_RESCALE_BELOW = 0.5


@numba.njit(cache=True, inline="always", error_model="numpy")
def batch_gradient_sum(loss, rows, y, V, scale, row, keep, planned, first, margins, derivatives, G):
    """G = Σ xᵢ dᵢᵀ over the batch's real rows at W = scale·V; returns how many there are."""
    G[:] = 0.0
    count = 0
    for b in range(row.shape[0]):
        _ask_ahead(rows, y, planned, first + b, PREFETCH_AHEAD_ROWS)
        if keep[b]:
            row_derivatives(loss, rows, y, row[b], V, scale, margins, derivatives)
            row_add_outer(rows, row[b], G, 1.0, derivatives)
            count += 1
    return count


@numba.njit(cache=True, inline="always", error_model="numpy")
def momentum_entry(weight, velocity, total, count, alpha, l2, beta, nesterov):
    """One weight's momentum step from its gradient sum ``total`` over b = ``count`` rows: g = total/b + λw,
    v ← βv + g, then w ← w − αv (heavy ball) or w − α(g + βv) (Nesterov); returns (w, v)."""
    gradient = total / count + l2 * weight
    velocity = beta * velocity + gradient
    return weight - (alpha * (gradient + beta * velocity) if nesterov else alpha * velocity), velocity


@numba.njit(cache=True, inline="always", error_model="numpy")
def momentum_update(W, velocity, G, count, alpha, l2, beta, nesterov):
    """:func:`momentum_entry` for every weight of W (and its velocity) from the batch's gradient sum G."""
    flat_W, flat_v, flat_G = W.reshape(-1), velocity.reshape(-1), G.reshape(-1)
    for j in range(flat_W.size):
        flat_W[j], flat_v[j] = momentum_entry(flat_W[j], flat_v[j], flat_G[j], count, alpha, l2, beta, nesterov)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def momentum_epoch(loss, rows, y, W, velocity, indices, mask, alphas, l2, beta, nesterov):
    """The plan's steps with momentum on W and its velocity (both in the rows' layout), in place."""
    steps, width = indices.shape
    K = class_count(rows, W)
    margins, derivatives, G = np.empty(K), np.empty(K), np.zeros_like(W)
    planned = indices.reshape(-1)
    for t in range(steps):
        count = batch_gradient_sum(loss, rows, y, W, 1.0, indices[t], mask[t], planned, t * width, margins,
                                   derivatives, G)
        momentum_update(W, velocity, G, count, alphas[t], l2, beta, nesterov)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def momentum_lanes(loss, rows, y, Ws, velocities, indices, masks, alphas, l2, beta, nesterov, lanes):
    """:func:`momentum_epoch` for each lane r in ``lanes``."""
    for r in lanes:
        momentum_epoch(loss, rows, y, Ws[r], velocities[r], indices[r], masks[r], alphas[r], l2, beta, nesterov)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def momentum_epochs_lanes(loss, rows, y, Ws, velocities, indices, masks, alphas, l2, beta, nesterov, lanes,
                          epoch_steps, single):
    """Several epochs of each lane r in ``lanes`` in one call, their plans one after the other (``epoch_steps``
    steps an epoch): :func:`momentum_epoch` on each epoch's steps, then W rounded to float32 when θ is (``single``),
    as θ is handed from one call of :func:`momentum_lanes` to the next (the velocity stays float64 either way)."""
    for r in lanes:
        for first in range(0, indices.shape[1], epoch_steps):
            end = first + epoch_steps
            momentum_epoch(loss, rows, y, Ws[r], velocities[r], indices[r, first:end], masks[r, first:end],
                           alphas[r, first:end], l2, beta, nesterov)
            fold_scale(Ws[r].reshape(-1), 1.0, single)


def row_axpy_pair(rows, i, v, u, coefficient, weight):
    """v += coefficient · xᵢ and u −= weight · coefficient · xᵢ, in one pass over row i's (nonzero) entries."""


@overload(row_axpy_pair, inline="always")
def _row_axpy_pair(rows, i, v, u, coefficient, weight):
    if _is_dense(rows):
        def dense(rows, i, v, u, coefficient, weight):
            other = -weight * coefficient
            for j in range(rows.shape[1]):
                v[j] += coefficient * rows[i, j]
                u[j] += other * rows[i, j]
        return dense

    def csr(rows, i, v, u, coefficient, weight):
        data, indices, indptr = rows
        other = -weight * coefficient
        for position in range(indptr[i], indptr[i + 1]):
            v[indices[position]] += coefficient * data[position]
            u[indices[position]] += other * data[position]
    return csr


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def averaged_epoch(loss, rows, y, V, scale, U, weight, indices, mask, alphas, l2, k0, first):
    """The plan's steps of plain SGD on W = scale·V with the sum of the iterates after step ``first`` kept as
    U + weight·V (all in the rows' layout, in place); returns (scale, weight)."""
    steps, width = indices.shape
    K = class_count(rows, V)
    margins, derivatives = np.empty(K), np.empty((width, K))
    planned = indices.reshape(-1)
    for t in range(steps):
        count, total = batch_derivatives(loss, rows, y, V, scale, indices[t], mask[t], planned, t * width, margins,
                                         derivatives)
        scale *= 1.0 - alphas[t] * l2 * (total / count)   # the penalty weighted as the terms (× their mean weight)
        if abs(scale) < AVERAGED_RESCALE_BELOW:
            scale, weight = folded_average(V, U, scale, weight)
        factor = -alphas[t] / (count * scale)
        count = 0
        for b in range(width):
            if mask[t, b]:
                i = indices[t, b]
                if K == 1:   # V and U in one pass over the row
                    row_axpy_pair(rows, i, V.reshape(-1), U.reshape(-1), factor * derivatives[count, 0], weight)
                else:
                    row_add_outer(rows, i, V, factor, derivatives[count])
                    row_add_outer(rows, i, U, -weight * factor, derivatives[count])
                count += 1
        if k0 + t + 1 > first:
            weight += scale
    return scale, weight


@numba.njit(cache=True, error_model="numpy")   # a call, not inlined: array code in a loop's body slows every step
def folded_average(V, U, scale, weight):
    """W = scale·V becomes V and Σ = U + weight·V moves into U (in place); returns the new (scale, weight), (1, 0)."""
    U += weight * V
    V *= scale
    return 1.0, 0.0


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def averaged_single_epoch(loss, rows, y, v, scale, u, weight, order, alphas, l2, k0, first):
    """:func:`averaged_epoch` for one example and one margin a step (B = 1, K = 1): no batch buffers, and the
    rows asked for PREFETCH_AHEAD_STEPS steps ahead, as plain SGD's B = 1 loop. Without an ℓ2 term the scale stays
    1 and is left out of the arithmetic, as there."""
    decays = l2 != 0.0 or scale != 1.0
    for t in range(order.shape[0]):
        _ask_ahead(rows, y, order, t, PREFETCH_AHEAD_STEPS)
        i = order[t]
        dot = row_dot(rows, i, v)
        derivative = scalar_derivative(loss, scale * dot if decays else dot, y[i])
        step = -alphas[t] * derivative
        if decays:
            scale *= 1.0 - alphas[t] * l2
            if abs(scale) < AVERAGED_RESCALE_BELOW:
                scale, weight = folded_average(v, u, scale, weight)
            step /= scale
        row_axpy_pair(rows, i, v, u, step, weight)
        if k0 + t + 1 > first:
            weight += scale
    return scale, weight


@numba.njit(cache=True, nogil=True, error_model="numpy")
def averaged_lanes(loss, rows, y, Vs, scales, Us, weights, indices, masks, alphas, l2, k0, first, lanes):
    """:func:`averaged_epoch` for each lane r in ``lanes`` (scales and weights updated in place)."""
    for r in lanes:
        scales[r], weights[r] = _averaged_lane(loss, rows, y, Vs[r], scales[r], Us[r], weights[r], indices[r],
                                               masks[r], alphas[r], l2, k0, first)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _averaged_lane(loss, rows, y, V, scale, U, weight, indices, mask, alphas, l2, k0, first):
    """One lane's steps: :func:`averaged_single_epoch` for one example and one margin a step, else
    :func:`averaged_epoch`; returns (scale, weight)."""
    if indices.shape[1] == 1 and class_count(rows, V) == 1:
        return averaged_single_epoch(loss, rows, y, V.reshape(-1), scale, U.reshape(-1), weight, indices[:, 0],
                                     alphas, l2, k0, first)
    return averaged_epoch(loss, rows, y, V, scale, U, weight, indices, mask, alphas, l2, k0, first)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def averaged_epochs_lanes(loss, rows, y, Vs, scales, Us, weights, counts, indices, masks, alphas, l2, k0, first,
                          lanes, epoch_steps, single):
    """Several epochs of each lane r in ``lanes`` in one call, their plans one after the other (``epoch_steps``
    steps an epoch, the first at iteration k0), ``counts[r]`` the iterates averaged before them (updated). Between
    two epochs the state is handed over as between two calls of :func:`averaged_lanes` (:func:`_handed_over`)."""
    for r in lanes:
        epochs = indices.shape[1] // epoch_steps
        for e in range(epochs):
            start, at = e * epoch_steps, k0 + e * epoch_steps
            end = start + epoch_steps
            scales[r], weights[r] = _averaged_lane(loss, rows, y, Vs[r], scales[r], Us[r], weights[r],
                                                   indices[r, start:end], masks[r, start:end], alphas[r, start:end],
                                                   l2, at, first)
            counts[r] += max(0, at + epoch_steps - max(first, at))
            if e < epochs - 1:
                _handed_over(Vs[r].reshape(-1), scales[r], Us[r].reshape(-1), weights[r], counts[r], single)
                scales[r], weights[r] = 1.0, 0.0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _handed_over(v, scale, u, weight, count, single):
    """The state as the host hands it from one call to the next: θ̄ = (U + weight·V)/count (θ = scale·V while
    nothing is counted), U ← θ̄ · count, V ← θ in θ's type (float32 when ``single``), in IEEE arithmetic."""
    counted = np.float64(count)
    for j in range(v.size):
        theta = scale * v[j]
        average = (u[j] + weight * v[j]) / counted if count > 0 else theta
        u[j] = average * counted
        v[j] = np.float64(np.float32(theta)) if single else theta
