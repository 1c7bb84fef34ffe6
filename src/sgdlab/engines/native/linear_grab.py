"""GraB's herding inside the native linear loop (:mod:`sgdlab.samplers.grab`, the JAX engine's ``GraB.observe``).

Each step first computes its batch's derivatives dᵢ = ∂ℓ/∂m at the step's W = s·V (:mod:`linear_sgd`), then balances
every real entry's gradient, in the batch's order,

    gᵢ = xᵢ dᵢᵀ + λW,   cᵢ = gᵢ − m,   σ = +1 if ⟨r, cᵢ⟩ ≤ 0 else −1,   r ← r + σ cᵢ,   t ← t + gᵢ,

placing i at the front of the next order (σ = +1) or at the back; then takes the step. The running sum r, the sum
t and the stale mean m are held in V's layout. Three loops, by the shape of the work:

- :func:`dense_batches` (dense rows, B > 1 or K > 1): r and t as they are; ⟨r, xᵢdᵢᵀ⟩ reads row i and the λW − m
  part of cᵢ is a pass over the p·K weights, which on dense rows costs what a pass over the row costs.
- :func:`grab_single_example` (B = 1, one margin: the common case) and :func:`sparse_batches` (CSR rows, any B and
  K) keep an entry's cost proportional to its row's nonzeros, as below (on news20, p·K = 1.2 million weights
  against 80 nonzeros a row, this is what makes GraB usable there).

At B = 1 with one margin :func:`grab_single_example` holds r = z + γm + aV and t = y + bV, where the vectors z
and y change only on the row's columns and γ, a, b are numbers: r ± cᵢ adds ±dᵢxᵢ to z, ∓1 to γ and ±λs to a,
t + gᵢ adds dᵢxᵢ to y and λs to b; a step V ← V + fxᵢ takes afxᵢ out of z and bfxᵢ out of y, so that r and t stay
what they were. The dense parts of ⟨r, cᵢ⟩,

    ⟨r, V⟩ = ⟨z, V⟩ + γ⟨m, V⟩ + a⟨V, V⟩,   ⟨r, m⟩ = ⟨z, m⟩ + γ⟨m, m⟩ + a⟨V, m⟩,

come from inner products kept as numbers and updated with each change on row i's columns (from the row's
products with V, z and m, and ‖xᵢ‖²). On CSR rows V, z, y and m sit side by side in one p × 4 array, so that a
nonzero's four numbers share a cache line (on dense rows each vector is contiguous): a step reads its row twice,
once for xᵢᵀV, xᵢᵀz and xᵢᵀm, once to update V, z and y. :func:`sparse_batches` does the same with p × K arrays
and K derivatives an entry. r and t are written out whole at the end of the call. The kept numbers round
differently from the direct sums: an order may differ from the JAX engine's where ⟨r, cᵢ⟩ is within rounding
of 0.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from sgdlab.engines.native._llvm.flags import IN_ORDER, REORDER
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


#: The B = 1 loop folds W's scale into V once it falls below this (linear_sgd's loops: 1e-9). r = z + γm + aV and
#: t = y + bV hold aV against z: as the scale s falls, V grows as 1/s and z's terms with it, so the two
#: cancel to an absolute error of about eps·|aV| ≈ eps/s of r's size; folding at 1e-3 keeps that near 1e-13.
GRAB_RESCALE_BELOW = 1e-3

#: Where the B = 1 loop's four p-vectors sit in its array (:func:`herding_vectors`): V, r's part z, t's part y, m.
V_AT, Z_AT, Y_AT, M_AT = 0, 1, 2, 3


@numba.njit(cache=True, inline="always", error_model="numpy")
def strided_dot(first, second):
    """⟨first, second⟩ of two short vectors or views of any stride (Numba's np.dot calls BLAS: contiguous
    vectors only, and a call's cost)."""
    total = 0.0
    for j in range(first.size):
        total += first[j] * second[j]
    return total


@numba.njit(cache=True, inline="always", error_model="numpy")
def kept_products(z, V, mean):
    """(⟨z, V⟩, ⟨m, V⟩, ⟨V, V⟩, ⟨z, m⟩), the inner products the sparse loops keep as numbers (flat vectors)."""
    return strided_dot(z, V), strided_dot(mean, V), strided_dot(V, V), strided_dot(z, mean)


@numba.njit(cache=True, error_model="numpy")   # a call, not inlined: array code in a loop's body slows every step
def folded(V, z, y, mean, a, b, shrunk):
    """W's scale folded into V (flat vectors, in place): r's aV and t's bV written into z and y, then V ← shrunk·V,
    so that a and b start again from 0 with the scale 1; returns the kept products afresh (:func:`kept_products`)."""
    z += a * V
    y += b * V
    V *= shrunk
    return kept_products(z, V, mean)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def grab_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots, norms):
    """The plan's steps on W = scale·V (in place, as linear_sgd's batch loop) with each entry's gradient balanced
    before its step's update (see the module docstring); ``next_order`` and ``slots`` (the next free place at the
    front and at the back) are updated in place; ``norms`` are the rows' ‖xᵢ‖². Returns the new scale."""
    if indices.shape[1] == 1 and class_count(rows, V) == 1:
        return grab_single_example(loss, rows, y, V.reshape(-1), scale, indices[:, 0], alphas, l2, mean.reshape(-1),
                                   running.reshape(-1), total.reshape(-1), next_order, slots, norms)
    return grab_batches(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots,
                        norms)


