"""GraB's herding inside the native linear loop (:mod:`sgdlab.samplers.grab`, the JAX engine's ``GraB.observe``).

Each step first computes its batch's derivatives dᵢ = ∂ℓ/∂m at the step's W = s·V (:mod:`linear_sgd`), then balances
every real entry's gradient, in the batch's order,

    gᵢ = xᵢ dᵢᵀ + λW,   cᵢ = gᵢ − m,   σ = +1 if ⟨r, cᵢ⟩ ≤ 0 else −1,   r ← r + σ cᵢ,   t ← t + gᵢ,

placing i at the front of the next order (σ = +1) or at the back; then takes the step. The running sum r, the sum
t and the stale mean m are held in V's layout. In :func:`grab_epoch` (any B and K) ⟨r, xᵢdᵢᵀ⟩ reads row i only and
the λW − m part of cᵢ is a pass over the p·K weights, so an entry costs O(p·K) beside the step's O(nnz(xᵢ)·K).

At B = 1 with one margin (the common case) :func:`grab_single_example` keeps an entry's cost proportional to the
row's nonzeros. It holds r = u + γm + aV + q and t = u_t + bV + q_t, where the vectors u, q, u_t, q_t change only on
the row's columns and γ, a, b are numbers: r ± cᵢ adds ±dᵢxᵢ to u, ∓1 to γ and ±λs to a; a step V ← V + δ
(δ = f dᵢxᵢ) takes aδ out of q and bδ out of q_t so that r and t stay what they were. The dense parts of ⟨r, cᵢ⟩,

    ⟨r, V⟩ = ⟨u, V⟩ + γ⟨m, V⟩ + a⟨V, V⟩ + ⟨q, V⟩,   ⟨r, m⟩ = ⟨u, m⟩ + γ⟨m, m⟩ + a⟨V, m⟩ + ⟨q, m⟩,

come from inner products kept as numbers and updated with each change on row i's columns (⟨δ, V⟩ from the row's
product with V, ‖δ‖² = f²dᵢ²‖xᵢ‖²). r and t are written out whole at the end of the call. The kept numbers round
differently from the direct sums: an order may differ from :func:`grab_epoch`'s where ⟨r, cᵢ⟩ is within rounding
of 0.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native.linear_sgd import (
    PREFETCH_AHEAD_STEPS,
    _ask_ahead,
    batch_derivatives,
    batch_step,
    class_count,
    row_add_outer,
    row_margins,
    scalar_derivative,
)


@numba.njit(cache=True, error_model="numpy")   # not inline="always": Numba 0.68 inlined it wrongly into grab_epoch
def place(next_order, slots, i, sign):
    """Example i into the next order: at the front's free slot (sign +1, moving right) or the back's (−1, left)."""
    slot = 0 if sign > 0.0 else 1
    next_order[slots[slot]] = i
    slots[slot] += 1 if sign > 0.0 else -1


#: The B = 1 loop folds W's scale into w once it falls below this (linear_sgd's loops: 1e-9). r = … + aV + q and
#: t = … + bV + q_t hold aV against q: as the scale s falls, V grows as 1/s and q's terms with it, so the two
#: cancel to an absolute error of about eps·|aV| ≈ eps/s of r's size; folding at 1e-3 keeps that near 1e-13.
GRAB_RESCALE_BELOW = 1e-3


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def grab_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots, norms):
    """The plan's steps on W = scale·V (in place, as linear_sgd's batch loop) with each entry's gradient balanced
    before its step's update (see the module docstring); ``next_order`` and ``slots`` (the next free place at the
    front and at the back) are updated in place; ``norms`` are the rows' ‖xᵢ‖². Returns the new scale."""
    steps, width = indices.shape
    K = class_count(rows, V)
    if width == 1 and K == 1:
        return grab_single_example(loss, rows, y, V.reshape(-1), scale, indices[:, 0], alphas, l2, mean.reshape(-1),
                                   running.reshape(-1), total.reshape(-1), next_order, slots, norms)
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
            place(next_order, slots, i, sign)
            entry += 1
        scale = batch_step(rows, V, scale, indices[t], mask[t], alphas[t], l2, count, derivatives)
    return scale


def row_products(rows, i, first, second, third, fourth):
    """(xᵢᵀfirst, xᵢᵀsecond, xᵢᵀthird, xᵢᵀfourth) for row i and four p-vectors, in one pass over the row."""


