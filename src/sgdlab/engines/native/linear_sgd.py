"""The native loop: one epoch of minibatch SGD on a built-in linear model, compiled by Numba.

The parameters W (p × K; K = 1 for least squares and logistic regression) are kept as W = s·V, a
scalar times a matrix, so that the ℓ2 part of a step, W ← (1 − αλ) W, costs one multiplication of
s instead of a pass over all p·K weights; a step then touches only the features present in its
batch, which makes its cost proportional to the nonzeros on CSR data. V is stored in the layout
the rows read best (see ``weights_layout``): transposed, K × p, for dense rows (each class's
weights contiguous, so xᵢᵀvₖ is a dense dot product), as W is, p × K, for CSR rows (each feature's
K weights contiguous, so a nonzero reads and writes K consecutive numbers, not K scattered ones).
With K = 1 the two are the same array. Step t of the plan, with batch I (the row's entries where the
mask is True, b = |I| of them), is

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

from sgdlab.engines.native._llvm.flags import IN_ORDER, REORDER
from sgdlab.engines.native._llvm.prefetch import prefetch

#: The loss families, as the kernel's integer switch.
SQUARED, LOGISTIC, SOFTMAX = 0, 1, 2
#: The loss kernels by the name a model family declares (its ``native_loss``).
LOSSES = {"squared": SQUARED, "logistic": LOGISTIC, "softmax": SOFTMAX}


#: How far ahead in the plan's order the loops ask for a row, and the size of a cache line: rows ahead
#: in the minibatch loops, where a row's share of a step is a few ns; steps ahead in the B = 1 loops,
#: where a step is tens of ns, so a few steps cover a memory access. Each distance is the best of
#: those measured inside the full benchmark run (benchmarks/NOTES.md, "Prefetch distance").
PREFETCH_AHEAD_ROWS = 32
PREFETCH_AHEAD_STEPS = 8
CACHE_LINE_BYTES = 64
#: A CSR row's first SHORT_ROW entries (and its last) are prefetched by a fixed number of requests,
#: clamped to the row, rather than by a loop over its lines: a loop whose length changes from row to
#: row mispredicts its exit every step.
SHORT_ROW = 32

#: The dense B = 1 loop looks one step ahead (see _single_example_loop) up to this many features:
#: with few features the dependency through the update dominates a step, with many the extra dot
#: product costs more than it hides.
LOOKAHEAD_MAX_FEATURES = 64

#: When the scale s of W = s·V falls below this in magnitude, it is folded into V.
RESCALE_BELOW = 1e-9


def row_dot(rows, i, w):
    """xᵢᵀw for row i of ``rows`` (dense or CSR) and a weight vector w (p)."""


def row_axpy(rows, i, w, coefficient):
    """w += coefficient · xᵢ over the (nonzero) entries of row i."""


def row_prefetch(rows, i):
    """Ask for every cache line of row i (its values, and its column indices for CSR) ahead of use."""


def _is_dense(rows) -> bool:
    return isinstance(rows, numba.types.Array)


@overload(row_dot, inline="always")
def _row_dot(rows, i, w):
    if _is_dense(rows):
        def dense(rows, i, w):
            total = 0.0
            for j in range(rows.shape[1]):
                total += rows[i, j] * w[j]
            return total
        return dense

    def csr(rows, i, w):
        data, indices, indptr = rows
        total = 0.0
        for position in range(indptr[i], indptr[i + 1]):
            total += data[position] * w[indices[position]]
        return total
    return csr


@overload(row_axpy, inline="always")
def _row_axpy(rows, i, w, coefficient):
    if _is_dense(rows):
        def dense(rows, i, w, coefficient):
            for j in range(rows.shape[1]):
                w[j] += coefficient * rows[i, j]
        return dense

    def csr(rows, i, w, coefficient):
        data, indices, indptr = rows
        for position in range(indptr[i], indptr[i + 1]):
            w[indices[position]] += coefficient * data[position]
    return csr


def is_dense_rows(rows) -> bool:
    """Whether ``rows`` (as the kernels take them) are a dense X rather than CSR arrays."""
    return isinstance(rows, np.ndarray)


def weights_layout(rows, W: np.ndarray) -> np.ndarray:
    """V for W (… × p × K: one or several runs) in the layout the loop reads for these rows, as a
    C-ordered float64 copy: … × K × p for dense rows, … × p × K for CSR rows."""
    return np.array(np.swapaxes(W, -1, -2) if is_dense_rows(rows) else W, dtype=np.float64, order="C")


def weights_from_layout(rows, V: np.ndarray) -> np.ndarray:
    """W (… × p × K) back from the loop's V (a view)."""
    return np.swapaxes(V, -1, -2) if is_dense_rows(rows) else V


