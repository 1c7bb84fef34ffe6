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

⟨G, m⟩ kept as a number (+σ⟨m, gᵢ⟩ an entry) and ‖m‖² taken once a call. ⟨G, gᵢ⟩ and ⟨m, gᵢ⟩ come from one pass
over the active rows (δᵀ(G₁x) …), G ← G + σgᵢ and t ← t + gᵢ from another; r = G − γm is written at the call's
end. The herding vectors m, r and t are flat in the parts' layout (:func:`herding_blocks`). The kept numbers round
differently from the JAX engine's direct sums: an order may differ from its where ⟨r, cᵢ⟩ is within rounding of 0.

One run's parts may go on two threads, as plain SGD's do (:mod:`sgdlab.engines.native.network_sgd`): each thread
computes its parts' shares of ⟨G, gᵢ⟩ and ⟨m, gᵢ⟩ (part 0's with b₂'s terms), the threads meet, and each sums the
shares in the parts' order, so every thread takes the same σ and keeps the same numbers, and one thread or two give
the same run bit for bit; each then adds gᵢ to its own parts of G and t. That is a meeting an entry beside the
step's own: at B = 1 one more a step.
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native._llvm import meeting
from sgdlab.engines.native._llvm.flags import REORDER
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
                       slots, thread, threads, flags, outputs, dots):
    """The plan's steps on one network's parts (U1: PARTS × h × p, b1: PARTS × h, U2: PARTS × K × h, b2: PARTS × K,
    a copy a thread) in place, on the parts of thread ``thread`` of ``threads`` as
    :func:`~sgdlab.engines.native.network_sgd.network_epoch` runs them, each real entry's gradient balanced before
    its step's update (module docstring). ``mean``, ``running`` and ``total`` are the flat herding vectors,
    ``balanced`` G's (running's copy, shared by the threads); ``next_order`` and ``slots`` (the next free place at
    the front and at the back) are updated in place. The threads meet after the outputs of every step and after
    each entry's products (``dots``: 2 × PARTS × 2, each part's share of ⟨G, g⟩ and ⟨m, g⟩ by the meeting's
    parity, summed in the parts' order: one thread or two give the same run bit for bit)."""
    steps, width = indices.shape
    parts, units, features = U1.shape
    classes, dtype = U2.shape[1], U1.dtype
    xs, xt = np.empty((2, width, features), dtype), np.empty((2, features, width), dtype)
    active, active_t = np.empty((parts, units, width), dtype), np.empty((width, units), dtype)
    derivatives, deltas = np.empty((classes, width), dtype), np.empty((parts, units, width), dtype)
    column = np.empty((parts, units), dtype)
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
        for b in range(width):
            if not mask[t, b]:
                continue
            x, example = xs[buffer, b], derivatives[:, b]
            for q in mine:
                for j in range(units):
                    column[q, j] = active[q, j, b]
                dots[meetings % 2, q] = _part_products(x, column[q], example, deltas[q, :, b], count, q, G, M)
            meeting.arrive(flags, thread, meetings)
            meeting.wait_for_others(flags, threads, thread, meetings)
            with_balanced, with_mean = 0.0, 0.0
            for q in range(parts):
                with_balanced += dots[meetings % 2, q, 0]
                with_mean += dots[meetings % 2, q, 1]
            meetings += 1
            sign = 1.0 if with_balanced - gamma * with_mean - balanced_mean + gamma * mean_mean <= 0.0 else -1.0
            for q in mine:
                _part_add(x, column[q], example, deltas[q, :, b], count, sign, q, G, T)
                if q == 0:
                    place(next_order, slots, indices[t, b], sign)
            gamma += sign
            balanced_mean += sign * with_mean
        for q in mine:
            _update_part(U1[q], b1[q], U2[q], alphas[t], xs[buffer], active[q], active_t, derivatives, deltas[q])
        _subtract_row_sums(b2[thread], alphas[t], derivatives)
    _written_running(running, balanced, mean, gamma, mine, parts, units, features, classes)


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
def _part_add(x, column, derivatives, deltas, count, sign, q, G, T):
    """G ← G + σg and T ← T + g on part q's numbers (b₂'s with part 0's), :func:`_part_products`'s arguments."""
    (G1, g1, G2, g2), (T1, t1, T2, t2) = G, T
    for j in range(G1.shape[1]):
        delta = count * deltas[j]
        if delta != 0.0:
            signed = sign * delta
            for k in range(x.size):
                G1[q, j, k] += signed * x[k]
            for k in range(x.size):
                T1[q, j, k] += delta * x[k]
            g1[q, j] += signed
            t1[q, j] += delta
    for c in range(G2.shape[1]):
        derivative = count * derivatives[c]
        for j in range(G2.shape[2]):
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
    dots = np.empty((2, U1s.shape[1], 2))
    for r in lanes:
        network_grab_epoch(loss, X, y, U1s[r], b1s[r], U2s[r], b2s[r], indices[r], masks[r], alphas[r], means[r],
                           runnings[r], totals[r], runnings[r].copy(), next_orders[r], slots[r], first, one, flags,
                           outputs, dots)