@overload(row_products, inline="always")
def _row_products(rows, i, first, second, third, fourth):
    if isinstance(rows, numba.types.Array):
        def dense(rows, i, first, second, third, fourth):
            one, two, three, four = 0.0, 0.0, 0.0, 0.0
            for j in range(rows.shape[1]):
                x = rows[i, j]
                one += x * first[j]
                two += x * second[j]
                three += x * third[j]
                four += x * fourth[j]
            return one, two, three, four
        return dense

    def csr(rows, i, first, second, third, fourth):
        data, indices, indptr = rows
        one, two, three, four = 0.0, 0.0, 0.0, 0.0
        for position in range(indptr[i], indptr[i + 1]):
            x, j = data[position], indices[position]
            one += x * first[j]
            two += x * second[j]
            three += x * third[j]
            four += x * fourth[j]
        return one, two, three, four
    return csr


def row_updates(rows, i, first, a, second, b, third, c, fourth, d, fifth, e):
    """first += a·xᵢ, second += b·xᵢ, … fifth += e·xᵢ for row i, in one pass over the row."""


@overload(row_updates, inline="always")
def _row_updates(rows, i, first, a, second, b, third, c, fourth, d, fifth, e):
    if isinstance(rows, numba.types.Array):
        def dense(rows, i, first, a, second, b, third, c, fourth, d, fifth, e):
            for j in range(rows.shape[1]):
                x = rows[i, j]
                first[j] += a * x
                second[j] += b * x
                third[j] += c * x
                fourth[j] += d * x
                fifth[j] += e * x
        return dense

    def csr(rows, i, first, a, second, b, third, c, fourth, d, fifth, e):
        data, indices, indptr = rows
        for position in range(indptr[i], indptr[i + 1]):
            x, j = data[position], indices[position]
            first[j] += a * x
            second[j] += b * x
            third[j] += c * x
            fourth[j] += d * x
            fifth[j] += e * x
    return csr


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def grab_single_example(loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms):
    """:func:`grab_epoch` at B = 1 and K = 1 at a cost proportional to the rows' nonzeros (see the module docstring):
    w, mean, running and total are p-vectors, ``norms`` the rows' ‖xᵢ‖²; running and total are rewritten at the
    end. Each step reads its row twice, once for its products, once for its updates. Returns the new scale."""
    u, q, totals, total_q = running.copy(), np.zeros_like(w), total.copy(), np.zeros_like(w)
    gamma, a, b = 0.0, 0.0, 0.0
    uv, mv, vv, qv = np.dot(u, w), np.dot(mean, w), np.dot(w, w), 0.0
    um, mm, qm = np.dot(u, mean), np.dot(mean, mean), 0.0
    for t in range(order.shape[0]):
        _ask_ahead(rows, y, order, t, PREFETCH_AHEAD_STEPS)
        i = order[t]
        xw, xu, xm, xq = row_products(rows, i, w, u, mean, q)
        d = scalar_derivative(loss, scale * xw, y[i])
        decay = l2 * scale
        with_v = uv + gamma * mv + a * vv + qv
        with_m = um + gamma * mm + a * mv + qm
        sign = 1.0 if d * (xu + gamma * xm + a * xw + xq) + decay * with_v - with_m <= 0.0 else -1.0
        uv += sign * d * xw
        um += sign * d * xm
        gamma -= sign
        a += sign * decay
        b += decay
        place(next_order, slots, i, sign)
        norm = norms[i]
        shrunk = scale * (1.0 - alphas[t] * l2)
        if abs(shrunk) < GRAB_RESCALE_BELOW:   # W's scale folds into w: r's and t's aV and bV written into q, q_t
            q += a * w
            total_q += b * w
            xq += a * xw
            w *= shrunk
            xw *= shrunk
            a, b, scale = 0.0, 0.0, 1.0
            uv = np.dot(u, w) + sign * d * xw   # u's update of this step is still to come
            mv, vv, qv, qm = np.dot(mean, w), np.dot(w, w), np.dot(q, w), np.dot(q, mean)
        else:
            scale = shrunk
        f = -alphas[t] * d / scale   # the step: w ← w + f xᵢ
        qv += f * xq - a * f * xw - a * f * f * norm
        qm -= a * f * xm
        uv += f * (xu + sign * d * norm)
        mv += f * xm
        vv += 2.0 * f * xw + f * f * norm
        row_updates(rows, i, u, sign * d, totals, d, q, -a * f, total_q, -b * f, w, f)
    running[:] = u + gamma * mean + a * w + q
    total[:] = totals + b * w + total_q
    return scale


@numba.njit(cache=True, nogil=True, error_model="numpy")
def grab_lanes(loss, rows, y, Vs, scales, indices, masks, alphas, l2, lanes, norms, means, runnings, totals,
               next_orders, slots):
    """:func:`grab_epoch` for each lane r in ``lanes`` on its own V, scale, plan, step sizes and herding arrays."""
    for r in lanes:
        scales[r] = grab_epoch(loss, rows, y, Vs[r], scales[r], indices[r], masks[r], alphas[r], l2, means[r],
                               runnings[r], totals[r], next_orders[r], slots[r], norms)