def row_margins(rows, i, V, scale, margins):
    """margins[k] = scale · xᵢᵀvₖ for every class k, V in the rows' layout."""


def row_add_outer(rows, i, V, factor, derivatives):
    """V += factor · xᵢ derivativesᵀ over the (nonzero) entries of row i, V in the rows' layout."""


def class_count(rows, V):
    """K, the number of classes of V in the rows' layout."""


@overload(row_margins, inline="always")
def _row_margins(rows, i, V, scale, margins):
    if _is_dense(rows):
        def dense(rows, i, V, scale, margins):
            for k in range(V.shape[0]):
                margins[k] = scale * row_dot(rows, i, V[k])
        return dense

    def csr(rows, i, V, scale, margins):
        data, indices, indptr = rows
        margins[:] = 0.0
        for position in range(indptr[i], indptr[i + 1]):
            x, feature = data[position], indices[position]
            for k in range(V.shape[1]):
                margins[k] += x * V[feature, k]
        for k in range(V.shape[1]):
            margins[k] *= scale
    return csr


@overload(row_add_outer, inline="always")
def _row_add_outer(rows, i, V, factor, derivatives):
    if _is_dense(rows):
        def dense(rows, i, V, factor, derivatives):
            for k in range(V.shape[0]):
                row_axpy(rows, i, V[k], factor * derivatives[k])
        return dense

    def csr(rows, i, V, factor, derivatives):
        data, indices, indptr = rows
        for position in range(indptr[i], indptr[i + 1]):
            x, feature = data[position], indices[position]
            for k in range(V.shape[1]):
                V[feature, k] += factor * derivatives[k] * x
    return csr


@overload(class_count, inline="always")
def _class_count(rows, V):
    if _is_dense(rows):
        return lambda rows, V: V.shape[0]
    return lambda rows, V: V.shape[1]


