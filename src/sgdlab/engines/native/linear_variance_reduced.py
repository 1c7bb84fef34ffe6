"""The native variance-reduced loops for the built-in linear models of one margin (least squares, logistic
regression): SAGA, and SVRG with its snapshots every few epochs or at random steps (loopless).

fᵢ(θ) = ℓ(xᵢᵀθ, yᵢ) + (λ/2)‖θ‖², so ∇fᵢ − λθ = ℓ′ᵢ xᵢ and each method's stored gradients are one number an
example, φᵢ (the derivative ℓ′ at the margin it was last computed at), with ḡ = (1/N) Σⱼ φⱼ xⱼ beside it, as
scikit-learn-contrib lightning keeps them. Step t, with batch I (b real entries) and dᵢ = ℓ′(xᵢᵀθ, yᵢ):

    θ ← aₜ θ − αₜ ḡ − (αₜ/b) Σ_{i ∈ I} (dᵢ − φᵢ) xᵢ,   aₜ = 1 − αₜλ.

SAGA then stores the batch's derivatives, ḡ += (dᵢ − φᵢ) xᵢ / N and φᵢ ← dᵢ (an index drawn twice stored once).
SVRG keeps φ and ḡ until its next snapshot, where φᵢ = ℓ′(xᵢᵀθ̃, yᵢ) at the snapshot θ̃: its step
(1/b) Σ (∇fᵢ(θ) − ∇fᵢ(θ̃)) + ∇F(θ̃) is the same θ update, the λθ̃ terms cancelling. A refresh flag of the
method's plan (:meth:`~sgdlab.methods.base.Method.flags`: SAGA's first step, SVRG's snapshots) recomputes every
φᵢ and ḡ at the θ the step starts from. These are the JAX engine's SAGA and SVRG
(:mod:`sgdlab.methods.variance_reduced`) for these models.

On dense rows a step touches all p weights. On CSR rows only the batch's features change other than through the
dense recursion θⱼ ← aₜ θⱼ − αₜ ḡⱼ. SVRG, whose ḡ stays fixed between snapshots, keeps θ as Cₜ (u − ḡ Sₜ)
(:func:`_sparse_snapshot_epoch`). For SAGA, which changes ḡ on the batch's features, a coordinate not in the batch
follows the recursion with ḡⱼ fixed; it is applied lazily, when the coordinate is next read (and at a refresh and
the epoch's end): from step u to v,

    θⱼ(v) = (C_v/C_u) θⱼ(u) − ḡⱼ C_v (S_v − S_u),   C_t = Π_{r<t} a_r,   S_t = Σ_{r<t} α_r / C_{r+1},

so a step costs the batch's nonzeros, not p. Each coordinate keeps 1/C_u and S_u of the step it was last
brought up to date at (p numbers each, which stay in the cache, where arrays over the epoch's steps would
be read at random). The batch's own coordinates stay at step t too: their next catch-up applies step t's
dense part with ḡ as updated by the step, so a SAGA step adds back αₜ(ḡ's change)/aₜ beside its correction
−αₜ c/aₜ (the correction comes after the shrink aₜ). When C_t falls below RESTART_BELOW every
coordinate is brought up to date and the products start again at 1.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from sgdlab.engines.native._llvm.flags import IN_ORDER, REORDER
from sgdlab.engines.native._llvm.prefetch import prefetch
from sgdlab.engines.native.linear_sgd import (
    PREFETCH_AHEAD_STEPS,
    _is_dense,
    fold_scale,
    row_axpy,
    row_dot,
    row_prefetch,
    scalar_derivative,
)

#: The cumulative product C_t of the (1 − αλ) factors restarts at 1 below this.
RESTART_BELOW = 1e-100
#: How many batch entries ahead in the plan a row, its target and its table entry are asked for (the B = 1
#: distance of the SGD loop).
PREFETCH_AHEAD = PREFETCH_AHEAD_STEPS


@numba.njit(cache=True, nogil=True, error_model="numpy")
def start_table(loss, rows, y, w, table, mean):
    """φᵢ = ℓ′(xᵢᵀθ, yᵢ) for every example and ḡ = (1/N) Σ φᵢ xᵢ."""
    n = y.shape[0]
    mean[:] = 0.0
    for i in range(n):
        table[i] = scalar_derivative(loss, row_dot(rows, i, w), y[i])
        row_axpy(rows, i, mean, table[i] / n)


def reduced_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores):
    """One epoch on θ = ``w`` (p), the stored derivatives φ (N) and ḡ (p), all updated in place: φ and ḡ
    recomputed at θ before each step whose ``refreshes`` flag is set, and the batch's derivatives stored after
    each step when ``stores`` (SAGA; SVRG keeps them until its next snapshot)."""


@overload(reduced_epoch)
def _reduced_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores):
    if _is_dense(rows):
        return lambda loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores: _dense_epoch(
            loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores)
    return lambda loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores: _sparse_epoch(
        loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sparse_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores):
    if stores:
        _sparse_saga_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2)
    else:
        _sparse_snapshot_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def reduced_lanes(loss, rows, y, ws, tables, means, indices, masks, refreshes, alphas, l2, lanes, stores):
    """:func:`reduced_epoch` for each lane r in ``lanes`` (θ ws[r], φ tables[r], ḡ means[r], flags refreshes[r])."""
    for r in lanes:
        reduced_epoch(loss, rows, y, ws[r], tables[r], means[r], indices[r], masks[r], refreshes[r], alphas[r], l2,
                      stores)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def reduced_epochs_lanes(loss, rows, y, ws, tables, means, indices, masks, refreshes, alphas, l2, lanes, stores,
                         epoch_steps, single):
    """Several epochs of each lane r in ``lanes`` in one call, their plans and flags one after the other
    (``epoch_steps`` steps an epoch): :func:`reduced_epoch` on each epoch's steps, then θ rounded to float32 when
    it is (``single``), as θ is handed from one call of :func:`reduced_lanes` to the next (φ and ḡ stay float64)."""
    for r in lanes:
        for first in range(0, indices.shape[1], epoch_steps):
            end = first + epoch_steps
            reduced_epoch(loss, rows, y, ws[r], tables[r], means[r], indices[r, first:end], masks[r, first:end],
                          refreshes[r, first:end], alphas[r, first:end], l2, stores)
            fold_scale(ws[r], 1.0, single)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def _dense_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2, stores):
    steps, width = indices.shape
    n = y.shape[0]
    derivatives = np.empty(width)
    for t in range(steps):
        if refreshes[t]:
            start_table(loss, rows, y, w, table, mean)
        count = _derivatives(loss, rows, y, w, indices[t], mask[t], derivatives)
        shrink, alpha = 1.0 - alphas[t] * l2, alphas[t]
        for j in range(w.shape[0]):
            w[j] = shrink * w[j] - alpha * mean[j]
        _correct(rows, w, table, mean, indices[t], mask[t], derivatives, -alpha / count, n, stores)


@numba.njit(cache=True, fastmath=IN_ORDER, nogil=True, error_model="numpy")
def _sparse_saga_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2):
    """SAGA on CSR rows. Two passes over each batch row a step: its coordinates brought up to date while its
    margin is summed; then the row's correction and ḡ's update, the dense part of the step left to the coordinates'
    next catch-up (see the module docstring). A refresh brings every coordinate up to date first."""
    data, features, indptr = rows
    steps, width = indices.shape
    n, p = y.shape[0], w.shape[0]
    derivatives, corrections = np.empty(width), np.empty(width)
    planned = indices.reshape(-1)
    # coordinate j is current at the step where 1/C and S were inverse_at[j] and sum_at[j]; the current step's
    # C, 1/C and S are scalars (kept in registers: in an array, every store to θ would reload them). Bringing a
    # current coordinate up to date again multiplies it by C·(1/C), 1 up to rounding (an index drawn twice)
    inverse_at, sum_at = np.ones(p), np.zeros(p)
    product, inverse, total = 1.0, 1.0, 0.0
    for t in range(steps):
        if refreshes[t]:
            _catch_up_all(w, mean, inverse_at, sum_at, product, total)
            product, inverse, total = 1.0, 1.0, 0.0
            inverse_at[:], sum_at[:] = 1.0, 0.0
            start_table(loss, rows, y, w, table, mean)
        count = 0
        for b in range(width):
            _ask_ahead(rows, y, table, planned, t * width + b)
            if mask[t, b]:
                i = indices[t, b]
                margin = 0.0
                for position in range(indptr[i], indptr[i + 1]):
                    j = features[position]
                    w[j] = product * (inverse_at[j] * w[j] - mean[j] * (total - sum_at[j]))
                    inverse_at[j], sum_at[j] = inverse, total
                    margin += data[position] * w[j]
                derivatives[b] = scalar_derivative(loss, margin, y[i])
                corrections[b] = derivatives[b] - table[i]   # with φᵢ as it was before the step
                count += 1
        shrink, alpha = 1.0 - alphas[t] * l2, alphas[t]
        product *= shrink
        inverse = 1.0 / product
        total += alpha * inverse
        # The batch's coordinates stay current at step t: step t's dense part reaches them at their next catch-up,
        # which uses ḡ after this step's update, so each gets back α(ḡ change)/a now, and its correction −α c
        # (made after the shrink a) as −α c / a.
        shrunk = alpha / shrink
        for b in range(width):
            if mask[t, b]:
                i = indices[t, b]
                change = (derivatives[b] - table[i]) / n   # 0 for an index seen earlier in the batch
                coefficient = shrunk * (change - corrections[b] / count)
                for position in range(indptr[i], indptr[i + 1]):
                    j = features[position]
                    w[j] += coefficient * data[position]
                    mean[j] += change * data[position]
                table[i] = derivatives[b]
        if product < RESTART_BELOW:
            _catch_up_all(w, mean, inverse_at, sum_at, product, total)
            product, inverse, total = 1.0, 1.0, 0.0
            inverse_at[:], sum_at[:] = 1.0, 0.0
    _catch_up_all(w, mean, inverse_at, sum_at, product, total)


@numba.njit(cache=True, fastmath=IN_ORDER, nogil=True, error_model="numpy")
def _sparse_snapshot_epoch(loss, rows, y, w, table, mean, indices, mask, refreshes, alphas, l2):
    """SVRG on CSR rows. With φ and ḡ fixed between snapshots the dense recursion needs no bookkeeping a
    coordinate: θₜ = Cₜ (u − ḡ Sₜ) for one vector u, C_{t+1} = aₜ Cₜ and S_{t+1} = Sₜ + αₜ/C_{t+1}, and a step's
    correction Δ (after its shrink) is u += Δ/C_{t+1}. A step reads its rows' u and ḡ (the margin
    xᵢᵀθ = C (xᵢᵀu − S xᵢᵀḡ)) and writes u, one pass each. At a snapshot, and when C falls below RESTART_BELOW,
    θ is formed and u starts again from it."""
    data, features, indptr = rows
    steps, width = indices.shape
    corrections = np.empty(width)
    planned = indices.reshape(-1)
    u = w.copy()
    product, total = 1.0, 0.0
    for t in range(steps):
        if refreshes[t]:
            _formed(w, u, mean, product, total)
            start_table(loss, rows, y, w, table, mean)
            u[:] = w
            product, total = 1.0, 0.0
        count = 0
        for b in range(width):
            _ask_ahead(rows, y, table, planned, t * width + b)
            if mask[t, b]:
                i = indices[t, b]
                on_u, on_mean = 0.0, 0.0
                for position in range(indptr[i], indptr[i + 1]):
                    j = features[position]
                    on_u += data[position] * u[j]
                    on_mean += data[position] * mean[j]
                derivative = scalar_derivative(loss, product * (on_u - total * on_mean), y[i])
                corrections[b] = derivative - table[i]
                count += 1
        product *= 1.0 - alphas[t] * l2
        total += alphas[t] / product
        factor = -alphas[t] / (count * product)
        for b in range(width):
            if mask[t, b]:
                i = indices[t, b]
                coefficient = factor * corrections[b]
                for position in range(indptr[i], indptr[i + 1]):
                    u[features[position]] += coefficient * data[position]
        if product < RESTART_BELOW:
            _formed(u, u, mean, product, total)
            product, total = 1.0, 0.0
    _formed(w, u, mean, product, total)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _formed(w, u, mean, product, total):
    """θ = C (u − ḡ S) into ``w`` (which may be ``u``)."""
    for j in range(w.shape[0]):
        w[j] = product * (u[j] - mean[j] * total)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _ask_ahead(rows, y, table, planned, position):
    """Prefetch the row, target and table entry PREFETCH_AHEAD places after ``position`` in the plan."""
    ahead = planned[min(position + PREFETCH_AHEAD, planned.size - 1)]
    row_prefetch(rows, ahead)
    prefetch(y, ahead)
    prefetch(table, ahead)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _catch_up_all(w, mean, inverse_at, sum_at, product, total):
    """Every θⱼ brought up to date by the dense recursion, θⱼ ← C (θⱼ/C_u − ḡⱼ (S − S_u)), ḡⱼ fixed meanwhile."""
    for j in range(w.shape[0]):
        w[j] = product * (inverse_at[j] * w[j] - mean[j] * (total - sum_at[j]))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _derivatives(loss, rows, y, w, row, keep, derivatives):
    """dᵢ = ℓ′(xᵢᵀθ, yᵢ) for the batch's real entries (in order); returns how many there are."""
    count = 0
    for b in range(row.shape[0]):
        if keep[b]:
            i = row[b]
            derivatives[count] = scalar_derivative(loss, row_dot(rows, i, w), y[i])
            count += 1
    return count


@numba.njit(cache=True, inline="always", error_model="numpy")
def _correct(rows, w, table, mean, row, keep, derivatives, factor, n, stores):
    """θ += factor · Σ (dᵢ − φᵢ) xᵢ over the batch; then, when ``stores``, ḡ += (dᵢ − φᵢ) xᵢ / N and φᵢ ← dᵢ, entry
    by entry (an index drawn twice adds nothing the second time: its φᵢ is already dᵢ)."""
    count = 0
    for b in range(row.shape[0]):
        if keep[b]:
            i = row[b]
            row_axpy(rows, i, w, factor * (derivatives[count] - table[i]))
            count += 1
    if not stores:
        return
    count = 0
    for b in range(row.shape[0]):
        if keep[b]:
            i = row[b]
            row_axpy(rows, i, mean, (derivatives[count] - table[i]) / n)
            table[i] = derivatives[count]
            count += 1
