"""GraB's herding inside the native linear loop (:mod:`sgdlab.samplers.grab`, the JAX engine's ``GraB.observe``).

Each step first computes its batch's derivatives dᵢ = ∂ℓ/∂m at the step's W = s·V (:mod:`linear_sgd`), then balances
every real entry's gradient, in the batch's order,

    gᵢ = xᵢ dᵢᵀ + λW,   cᵢ = gᵢ − m,   σ = +1 if ⟨r, cᵢ⟩ ≤ 0 else −1,   r ← r + σ cᵢ,   t ← t + gᵢ,

placing i at the front of the next order (σ = +1) or at the back; then takes the step. The running sum r, the sum
t and the stale mean m are held in V's layout. ⟨r, xᵢdᵢᵀ⟩ reads row i only; the λW − m part of cᵢ is a pass over
the p·K weights (skipped for λW when λ = 0), so an entry costs O(p·K) beside the step's O(nnz(xᵢ)·K).
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native.linear_sgd import _decayed, batch_derivatives, class_count, row_add_outer, row_margins


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def grab_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots):
    """The plan's steps on W = scale·V (in place, as linear_sgd's batch loop) with each entry's gradient balanced
    before its step's update (see the module docstring); ``next_order`` and ``slots`` (the next free place at the
    front and at the back) are updated in place. Returns the new scale."""
    steps, width = indices.shape
    K = class_count(rows, V)
    margins, products = np.empty(K), np.empty(K)
    derivatives = np.empty((width, K))
    planned = indices.reshape(-1)
    flat_v, flat_mean = V.reshape(-1), mean.reshape(-1)
    flat_running, flat_total = running.reshape(-1), total.reshape(-1)
    for t in range(steps):
        count, _ = batch_derivatives(loss, rows, y, V, scale, indices[t], mask[t], planned, t * width, margins,
                                     derivatives)
        decay = l2 * scale   # gᵢ's shared part is decay · V − m
        entry = 0
        for b in range(width):
            if not mask[t, b]:
                continue
            i = indices[t, b]
            row_margins(rows, i, running, 1.0, products)
            product = 0.0
            for k in range(K):
                product += derivatives[entry, k] * products[k]
            for j in range(flat_v.size):
                product += flat_running[j] * (decay * flat_v[j] - flat_mean[j])
            sign = 1.0 if product <= 0.0 else -1.0
            for j in range(flat_v.size):
                flat_running[j] += sign * (decay * flat_v[j] - flat_mean[j])
                flat_total[j] += decay * flat_v[j]
            row_add_outer(rows, i, running, sign, derivatives[entry])
            row_add_outer(rows, i, total, 1.0, derivatives[entry])
            slot = 0 if sign > 0.0 else 1
            next_order[slots[slot]] = i
            slots[slot] += 1 if sign > 0.0 else -1
            entry += 1
        scale = _decayed(scale, alphas[t] * l2, V)
        factor = -alphas[t] / (count * scale)
        entry = 0
        for b in range(width):
            if mask[t, b]:
                row_add_outer(rows, indices[t, b], V, factor, derivatives[entry])
                entry += 1
    return scale


@numba.njit(cache=True, nogil=True, error_model="numpy")
def grab_lanes(loss, rows, y, Vs, scales, indices, masks, alphas, l2, lanes, means, runnings, totals, next_orders,
               slots):
    """:func:`grab_epoch` for each lane r in ``lanes`` on its own V, scale, plan, step sizes and herding arrays."""
    for r in lanes:
        scales[r] = grab_epoch(loss, rows, y, Vs[r], scales[r], indices[r], masks[r], alphas[r], l2, means[r],
                               runnings[r], totals[r], next_orders[r], slots[r])