@overload(row_prefetch, inline="always")
def _row_prefetch(rows, i):
    if _is_dense(rows):
        line = CACHE_LINE_BYTES // rows.dtype.bitwidth * 8

        def dense(rows, i):
            width = rows.shape[1]
            for j in range(0, width, line):
                prefetch(rows, i * width + j)
        return dense

    value_line = CACHE_LINE_BYTES // rows[0].dtype.bitwidth * 8
    index_line = CACHE_LINE_BYTES // rows[1].dtype.bitwidth * 8

    def csr(rows, i):
        data, indices, indptr = rows
        start, end = indptr[i], indptr[i + 1]
        last = max(end - 1, start)
        for line in range(SHORT_ROW // value_line):   # a fixed count: unrolled, no branch to mispredict
            prefetch(data, min(start + line * value_line, last))
        for line in range(SHORT_ROW // index_line):
            prefetch(indices, min(start + line * index_line, last))
        prefetch(data, last)
        prefetch(indices, last)
        for position in range(start + SHORT_ROW, end, value_line):   # only rows longer than SHORT_ROW
            prefetch(data, position)
        for position in range(start + SHORT_ROW, end, index_line):
            prefetch(indices, position)
    return csr


@numba.njit(cache=True, inline="always", error_model="numpy")
def scalar_derivative(loss, margin, label):
    """∂ℓ/∂m for one example of a single-margin family: m − y (squared) or −y σ(−y m) (logistic)."""
    if loss == SQUARED:
        return margin - label
    z = label * margin   # −y σ(−y m) = −y / (1 + e^{y m}), evaluated without overflow
    return -label / (1.0 + math.exp(z)) if z <= 0 else -label * math.exp(-z) / (1.0 + math.exp(-z))


@numba.njit(cache=True, inline="always", error_model="numpy")
def softmax_derivatives(margins, label, out):
    """out = softmax(m) − e_y, the derivative of logsumexp(m) − m_y, for the logits m of one example."""
    top = margins.max()
    total = 0.0
    for k in range(margins.size):
        out[k] = math.exp(margins[k] - top)
        total += out[k]
    out /= total
    out[int(label)] -= 1.0


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def sgd_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2):
    """Run the plan's steps (``indices``/``mask``: S × B, ``alphas``: S) on W = scale·V (V in the
    rows' layout, see ``weights_layout``) in place; return the new scale.

    Rows are visited in an order no hardware prefetcher guesses, so as each row is used the row (and
    its target) PREFETCH_AHEAD_ROWS places later in the plan (PREFETCH_AHEAD_STEPS at B = 1) is
    prefetched (sgdlab.engines.native._llvm.prefetch). One example and one margin a step (B = 1, K = 1), the
    common case, has a loop of its own without batch buffers."""
    if indices.shape[1] == 1 and class_count(rows, V) == 1:
        return single_example_epoch(loss, rows, y, V.reshape(-1), scale, indices[:, 0], alphas, l2)
    return _batch_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sgd_lanes(loss, rows, y, Vs, scales, indices, masks, alphas, l2, lanes):
    """:func:`sgd_epoch` for each lane r in ``lanes``, on Vs[r] (in the rows' layout) with scale scales[r]
    (updated in place), plan indices[r]/masks[r] and steps alphas[r]."""
    for r in lanes:
        scales[r] = sgd_epoch(loss, rows, y, Vs[r], scales[r], indices[r], masks[r], alphas[r], l2)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sgd_epochs_lanes(loss, rows, y, Vs, scales, indices, masks, alphas, l2, lanes, epoch_steps, single):
    """Several epochs of each lane r in ``lanes`` in one call, their plans one after the other (``epoch_steps`` steps
    an epoch): :func:`sgd_epoch` on each epoch's steps, then W = s·V folded into V (V ← s·V, rounded to float32
    when θ is float32: ``single``; s ← 1), as θ is handed from one call of :func:`sgd_lanes` to the next; so the
    lanes end where as many calls of one epoch each leave them, bit for bit."""
    for r in lanes:
        for first in range(0, indices.shape[1], epoch_steps):
            end = first + epoch_steps
            scale = sgd_epoch(loss, rows, y, Vs[r], scales[r], indices[r, first:end], masks[r, first:end],
                              alphas[r, first:end], l2)
            fold_scale(Vs[r].reshape(-1), scale, single)
            scales[r] = 1.0


@numba.njit(cache=True, nogil=True, inline="always")
def fold_scale(v, scale, single):
    """v ← scale · v, rounded to float32 and back when ``single`` (IEEE products, no reordering): θ as one call of
    a loop hands it to the next, in θ's type."""
    for j in range(v.size):
        folded = scale * v[j]
        v[j] = np.float64(np.float32(folded)) if single else folded


def _single_example_loop(lookahead: bool, fastmath: set):
    """The B = 1, K = 1 loop, w ← w − αₜ (d xᵢ + λw) through the scale for i = order[t], compiled with
    ``fastmath``. Without an ℓ2 term the scale stays 1 and is left out of the arithmetic (25% faster
    on data that fit in cache).

    Each step waits for the last: its margin xᵢᵀw needs the w the step before wrote. With
    ``lookahead`` (dense rows only) the next margin is computed before the update, from
    w' = c·w + s xᵢ (c = 1, or the scale folded into w, s the step):

        xⱼᵀw' = c·xⱼᵀw + s·xⱼᵀxᵢ,

    both dot products taken while the step's derivative is still being computed, so only one
    multiply-add waits for it. It costs a third pass over p numbers, so it pays where p is small
    (see LOOKAHEAD_MAX_FEATURES); the sum is the same up to rounding (the run agrees with the other
    loop and with the JAX engine to ~1e-15)."""

    def steps_of(loss, rows, y, w, scale, order, alphas, l2):
        steps = order.shape[0]
        decays = l2 != 0.0
        dot = 0.0
        for t in range(steps):
            _ask_ahead(rows, y, order, t, PREFETCH_AHEAD_STEPS)
            i = order[t]
            if t == 0 or not lookahead:
                dot = row_dot(rows, i, w)
            if lookahead:
                ahead, overlap = dense_pair_dots(rows, order[min(t + 1, steps - 1)], w, i)
            if decays:   # the next scale and its inverse need no margin: computed off the critical path
                shrunk = scale * (1.0 - alphas[t] * l2)
                inverse = 1.0 / shrunk
            margin = dot * scale if decays else dot
            step = -alphas[t] * scalar_derivative(loss, margin, y[i])
            if decays:
                folded = abs(shrunk) < RESCALE_BELOW
                scale = _decayed(scale, alphas[t] * l2, w)   # shrunk, or 1 with shrunk folded into w
                step *= 1.0 if folded else inverse
                if lookahead and folded:
                    ahead *= shrunk
            row_axpy(rows, i, w, step)
            if lookahead:
                dot = ahead + step * overlap
        return scale

    return numba.njit(cache=True, fastmath=fastmath, nogil=True, error_model="numpy")(steps_of)


#: The B = 1 loop compiled three times: on dense rows with reassociation (the dot products
#: vectorize), with and without the lookahead; on CSR rows in order, where LLVM would vectorize the
#: short sparse dot with gather instructions, slower than the scalar loop. (No lookahead on CSR rows:
#: computing xⱼᵀxᵢ there costs more than it hides.)
_DENSE_SINGLE = _single_example_loop(False, REORDER)
_DENSE_LOOKAHEAD = _single_example_loop(True, REORDER)
_SPARSE_SINGLE = _single_example_loop(False, IN_ORDER)


def single_example_epoch(loss, rows, y, w, scale, order, alphas, l2):
    """The B = 1, K = 1 loop compiled for the kind of rows (see _DENSE_SINGLE and _SPARSE_SINGLE)."""


@overload(single_example_epoch)
def _single_example_epoch(loss, rows, y, w, scale, order, alphas, l2):
    if not _is_dense(rows):
        return lambda loss, rows, y, w, scale, order, alphas, l2: _SPARSE_SINGLE(loss, rows, y, w, scale, order,
                                                                                 alphas, l2)

    def dense(loss, rows, y, w, scale, order, alphas, l2):
        if rows.shape[1] <= LOOKAHEAD_MAX_FEATURES:
            return _DENSE_LOOKAHEAD(loss, rows, y, w, scale, order, alphas, l2)
        return _DENSE_SINGLE(loss, rows, y, w, scale, order, alphas, l2)
    return dense


def compile_batch_loop(loss: int, rows, y, V: np.ndarray, indices: np.ndarray, alphas: np.ndarray) -> None:
    """Compile (or load from Numba's cache) the batch loop :func:`sgd_epoch` calls, for the types of these arguments
    (run on them with zero steps: :mod:`sgdlab.engines.native.ahead`)."""
    _batch_epoch(loss, rows, y, V, 1.0, indices, np.ones(indices.shape, dtype=bool), alphas, 0.0)


def dense_pair_dots(rows, j, w, i):
    """(xⱼᵀw, xⱼᵀxᵢ) for rows j and i of a dense X, in one pass over xⱼ."""


@overload(dense_pair_dots, inline="always")
def _dense_pair_dots(rows, j, w, i):
    def dense(rows, j, w, i):
        ahead, overlap = 0.0, 0.0
        for k in range(rows.shape[1]):
            ahead += rows[j, k] * w[k]
            overlap += rows[j, k] * rows[i, k]
        return ahead, overlap
    return dense


@numba.njit(cache=True, inline="always", error_model="numpy")
def row_derivatives(loss, rows, y, i, V, scale, margins, out):
    """out = ∂ℓ/∂m at row i's margins m = scale · xᵢᵀV (K numbers; one for a single-margin family)."""
    row_margins(rows, i, V, scale, margins)
    if loss == SOFTMAX:
        softmax_derivatives(margins, y[i], out)
    else:
        out[0] = scalar_derivative(loss, margins[0], y[i])


@numba.njit(cache=True, inline="always", error_model="numpy")
def batch_derivatives(loss, rows, y, V, scale, row, keep, planned, first, margins, derivatives):
    """derivatives[c] = w · ∂ℓ/∂m for the batch's c-th real row, w its entry of ``keep`` (1 for True; an importance
    sampler's weight 1/(N pᵢ)) (``row``/``keep``: the plan's step, whose first entry is ``first`` in the flattened
    plan ``planned``), each row asked for ahead; returns (how many there are, the sum of their weights)."""
    count, total = np.int64(0), 0.0   # not the literal 0: batch_step would be compiled for Literal[int](0) too
    for b in range(row.shape[0]):
        _ask_ahead(rows, y, planned, first + b, PREFETCH_AHEAD_ROWS)
        if keep[b]:
            row_derivatives(loss, rows, y, row[b], V, scale, margins, derivatives[count])
            total += weigh(derivatives[count], keep[b])
            count += 1
    return count, total


def weigh(values, weight):
    """values *= weight for a weighted mask's entry, returning the weight; a True/False mask's entry leaves them
    as they are and returns 1 (compiled apart: no multiply in the unweighted loops)."""


@overload(weigh, inline="always")
def _weigh(values, weight):
    if isinstance(weight, numba.types.Boolean):
        return lambda values, weight: 1.0

    def weighed(values, weight):
        for k in range(values.size):
            values[k] *= weight
        return weight
    return weighed


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def _batch_epoch(loss, rows, y, V, scale, indices, mask, alphas, l2):
    """Any B and K: the margins and derivatives of the whole batch first (all at the same W), then the update."""
    steps, width = indices.shape
    K = class_count(rows, V)
    margins = np.empty(K)
    derivatives = np.empty((width, K))
    planned = indices.reshape(-1)
    for t in range(steps):
        count, total = batch_derivatives(loss, rows, y, V, scale, indices[t], mask[t], planned, t * width, margins,
                                         derivatives)
        # the penalty weighted as the terms: × their mean weight
        scale = batch_step(rows, V, scale, indices[t], mask[t], alphas[t], l2 * (total / count), count, derivatives)
    return scale


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def batch_step(rows, V, scale, row, keep, alpha, l2, count, derivatives):
    """W ← (1 − αλ) W − (α/b) Σᵢ xᵢ dᵢᵀ for the ``count`` = b real entries of the plan's step (``row``/``keep``),
    their derivatives dᵢ in order in ``derivatives`` (λ: the penalty as the step weighs it); returns the new scale."""
    scale = _decayed(scale, alpha * l2, V)
    factor = -alpha / (count * scale)
    entry = 0
    for b in range(row.shape[0]):
        if keep[b]:
            row_add_outer(rows, row[b], V, factor, derivatives[entry])
            entry += 1
    return scale


@numba.njit(cache=True, inline="always", error_model="numpy")
def _ask_ahead(rows, y, planned, position, distance):
    """Prefetch the row and the target that come ``distance`` places after ``position`` in the plan
    ``planned`` (flattened; the last one near its end)."""
    ahead = planned[min(position + distance, planned.size - 1)]
    row_prefetch(rows, ahead)
    prefetch(y, ahead)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _decayed(scale, shrink, V):
    """The scale after W ← (1 − shrink) W; folded into V (and reset to 1) once it falls below RESCALE_BELOW."""
    scale *= 1.0 - shrink
    if abs(scale) < RESCALE_BELOW:
        V *= scale
        return 1.0
    return scale