def grab_batches(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots, norms):
    """:func:`grab_epoch` for any B and K: :func:`dense_batches` on dense rows, :func:`sparse_batches` on CSR."""


@overload(grab_batches)
def _grab_batches(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots,
                  norms):
    loop = dense_batches if isinstance(rows, numba.types.Array) else sparse_batches
    return lambda loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots, \
        norms: loop(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots, norms)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def dense_batches(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots,
                  norms):
    """:func:`grab_epoch` on dense rows: r and t held as they are, the λW − m part of each cᵢ a pass over the p·K
    weights (on dense rows a pass over the row costs as much)."""
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
            place(next_order, slots, i, sign)
            entry += 1
        scale = batch_step(rows, V, scale, indices[t], mask[t], alphas[t], l2, count, derivatives)
    return scale


@numba.njit(cache=True, fastmath=IN_ORDER, nogil=True, error_model="numpy")
def sparse_batches(loss, rows, y, V, scale, indices, mask, alphas, l2, mean, running, total, next_order, slots,
                   norms):
    """:func:`grab_epoch` on CSR rows at a cost proportional to the rows' nonzeros: r = z + γm + aV and t = y + bV
    with the kept inner products of the B = 1 loop (module docstring), for K margins; the step's update is applied
    entry by entry, each first read for the change it makes to the kept products, and adds the entry's gᵢ to t with
    it. An entry reads its row five times (its derivatives, balancing's products and update of z, the step's
    products and updates of V, z and y)."""
    steps, width = indices.shape
    K = class_count(rows, V)
    z, t_part = running.copy(), total.copy()
    flat_v, flat_z, flat_m = V.reshape(-1), z.reshape(-1), mean.reshape(-1)
    gamma, a, b = 0.0, 0.0, 0.0
    zv, mv, vv, zm = kept_products(flat_z, flat_v, flat_m)
    mm = strided_dot(flat_m, flat_m)
    margins, derivatives = np.empty(K), np.empty((width, K))
    planned = indices.reshape(-1)
    for t in range(steps):
        count, _ = batch_derivatives(loss, rows, y, V, scale, indices[t], mask[t], planned, t * width, margins,
                                     derivatives)
        decay = l2 * scale
        entry = 0
        for e in range(width):   # balancing, every entry at the step's W
            if not mask[t, e]:
                continue
            i, d = indices[t, e], derivatives[entry]
            dv, dz, dm = csr_products(rows, i, d, V, z, mean)
            dense_part = decay * (zv + gamma * mv + a * vv) - (zm + gamma * mm + a * mv)   # ⟨r, λW − m⟩
            sign = 1.0 if dz + gamma * dm + a * dv + dense_part <= 0.0 else -1.0
            zv += sign * dv
            zm += sign * dm
            gamma -= sign
            a += sign * decay
            b += decay
            row_add_outer(rows, i, z, sign, d)   # t's gᵢ is added with the step's update below
            place(next_order, slots, i, sign)
            entry += 1
        shrunk = scale * (1.0 - alphas[t] * l2)
        if abs(shrunk) < GRAB_RESCALE_BELOW:
            zv, mv, vv, zm = folded(flat_v, flat_z, t_part.reshape(-1), flat_m, a, b, shrunk)
            a, b, scale = 0.0, 0.0, 1.0
        else:
            scale = shrunk
        factor = -alphas[t] / (count * scale)   # the step: V ← V + factor Σᵢ xᵢdᵢᵀ, one entry at a time
        entry = 0
        for e in range(width):
            if not mask[t, e]:
                continue
            i, d = indices[t, e], derivatives[entry]
            dv, dz, dm = csr_products(rows, i, d, V, z, mean)
            squared = factor * factor * norms[i] * strided_dot(d, d)   # ‖δ‖² of δ = factor · xᵢdᵢᵀ
            zv += factor * dz - a * factor * dv - a * squared      # ⟨z − aδ, V + δ⟩
            zm -= a * factor * dm
            mv += factor * dm
            vv += 2.0 * factor * dv + squared
            csr_add_outers(rows, i, d, V, factor, z, -a * factor, t_part, 1.0 - b * factor)
            entry += 1
    running[:] = z + gamma * mean + a * V
    total[:] = t_part + b * V
    return scale


