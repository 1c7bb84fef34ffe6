"""GraB's herding inside the native network loop (:mod:`sgdlab.samplers.grab`, the JAX engine's ``GraB.observe``).

A step of :mod:`sgdlab.engines.native.network_sgd` on batch I computes, at the step's θ, the output derivatives
D (K × B) and the hidden ones Δ_q (h × B) of every part q. Entry i's own gradient ∇fᵢ is then a sum of outer
products, with dᵢ = b·D[:, i] and δ_q = b·Δ_q[:, i] (b the batch's real rows, which D's mean divided out):

    ∂/∂U₁_q = δ_q xᵢᵀ,   ∂/∂b₁_q = δ_q,   ∂/∂U₂_q = dᵢ a_qᵀ,   ∂/∂b₂ = dᵢ      (a_q: part q's activations).

Each real entry, in the batch's order and before the step's update, is balanced as GraB balances it: cᵢ = gᵢ − m,
σ = +1 if ⟨r, cᵢ⟩ ≤ 0 else −1, r ← r + σcᵢ, t ← t + gᵢ, i placed at the front (σ = +1) or the back of the next
order. The loop holds r = G − γm with G = r at the call's start plus Σ σgᵢ and γ = Σ σ, so that an entry touches
only the rows of its outer products whose δ is not 0 (the ReLU zeroes about half of them), never a pass over m:

    ⟨r, cᵢ⟩ = ⟨G, gᵢ⟩ − γ⟨m, gᵢ⟩ − ⟨G, m⟩ + γ‖m‖²,

⟨G, m⟩ kept as a number (+σ⟨m, gᵢ⟩ an entry) and ‖m‖² taken once a call; r = G − γm is written at the call's end.

- At B = 1, ⟨G, gᵢ⟩ and ⟨m, gᵢ⟩ come from one pass over the rows whose δ is not 0 (δᵀ(G₁x) …; the ReLU zeroes
  about half of them), G ← G + σgᵢ and t ← t + gᵢ from another.
- At B > 1 the step's entries are balanced from products: G₁Xᵀ, m₁Xᵀ, G₂A and m₂A give every entry's ⟨G, gᵢ⟩ and
  ⟨m, gᵢ⟩ at the step's G, and entry i's G adds Σⱼ₍ⱼ₍ᵢ₎ σⱼ⟨gⱼ, gᵢ⟩, read from the Gram matrices of the entries'
  x, δ, a and d (⟨gⱼ, gᵢ⟩ = Σ_q [(δ_qⱼ·δ_qᵢ)(xⱼ·xᵢ + 1) + (dⱼ·dᵢ)(a_qⱼ·a_qᵢ)] + dⱼ·dᵢ); after the σᵢ, G and t
  take Δ diag(σ) X, D diag(σ) Aᵀ … as products.

The herding vectors m, r and t are flat in the parts' layout (:func:`herding_blocks`). The kept numbers round
differently from the JAX engine's direct sums: an order may differ from its where ⟨r, cᵢ⟩ is within rounding of 0.

One run's parts may go on two threads, as plain SGD's do (:mod:`sgdlab.engines.native.network_sgd`): each thread
computes its parts' shares (part 0's with b₂'s terms), the threads meet, and each sums the shares in the parts'
order, so every thread takes the same σ and keeps the same numbers, and one thread or two give the same run bit
for bit; each then updates its own parts of G and t. That is one meeting a step beside the step's own.
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native._llvm import meeting
from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native._llvm.products import add_product, transpose_into
from sgdlab.engines.native.linear_grab import place, strided_dot
from sgdlab.engines.native.network_sgd import (
    _gather,
    _hidden_derivatives,
    _output_derivatives,
    _subtract_row_sums,
    _update_part,
    met_outputs,
)


@numba.njit(cache=True, inline="always", error_model="numpy")
def herding_blocks(flat, parts, units, features, classes):
    """The views (U₁: parts × h × p, b₁: parts × h, U₂: parts × K × h, b₂: K) of a vector laid out as a network's
    parameters one after the other, in the parts' layout (b₂ once)."""
    first = parts * units * features
    second = first + parts * units
    third = second + parts * classes * units
    return (flat[:first].reshape((parts, units, features)), flat[first:second].reshape((parts, units)),
            flat[second:third].reshape((parts, classes, units)), flat[third:third + classes])


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def network_grab_epoch(loss, X, y, U1, b1, U2, b2, indices, mask, alphas, mean, running, total, balanced, next_order,
                       slots, thread, threads, flags, outputs, shares, kernels):
    """The plan's steps on one network's parts (U1: PARTS × h × p, b1: PARTS × h, U2: PARTS × K × h, b2: PARTS × K,
    a copy a thread) in place, on the parts of thread ``thread`` of ``threads`` as
    :func:`~sgdlab.engines.native.network_sgd.network_epoch` runs them, each real entry's gradient balanced before
    its step's update (module docstring). ``mean``, ``running`` and ``total`` are the flat herding vectors,
    ``balanced`` G's (running's copy, shared by the threads); ``next_order`` and ``slots`` (the next free place at
    the front and at the back) are updated in place. The threads meet after the outputs of every step and after
    the herding's products (each entry's at B = 1, the step's at B > 1): ``shares`` (2 × PARTS × 2 × B) holds each
    part's shares of ⟨G, gᵢ⟩ and ⟨m, gᵢ⟩, ``kernels`` (2 × PARTS × B × B) its shares of ⟨gᵢ, gⱼ⟩, by the meeting's
    parity, summed in the parts' order: one thread or two give the same run bit for bit."""
    steps, width = indices.shape
    parts, units, features = U1.shape
    classes, dtype = U2.shape[1], U1.dtype
    xs, xt = np.empty((2, width, features), dtype), np.empty((2, features, width), dtype)
    active, active_t = np.empty((parts, units, width), dtype), np.empty((width, units), dtype)
    derivatives, deltas = np.empty((classes, width), dtype), np.empty((parts, units, width), dtype)
    signs, scratch = np.empty(width), (np.empty((units, width), dtype), np.empty((classes, width), dtype),
                                       np.empty((3, width, width), dtype))
    mine = range(thread * parts // threads, (thread + 1) * parts // threads)
    gamma, balanced_mean, mean_mean = 0.0, strided_dot(balanced, mean), strided_dot(mean, mean)
    G = herding_blocks(balanced, parts, units, features, classes)
    M = herding_blocks(mean, parts, units, features, classes)
    T = herding_blocks(total, parts, units, features, classes)
    meetings = 0
    _gather(X, indices, 0, xs[0], xt[0])
    for t in range(steps):
        buffer = t % 2
        met_outputs(X, indices, t, U1, b1, U2, xs, xt, active, outputs, mine, flags, thread, threads, meetings)
        meetings += 1
        _output_derivatives(loss, outputs[buffer], b2[thread], y, indices[t], mask[t], derivatives)
        for q in mine:
            _hidden_derivatives(U2[q], derivatives, active[q], deltas[q])
        count = 0
        for b in range(width):
            count += mask[t, b]
        if width == 1:   # the entry's step taken with its herding, row by row
            gamma, balanced_mean, meetings = _herd_entry(
                U1, b1, U2, alphas[t], xs[buffer, 0], active, derivatives, deltas, count, indices[t, 0], mine, G, M,
                T, shares, flags, thread, threads, meetings, gamma, balanced_mean, mean_mean, next_order, slots)
        else:
            gamma, balanced_mean = _herd_batch(
                xs[buffer], xt[buffer], active, active_t, derivatives, deltas, count, indices[t], mask[t], mine, G, M,
                T, shares[meetings % 2], kernels[meetings % 2], scratch, signs, flags, thread, threads, meetings,
                gamma, balanced_mean, mean_mean, next_order, slots)
            meetings += 1
            for q in mine:
                _update_part(U1[q], b1[q], U2[q], alphas[t], xs[buffer], active[q], active_t, derivatives, deltas[q])
        _subtract_row_sums(b2[thread], alphas[t], derivatives)
    _written_running(running, balanced, mean, gamma, mine, parts, units, features, classes)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _herd_entry(U1, b1, U2, alpha, x, active, derivatives, deltas, count, index, mine, G, M, T, shares, flags, thread,
                threads, meetings, gamma, balanced_mean, mean_mean, next_order, slots):
    """A step of one entry (B = 1; a padding entry is skipped): each of this thread's parts' shares of ⟨G, g⟩ and
    ⟨m, g⟩ over the rows whose δ is not 0, the threads met, σ from the summed shares, then each part's step taken
    and g added to its G and t (:func:`_part_step`). Returns (γ, ⟨G, m⟩, the meetings so far)."""
    if count == 0:
        return gamma, balanced_mean, meetings
    parity, (parts, units), classes = meetings % 2, active.shape[:2], derivatives.shape[0]
    example = derivatives.reshape(classes)   # contiguous vectors (B = 1), which the loops vectorize
    for q in mine:
        shares[parity, q, 0, 0], shares[parity, q, 1, 0] = _part_products(
            x, active[q].reshape(units), example, deltas[q].reshape(units), count, q, G, M)
    meeting.arrive(flags, thread, meetings)
    meeting.wait_for_others(flags, threads, thread, meetings)
    with_balanced, with_mean = 0.0, 0.0
    for q in range(parts):
        with_balanced += shares[parity, q, 0, 0]
        with_mean += shares[parity, q, 1, 0]
    sign = 1.0 if with_balanced - gamma * with_mean - balanced_mean + gamma * mean_mean <= 0.0 else -1.0
    for q in mine:
        _part_step(U1[q], b1[q], U2[q], alpha, x, active[q].reshape(units), example, deltas[q].reshape(units), sign,
                   q, G, T)
        if q == 0:
            place(next_order, slots, index, sign)
    return gamma + sign, balanced_mean + sign * with_mean, meetings + 1


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _herd_batch(xs, xt, active, active_t, derivatives, deltas, count, indices, mask, mine, G, M, T, shares, kernels,
                scratch, signs, flags, thread, threads, meeting_number, gamma, balanced_mean, mean_mean, next_order,
                slots):
    """A step of B > 1 entries: this thread's parts' shares of ⟨G, gᵢ⟩ and ⟨m, gᵢ⟩ at the step's G and of
    ⟨gᵢ, gⱼ⟩ as products (:func:`_batch_shares`), the threads met once, then the entries' σ in the batch's order,
    G at entry i being the step's G plus Σⱼ₍ⱼ₍ᵢ₎ σⱼgⱼ, and G, t updated by products (:func:`_batch_add`).
    Returns (γ, ⟨G, m⟩)."""
    for q in mine:
        _batch_shares(xs, xt, active[q], active_t, derivatives, deltas[q], count, q, G, M, scratch, shares[q],
                      kernels[q])
    meeting.arrive(flags, thread, meeting_number)
    meeting.wait_for_others(flags, threads, thread, meeting_number)
    for b in range(signs.size):
        signs[b] = 0.0
        if not mask[b]:
            continue
        with_balanced, with_mean = 0.0, 0.0
        for q in range(shares.shape[0]):
            with_balanced += shares[q, 0, b]
            with_mean += shares[q, 1, b]
            for earlier in range(b):
                with_balanced += signs[earlier] * kernels[q, earlier, b]
        signs[b] = 1.0 if with_balanced - gamma * with_mean - balanced_mean + gamma * mean_mean <= 0.0 else -1.0
        gamma += signs[b]
        balanced_mean += signs[b] * with_mean
    for q in mine:
        _batch_add(xs, active[q], active_t, derivatives, deltas[q], count, signs, q, G, T, scratch)
        if q == 0:
            for b in range(signs.size):
                if mask[b]:
                    place(next_order, slots, indices[b], signs[b])
    return gamma, balanced_mean


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _batch_shares(xs, xt, active, active_t, derivatives, deltas, count, q, G, M, scratch, shares, kernel):
    """Part q's shares of a step's entries (``active``, ``deltas``: the part's h × B, the rest shared):
    shares[0, i] = ⟨G, gᵢ⟩ and shares[1, i] = ⟨m, gᵢ⟩ on the part's numbers, and

        kernel[j, i] = b²[(δⱼ·δᵢ)(xⱼ·xᵢ + 1) + (dⱼ·dᵢ)(aⱼ·aᵢ)]   (+ b² dⱼ·dᵢ, b₂'s, on part 0),

    the part's share of ⟨gⱼ, gᵢ⟩ (b the batch's real rows), from the Gram matrices of the entries' x, δ and a."""
    hidden, outer, grams = scratch
    _side_shares(xt, active, derivatives, deltas, count, q, G, hidden, outer, shares[0])
    _side_shares(xt, active, derivatives, deltas, count, q, M, hidden, outer, shares[1])
    grams[:] = 0.0
    add_product(xs, xt, grams[0], 1.0)
    transpose_into(deltas, active_t)
    add_product(active_t, deltas, grams[1], 1.0)
    transpose_into(active, active_t)
    add_product(active_t, active, grams[2], 1.0)
    width = kernel.shape[0]
    for j in range(width):
        for i in range(width):
            outputs = 0.0
            for c in range(derivatives.shape[0]):
                outputs += derivatives[c, j] * derivatives[c, i]
            kernel[j, i] = count * count * (grams[1, j, i] * (grams[0, j, i] + 1.0) + outputs * grams[2, j, i]
                                            + (outputs if q == 0 else 0.0))


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _side_shares(xt, active, derivatives, deltas, count, q, V, hidden, outer, shares):
    """shares[i] = ⟨V, gᵢ⟩ on part q's numbers for V = (V₁, v₁, V₂, v₂) (G's or m's blocks): from the products
    V₁_q Xᵀ (h × B) and V₂_q A (K × B), b Σⱼ δⱼᵢ((V₁xᵢ)ⱼ + v₁ⱼ) + b Σ_c d_cᵢ (V₂aᵢ)_c, + b Σ_c d_cᵢ v₂_c on part 0."""
    first, bias, second, last = V
    hidden[:] = 0.0
    add_product(first[q], xt, hidden, 1.0)
    outer[:] = 0.0
    add_product(second[q], active, outer, 1.0)
    shares[:] = 0.0
    for j in range(deltas.shape[0]):
        for i in range(deltas.shape[1]):
            shares[i] += deltas[j, i] * (hidden[j, i] + bias[q, j])
    for c in range(outer.shape[0]):
        for i in range(outer.shape[1]):
            shares[i] += derivatives[c, i] * (outer[c, i] + (last[c] if q == 0 else 0.0))
    for i in range(shares.size):
        shares[i] *= count


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _batch_add(xs, active, active_t, derivatives, deltas, count, signs, q, G, T, scratch):
    """G ← G + Σᵢ σᵢgᵢ and T ← T + Σᵢ gᵢ on part q's numbers (b₂'s with part 0's), as products:
    G₁ += b Δ diag(σ) X, G₂ += b D diag(σ) Aᵀ, t's with σ = 1."""
    (G1, g1, G2, g2), (T1, t1, T2, t2) = G, T
    hidden, outer, _ = scratch
    scale = float(count)
    for j in range(deltas.shape[0]):
        for i in range(deltas.shape[1]):
            hidden[j, i] = scale * signs[i] * deltas[j, i]
    for c in range(derivatives.shape[0]):
        for i in range(derivatives.shape[1]):
            outer[c, i] = scale * signs[i] * derivatives[c, i]
    transpose_into(active, active_t)
    add_product(hidden, xs, G1[q], 1.0)
    add_product(deltas, xs, T1[q], scale)
    add_product(outer, active_t, G2[q], 1.0)
    add_product(derivatives, active_t, T2[q], scale)
    _subtract_row_sums(g1[q], -1.0, hidden)
    _subtract_row_sums(t1[q], -scale, deltas)
    if q == 0:
        _subtract_row_sums(g2, -1.0, outer)
        _subtract_row_sums(t2, -scale, derivatives)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _part_products(x, column, derivatives, deltas, count, q, G, M):
    """Part q's share of (⟨G, g⟩, ⟨m, g⟩) for the entry's gradient g (module docstring: x its row, ``column`` its
    activations in the part, ``derivatives`` and ``deltas`` its columns of D and Δ_q, times ``count``), over the
    rows with δ ≠ 0; part 0's share holds b₂'s terms."""
    (G1, g1, G2, g2), (M1, m1, M2, m2) = G, M
    with_balanced, with_mean = 0.0, 0.0
    for j in range(G1.shape[1]):
        delta = count * deltas[j]
        if delta != 0.0:
            on_balanced, on_mean = g1[q, j], m1[q, j]
            for k in range(x.size):
                on_balanced += G1[q, j, k] * x[k]
                on_mean += M1[q, j, k] * x[k]
            with_balanced += delta * on_balanced
            with_mean += delta * on_mean
    for c in range(G2.shape[1]):
        on_balanced, on_mean = g2[c] if q == 0 else 0.0, m2[c] if q == 0 else 0.0
        for j in range(G2.shape[2]):
            on_balanced += G2[q, c, j] * column[j]
            on_mean += M2[q, c, j] * column[j]
        with_balanced += count * derivatives[c] * on_balanced
        with_mean += count * derivatives[c] * on_mean
    return with_balanced, with_mean


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _part_step(U1, b1, U2, alpha, x, column, derivatives, deltas, sign, q, G, T):
    """The step of one entry (B = 1) on part q of θ, U₁ −= α δxᵀ, b₁ −= αδ, U₂ −= α d aᵀ, with G ← G + σg and
    T ← T + g on the part's numbers (b₂'s with part 0's) in the same pass over each row; a row whose δ is 0 is
    left as it is (its step and its gradient are 0). :func:`_part_products`'s arguments at B = 1."""
    (G1, g1, G2, g2), (T1, t1, T2, t2) = G, T
    for j in range(U1.shape[0]):
        delta = deltas[j]
        if delta != 0.0:
            signed = sign * delta
            for k in range(x.size):
                U1[j, k] += -alpha * (delta * x[k])
                G1[q, j, k] += signed * x[k]
                T1[q, j, k] += delta * x[k]
            b1[j] -= alpha * delta
            g1[q, j] += signed
            t1[q, j] += delta
    for c in range(U2.shape[0]):
        derivative = derivatives[c]
        for j in range(U2.shape[1]):
            U2[c, j] += -alpha * (derivative * column[j])
            G2[q, c, j] += sign * derivative * column[j]
            T2[q, c, j] += derivative * column[j]
        if q == 0:
            g2[c] += sign * derivative
            t2[c] += derivative


@numba.njit(cache=True, inline="always", error_model="numpy")
def _written_running(running, balanced, mean, gamma, mine, parts, units, features, classes):
    """r = G − γm on the parts ``mine`` (b₂'s with part 0's)."""
    R = herding_blocks(running, parts, units, features, classes)
    G = herding_blocks(balanced, parts, units, features, classes)
    M = herding_blocks(mean, parts, units, features, classes)
    for q in mine:
        R[0][q] = G[0][q] - gamma * M[0][q]
        R[1][q] = G[1][q] - gamma * M[1][q]
        R[2][q] = G[2][q] - gamma * M[2][q]
        if q == 0:
            R[3][:] = G[3] - gamma * M[3]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def network_grab_lanes(loss, X, y, U1s, b1s, U2s, b2s, indices, masks, alphas, lanes, means, runnings, totals,
                       next_orders, slots):
    """:func:`network_grab_epoch` on one thread for each lane r in ``lanes`` on its own parts, plan, step sizes and
    herding arrays."""
    one, first = np.int64(1), np.int64(0)   # not literals: the epoch is compiled once, for the threads' int64
    flags = meeting.flags_for(one)
    outputs = np.empty((2, U1s.shape[1], U2s.shape[2], indices.shape[2]), U2s.dtype)
    shares, kernels = network_grab_meeting_arrays(U1s.shape[1], indices.shape[2])
    for r in lanes:
        network_grab_epoch(loss, X, y, U1s[r], b1s[r], U2s[r], b2s[r], indices[r], masks[r], alphas[r], means[r],
                           runnings[r], totals[r], runnings[r].copy(), next_orders[r], slots[r], first, one, flags,
                           outputs, shares, kernels)


@numba.njit(cache=True, error_model="numpy")
def network_grab_meeting_arrays(parts, width):
    """(shares, kernels) the threads of a run exchange (:func:`network_grab_epoch`), for steps of ``width`` entries."""
    return np.zeros((2, parts, 2, width)), np.zeros((2, parts, width, width))
