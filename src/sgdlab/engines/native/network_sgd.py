"""The native SGD loop of a ReLU network with one hidden layer, its hidden units split in two parts.

The network of :mod:`sgdlab.problems.mlp` with one hidden layer of H units, f(x) = W₂ᵀ relu(W₁ᵀx + b₁)
+ b₂, has its hidden units split into PARTS = 2 consecutive blocks q (padded with units of zero
weights to equal widths: such a unit stays 0 and its weights stay 0, as relu'(0) = 0). Part q holds
its units' rows of W₁ᵀ (U₁_q: h × p), their entries of b₁, and their columns of W₂ᵀ (U₂_q: K × h).
A step on batch I, with Xᵀ its rows as columns (p × B) and b the number of its real rows, is

    A_q = relu(U₁_q Xᵀ + b₁_q)                   h × B, part q's activations
    F = b₂ + Σ_q U₂_q A_q                        K × B, the outputs: the only sum over parts
    D = [m ∂ℓ(fᵢ, yᵢ)/∂f / b]ᵢ                    K × B, m = 1 for a real row, 0 for padding
    Δ_q = [A_q > 0] ∘ (U₂_qᵀ D)                   h × B, back through the ReLU
    U₂_q ← U₂_q − α D A_qᵀ,   b₂ ← b₂ − α Σᵢ Dᵢ
    U₁_q ← U₁_q − α Δ_q X,   b₁_q ← b₁_q − α Σᵢ Δ_q,ᵢ

with ℓ the softmax cross-entropy (∂ℓ/∂f = softmax(f) − e_y) or ½‖f − y‖² (f − y): the gradient
of the batch's mean loss, as the JAX engine takes it. Apart from F, a part's step reads and writes
its own numbers only, so with T threads (T divides PARTS) thread r runs the parts r·PARTS/T, …: the
threads meet once a step (:mod:`sgdlab.engines.native._llvm.meeting`) after each has written its parts' U₂_q A_q
(double-buffered by the step's parity, as in :mod:`sgdlab.engines.native.parted`), and each then adds the
parts in the same order to its own copy of b₂. One thread running both parts gives the same run bit
for bit. The products are those of :mod:`sgdlab.engines.native._llvm.products` (C += c·A B in register tiles),
every factor laid out with its rows contiguous. :func:`network_evaluation` runs the same forward and
backward pass over all the rows for a history row: F, ∇F and the count of zero pre-activations.
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native._llvm import meeting
from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native._llvm.products import add_product, transpose_into
from sgdlab.engines.native.exponential import exp
from sgdlab.engines.native.linear_sgd import SOFTMAX, row_prefetch

#: Parts of the hidden layer, the most threads a run uses.
PARTS = 2
#: Rows a chunk of the evaluation over all the data (its activations, 64 units × 256 rows a part, stay
#: in the core's cache).
EVALUATION_ROWS = 256


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def network_epoch(loss, X, y, U1, b1, U2, b2, indices, mask, alphas, thread, threads, flags, outputs):
    """Run the plan's steps (``indices``/``mask``: S × B, ``alphas``: S) in place on the parts of
    thread ``thread`` of ``threads`` (U1: PARTS × h × p, b1: PARTS × h, U2: PARTS × K × h) and on
    b2[thread] (PARTS × K, a copy a thread), meeting the others at ``flags`` and summing the parts'
    outputs in ``outputs`` (2 × PARTS × K × B). ``y`` is N × 1 class indices (softmax) or N × K targets."""
    steps, width = indices.shape
    parts, units, features = U1.shape
    dtype = U1.dtype
    xs, xt = np.empty((2, width, features), dtype), np.empty((2, features, width), dtype)
    active, active_t = np.empty((parts, units, width), dtype), np.empty((width, units), dtype)
    derivatives, deltas = np.empty((U2.shape[1], width), dtype), np.empty((units, width), dtype)
    mine = range(thread * parts // threads, (thread + 1) * parts // threads)
    _gather(X, indices, 0, xs[0], xt[0])
    for t in range(steps):
        buffer = t % 2
        met_outputs(X, indices, t, U1, b1, U2, xs, xt, active, outputs, mine, flags, thread, threads, t)
        _output_derivatives(loss, outputs[buffer], b2[thread], y, indices[t], mask[t], derivatives)
        for q in mine:
            _hidden_derivatives(U2[q], derivatives, active[q], deltas)
            _update_part(U1[q], b1[q], U2[q], alphas[t], xs[buffer], active[q], active_t, derivatives, deltas)
        _subtract_row_sums(b2[thread], alphas[t], derivatives)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def met_outputs(X, indices, t, U1, b1, U2, xs, xt, active, outputs, mine, flags, thread, threads, meeting_number):
    """Step t's outputs: the shares of this thread's parts ``mine`` written to ``outputs[t % 2]`` (their activations
    to ``active``), then the threads met at ``meeting_number``; the rows of step t + 1 are gathered into the other
    buffers of ``xs``, ``xt`` while the others finish their parts."""
    buffer = t % 2
    for q in mine:
        _part_outputs(U1[q], b1[q], U2[q], xt[buffer], active[q], outputs[buffer, q])
    meeting.arrive(flags, thread, meeting_number)
    if t + 1 < indices.shape[0]:
        _gather(X, indices, t + 1, xs[1 - buffer], xt[1 - buffer])
    meeting.wait_for_others(flags, threads, thread, meeting_number)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def network_lanes(loss, X, y, U1s, b1s, U2s, b2s, indices, masks, alphas, lanes):
    """:func:`network_epoch` on one thread for each lane r in ``lanes`` (arrays with a leading lane axis)."""
    one, first = np.int64(1), np.int64(0)   # not literals: network_epoch is compiled once, for the threads' int64
    flags = meeting.flags_for(one)
    outputs = np.empty((2, PARTS, U2s.shape[2], indices.shape[2]), U2s.dtype)
    for r in lanes:
        network_epoch(loss, X, y, U1s[r], b1s[r], U2s[r], b2s[r], indices[r], masks[r], alphas[r], first, one, flags,
                      outputs)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def network_evaluation(loss, X, y, U1, b1, U2, b2, units, first, last, G1, g1, G2, g2):
    """Rows first, …, last − 1's share of F(θ) = (1/N) Σᵢ ℓ(f(xᵢ), yᵢ), their number of hidden
    pre-activations exactly 0 among the first ``units`` units and (softmax cross-entropy) their number of
    rows classified correctly (:func:`_correct_count`), returned; their share of ∇F added to
    G1, g1, G2, g2 (zeros of the shapes of U1, b1, U2 and b2[0]). The rows go in chunks of
    EVALUATION_ROWS, each a step's forward and backward pass with every row real, its gradient
    weighted by its share of N, so the shares of disjoint ranges add up to F and ∇F."""
    n, (parts, width, features), dtype = X.shape[0], U1.shape, U1.dtype
    total, zeros, correct = 0.0, 0, 0
    rows = np.arange(first, last).reshape(1, last - first)
    for start in range(0, rows.size, EVALUATION_ROWS):
        chunk = rows[:, start:min(start + EVALUATION_ROWS, rows.size)]
        xs, xt = np.empty((chunk.size, features), dtype), np.empty((features, chunk.size), dtype)
        active, active_t = np.empty((parts, width, chunk.size), dtype), np.empty((chunk.size, width), dtype)
        outputs = np.empty((parts, U2.shape[1], chunk.size), dtype)
        derivatives, deltas = np.empty((U2.shape[1], chunk.size), dtype), np.empty((width, chunk.size), dtype)
        _gather(X, chunk, 0, xs, xt)
        for q in range(parts):
            _pre_activations(U1[q], b1[q], xt, active[q])
            for j in range(min(width, units - q * width)):
                for b in range(chunk.size):
                    zeros += active[q, j, b] == 0.0
            _relu_and_outputs(U2[q], active[q], outputs[q])
        total += _loss_sum(loss, outputs, b2[0], y, chunk[0])
        if loss == SOFTMAX:
            correct += _correct_count(outputs, b2[0], y, chunk[0])
        _output_derivatives(loss, outputs, b2[0], y, chunk[0], np.ones(chunk.size, dtype=np.bool_), derivatives)
        share = chunk.size / n
        for q in range(parts):
            _hidden_derivatives(U2[q], derivatives, active[q], deltas)
            _update_part(G1[q], g1[q], G2[q], -share, xs, active[q], active_t, derivatives, deltas)
        _subtract_row_sums(g2, -share, derivatives)
    return total / n, zeros, correct


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def network_scores(loss, X, y, U1, b1, U2, b2, first, last):
    """Rows first, …, last − 1's sum of losses Σᵢ ℓ(f(xᵢ), yᵢ) and (softmax cross-entropy) their number of rows
    classified correctly: :func:`network_evaluation`'s forward pass alone, for held-out rows."""
    (parts, width, features), dtype = U1.shape, U1.dtype
    total, correct = 0.0, 0
    rows = np.arange(first, last).reshape(1, last - first)
    for start in range(0, rows.size, EVALUATION_ROWS):
        chunk = rows[:, start:min(start + EVALUATION_ROWS, rows.size)]
        xs, xt = np.empty((chunk.size, features), dtype), np.empty((features, chunk.size), dtype)
        active, outputs = np.empty((parts, width, chunk.size), dtype), np.empty((parts, U2.shape[1], chunk.size), dtype)
        _gather(X, chunk, 0, xs, xt)
        for q in range(parts):
            _part_outputs(U1[q], b1[q], U2[q], xt, active[q], outputs[q])
        total += _loss_sum(loss, outputs, b2[0], y, chunk[0])
        if loss == SOFTMAX:
            correct += _correct_count(outputs, b2[0], y, chunk[0])
    return total, correct


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _correct_count(outputs, b2, y, rows):
    """The number of the batch's columns whose largest output fᵢ = b2 + Σ_q outputs[q, :, i] is at their class
    yᵢ (ties: the first largest, as argmax takes it)."""
    classes, correct = outputs.shape[1], 0
    for b in range(outputs.shape[2]):
        best, top = 0, -np.inf
        for c in range(classes):
            f = b2[c]
            for q in range(outputs.shape[0]):
                f += outputs[q, c, b]
            if f > top:
                best, top = c, f
        correct += best == int(y[rows[b], 0])
    return correct


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _loss_sum(loss, outputs, b2, y, rows):
    """Σᵢ ℓ(fᵢ, yᵢ) over the batch's columns, fᵢ = b2 + Σ_q outputs[q, :, i]: logsumexp(fᵢ) − fᵢ,y
    (softmax cross-entropy) or ½‖fᵢ − yᵢ‖²."""
    classes, total = outputs.shape[1], 0.0
    f = np.empty(classes)
    for b in range(outputs.shape[2]):
        for c in range(classes):
            f[c] = b2[c]
            for q in range(outputs.shape[0]):
                f[c] += outputs[q, c, b]
        if loss == SOFTMAX:
            top, exponentials = f.max(), 0.0
            for c in range(classes):
                exponentials += exp(f[c] - top)
            total += top + np.log(exponentials) - f[int(y[rows[b], 0])]
        else:
            for c in range(classes):
                total += 0.5 * (f[c] - y[rows[b], c]) ** 2
    return total


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gather(X, indices, t, xs, xt):
    """The rows of step t as rows of ``xs`` (B × p) and columns of ``xt`` (p × B), in their type; the rows
    of step t + 1 are prefetched (gathered while the other threads finish step t − 1)."""
    if t + 1 < indices.shape[0]:
        for b in range(indices.shape[1]):
            row_prefetch(X, indices[t + 1, b])
    for b in range(indices.shape[1]):
        i = indices[t, b]
        for k in range(X.shape[1]):
            xs[b, k] = X[i, k]
    transpose_into(xs, xt)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _part_outputs(U1, b1, U2, xt, active, outputs):
    """A part's activations A = relu(U1 Xᵀ + b1) (h × B) and its share of the outputs, U2 A (K × B)."""
    _pre_activations(U1, b1, xt, active)
    _relu_and_outputs(U2, active, outputs)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _pre_activations(U1, b1, xt, active):
    """active = U1 Xᵀ + b1 (h × B)."""
    for j in range(active.shape[0]):
        active[j] = b1[j]
    add_product(U1, xt, active, 1.0)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _relu_and_outputs(U2, active, outputs):
    """active ← relu(active); outputs = U2 active (K × B)."""
    for j in range(active.shape[0]):
        for b in range(active.shape[1]):
            active[j, b] = max(active[j, b], 0.0)
    outputs[:] = 0.0
    add_product(U2, active, outputs, 1.0)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _update_part(U1, b1, U2, alpha, xs, active, active_t, derivatives, deltas):
    """U2 −= α D Aᵀ, U1 −= α Δ X, b1 −= α Σᵢ Δᵢ."""
    transpose_into(active, active_t)
    add_product(derivatives, active_t, U2, -alpha)
    add_product(deltas, xs, U1, -alpha)
    _subtract_row_sums(b1, alpha, deltas)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _output_derivatives(loss, outputs, b2, y, rows, mask, derivatives):
    """derivatives[:, i] = mᵢ ∂ℓ(fᵢ, yᵢ)/∂f / b for the batch's columns, fᵢ = b2 + Σ_q outputs[q, :, i]:
    each loop runs along the batch (K × B), so the softmax's exponentials vectorize."""
    classes, width = derivatives.shape
    for c in range(classes):
        for b in range(width):
            derivatives[c, b] = b2[c]
            for q in range(outputs.shape[0]):
                derivatives[c, b] += outputs[q, c, b]
    if loss == SOFTMAX:
        _softmax_derivatives(derivatives, y, rows)
    else:
        for c in range(classes):
            for b in range(width):
                derivatives[c, b] -= y[rows[b], c]
    count = 0
    for b in range(width):
        count += mask[b]
    for c in range(classes):
        for b in range(width):
            derivatives[c, b] *= mask[b] / count


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _softmax_derivatives(F, y, rows):
    """F[:, i] ← softmax(F[:, i]) − e_{yᵢ} for each column (example) i of the logits F (K × B)."""
    classes, width = F.shape
    top, total = np.empty(width, F.dtype), np.zeros(width, F.dtype)
    top[:] = F[0]
    for c in range(1, classes):
        for b in range(width):
            top[b] = max(top[b], F[c, b])
    for c in range(classes):
        for b in range(width):
            F[c, b] = exp(F[c, b] - top[b])
            total[b] += F[c, b]
    for c in range(classes):
        for b in range(width):
            F[c, b] /= total[b]
    for b in range(width):
        F[int(y[rows[b], 0]), b] -= 1.0


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _hidden_derivatives(U2, derivatives, active, deltas):
    """deltas = [active > 0] ∘ (U2ᵀ derivatives) (h × B)."""
    deltas[:] = 0.0
    add_product(U2.T, derivatives, deltas, 1.0)
    for j in range(deltas.shape[0]):
        for b in range(deltas.shape[1]):
            if active[j, b] <= 0.0:
                deltas[j, b] = 0.0


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _subtract_row_sums(bias, alpha, terms):
    """bias[j] −= α Σ_b terms[j, b]."""
    for j in range(terms.shape[0]):
        total = 0.0
        for b in range(terms.shape[1]):
            total += terms[j, b]
        bias[j] -= alpha * total