@numba.njit(cache=True, inline="always", error_model="numpy")
def csr_products(rows, i, d, V, z, mean):
    """(⟨xᵢdᵀ, V⟩, ⟨xᵢdᵀ, z⟩, ⟨xᵢdᵀ, m⟩) for CSR row i and K numbers d, V, z, m p × K, in one pass over the row."""
    data, indices, indptr = rows
    with_v, with_z, with_m = 0.0, 0.0, 0.0
    for position in range(indptr[i], indptr[i + 1]):
        x, j = data[position], indices[position]
        for k in range(d.size):
            xd = x * d[k]
            with_v += xd * V[j, k]
            with_z += xd * z[j, k]
            with_m += xd * mean[j, k]
    return with_v, with_z, with_m


@numba.njit(cache=True, inline="always", error_model="numpy")
def csr_add_outers(rows, i, d, first, to_first, second, to_second, third, to_third):
    """first += to_first · xᵢdᵀ, and so second and third, for CSR row i, K numbers d and p × K arrays, in one pass
    over the row."""
    data, indices, indptr = rows
    for position in range(indptr[i], indptr[i + 1]):
        x, j = data[position], indices[position]
        x_first, x_second, x_third = to_first * x, to_second * x, to_third * x
        for k in range(d.size):
            first[j, k] += x_first * d[k]
            second[j, k] += x_second * d[k]
            third[j, k] += x_third * d[k]


def herding_vectors(rows, p):
    """An empty array for the B = 1 loop's four p-vectors V, z, y, m: 4 × p on dense rows (each vector contiguous,
    so the products over a row vectorize), p × 4 on CSR rows (a nonzero's four numbers in one cache line)."""


@overload(herding_vectors, inline="always")
def _herding_vectors(rows, p):
    if isinstance(rows, numba.types.Array):
        return lambda rows, p: np.empty((4, p))
    return lambda rows, p: np.empty((p, 4))


def herding_vector(rows, vectors, k):
    """Vector k (V_AT, Z_AT, Y_AT or M_AT) of :func:`herding_vectors`' array, a view."""


@overload(herding_vector, inline="always")
def _herding_vector(rows, vectors, k):
    if isinstance(rows, numba.types.Array):
        return lambda rows, vectors, k: vectors[k]
    return lambda rows, vectors, k: vectors[:, k]


def row_products(rows, i, vectors):
    """(xᵢᵀV, xᵢᵀz, xᵢᵀm) for row i and :func:`herding_vectors`' array, in one pass over the row."""


@overload(row_products, inline="always")
def _row_products(rows, i, vectors):
    if isinstance(rows, numba.types.Array):
        def dense(rows, i, vectors):
            with_v, with_z, with_m = 0.0, 0.0, 0.0
            for j in range(rows.shape[1]):
                x = rows[i, j]
                with_v += x * vectors[V_AT, j]
                with_z += x * vectors[Z_AT, j]
                with_m += x * vectors[M_AT, j]
            return with_v, with_z, with_m
        return dense

    def csr(rows, i, vectors):
        data, indices, indptr = rows
        with_v, with_z, with_m = 0.0, 0.0, 0.0
        for position in range(indptr[i], indptr[i + 1]):
            x, j = data[position], indices[position]
            with_v += x * vectors[j, V_AT]
            with_z += x * vectors[j, Z_AT]
            with_m += x * vectors[j, M_AT]
        return with_v, with_z, with_m
    return csr


def row_updates(rows, i, vectors, to_v, to_z, to_y):
    """V += to_v·xᵢ, z += to_z·xᵢ, y += to_y·xᵢ in :func:`herding_vectors`' array, in one pass over row i."""


@overload(row_updates, inline="always")
def _row_updates(rows, i, vectors, to_v, to_z, to_y):
    if isinstance(rows, numba.types.Array):
        def dense(rows, i, vectors, to_v, to_z, to_y):
            for j in range(rows.shape[1]):
                x = rows[i, j]
                vectors[V_AT, j] += to_v * x
                vectors[Z_AT, j] += to_z * x
                vectors[Y_AT, j] += to_y * x
        return dense

    def csr(rows, i, vectors, to_v, to_z, to_y):
        data, indices, indptr = rows
        for position in range(indptr[i], indptr[i + 1]):
            x, j = data[position], indices[position]
            vectors[j, V_AT] += to_v * x
            vectors[j, Z_AT] += to_z * x
            vectors[j, Y_AT] += to_y * x
    return csr


def _herded_single_loop(fastmath: set):
    """:func:`grab_epoch` at B = 1 and K = 1, compiled with ``fastmath``, at a cost proportional to the rows'
    nonzeros (see the module docstring): w, mean, running and total are p-vectors, ``norms`` the rows' ‖xᵢ‖²;
    w, running and total are written back at the end. Returns the new scale."""

    def steps_of(loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms):
        vectors = herding_vectors(rows, w.size)
        V, z, t_part = herding_vector(rows, vectors, V_AT), herding_vector(rows, vectors, Z_AT), \
            herding_vector(rows, vectors, Y_AT)
        V[:], z[:], t_part[:], herding_vector(rows, vectors, M_AT)[:] = w, running, total, mean
        gamma, a, b = 0.0, 0.0, 0.0
        zv, mv, vv, zm = kept_products(z, V, mean)
        mm = strided_dot(mean, mean)
        for t in range(order.shape[0]):
            _ask_ahead(rows, y, order, t, PREFETCH_AHEAD_STEPS)
            i = order[t]
            xv, xz, xm = row_products(rows, i, vectors)
            d = scalar_derivative(loss, scale * xv, y[i])
            decay = l2 * scale
            with_v = zv + gamma * mv + a * vv   # ⟨r, V⟩
            with_m = zm + gamma * mm + a * mv   # ⟨r, m⟩
            sign = 1.0 if d * (xz + gamma * xm + a * xv) + decay * with_v - with_m <= 0.0 else -1.0
            gamma -= sign
            a += sign * decay
            b += decay
            place(next_order, slots, i, sign)
            shrunk = scale * (1.0 - alphas[t] * l2)
            if abs(shrunk) < GRAB_RESCALE_BELOW:
                zv, mv, vv, zm = folded(V, z, t_part, mean, a, b, shrunk)
                xz += a * xv
                xv *= shrunk
                a, b, scale = 0.0, 0.0, 1.0
            else:
                scale = shrunk
            f = -alphas[t] * d / scale   # the step: V ← V + f xᵢ
            to_z = sign * d - a * f      # r ± cᵢ, less the step's share of aV
            to_y = d - b * f             # t + gᵢ, less the step's share of bV
            norm = norms[i]
            zv += to_z * xv + f * xz + to_z * f * norm
            zm += to_z * xm
            mv += f * xm
            vv += 2.0 * f * xv + f * f * norm
            row_updates(rows, i, vectors, f, to_z, to_y)
        w[:] = V
        running[:] = z + gamma * mean + a * w
        total[:] = t_part + b * w
        return scale

    return numba.njit(cache=True, fastmath=fastmath, nogil=True, error_model="numpy")(steps_of)


#: The B = 1 herding loop compiled as linear_sgd's B = 1 loop is: reassociating on dense rows (the products over
#: p vectorize), in order on CSR rows (short sparse products are slower vectorized with gathers).
_DENSE_HERDED = _herded_single_loop(REORDER)
_SPARSE_HERDED = _herded_single_loop(IN_ORDER)


def grab_single_example(loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms):
    """:func:`grab_epoch` at B = 1 and K = 1 (see :func:`_herded_single_loop`), compiled for the kind of rows."""


@overload(grab_single_example)
def _grab_single_example(loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms):
    loop = _DENSE_HERDED if isinstance(rows, numba.types.Array) else _SPARSE_HERDED
    return lambda loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms: loop(
        loss, rows, y, w, scale, order, alphas, l2, mean, running, total, next_order, slots, norms)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def grab_lanes(loss, rows, y, Vs, scales, indices, masks, alphas, l2, lanes, norms, means, runnings, totals,
               next_orders, slots):
    """:func:`grab_epoch` for each lane r in ``lanes`` on its own V, scale, plan, step sizes and herding arrays."""
    for r in lanes:
        scales[r] = grab_epoch(loss, rows, y, Vs[r], scales[r], indices[r], masks[r], alphas[r], l2, means[r],
                               runnings[r], totals[r], next_orders[r], slots[r], norms)
