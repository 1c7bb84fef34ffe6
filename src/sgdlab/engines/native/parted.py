"""The dense minibatch loop with each step's gradient summed in PARTS parts, which threads compute side by side.

Step t of the plan, with batch I split into PARTS = 2 consecutive blocks I₀, I₁ of its columns, is

    G_q = Σ_{i ∈ I_q} xᵢ dᵢᵀ,   dᵢ = ∂ℓ(mᵢ, yᵢ)/∂m,   mᵢ = s · xᵢᵀV      (q = 0, 1)
    s ← (1 − αₜλ) s,   V ← V − (αₜ / (b s)) (G₀ + G₁),

the step of :mod:`sgdlab.engines.native.linear_sgd` (W = s·V, b real rows in the batch) with the gradient
summed part by part before the update. With T threads (T divides PARTS) thread r computes the
parts r·PARTS/T, …; the threads meet once a step (:mod:`sgdlab.engines.native._llvm.meeting`), then each adds
the same G₀ + G₁ in the same order to its own copy of V, so the copies stay equal bit for bit and
no thread writes what another reads. The gradients are double-buffered by the parity of t: a
thread writes step t + 1's part while a slower one may still read step t's.

The arithmetic does not depend on T: one thread computing both parts gives the run two threads
give, bit for bit (so a comparison's lanes, one thread each, equal the same runs made alone).
Rows are dense only: G_q is K × p numbers to clear and add each step, the size of a dense row's
update but far more than a sparse row's.

Each thread prefetches its own rows ahead (the next ones of its parts, into the following steps),
so both cores' memory requests overlap; prefetching along the whole plan instead would leave the
first rows of each step's part unfetched.
"""

from __future__ import annotations

import numba
import numpy as np

from sgdlab.engines.native._llvm import meeting
from sgdlab.engines.native._llvm.flags import REORDER
from sgdlab.engines.native._llvm.prefetch import prefetch
from sgdlab.engines.native.linear_methods import momentum_entry
from sgdlab.engines.native.linear_sgd import (
    PREFETCH_AHEAD_ROWS,
    _decayed,
    is_dense_rows,
    row_add_outer,
    row_derivatives,
    row_prefetch,
    weigh,
)

#: Parts of each step's batch, the most threads a run uses.
PARTS = 2
#: The velocities of runs without momentum: none.
NO_VELOCITY = np.zeros((1, 0, 0))

#: Dense batches with B · p · K at least this many multiply-adds a step are summed in parts (and one
#: run's parts computed on two threads): below it the threads' meeting costs about what the second
#: core saves (benchmarks/NOTES.md, "The parted loop").
PARTED_MIN_WORK = 4_096


def is_parted(rows, batch_size: int, classes: int) -> bool:
    """Whether the steps of this run are summed in parts: dense rows and B · p · K ≥ PARTED_MIN_WORK."""
    return is_dense_rows(rows) and batch_size * rows.shape[1] * classes >= PARTED_MIN_WORK


@numba.njit(cache=True)
def gradients_for(classes: int, features: int) -> np.ndarray:
    """The double-buffered part gradients: 2 × PARTS × K × p."""
    return np.zeros((2, PARTS, classes, features))


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def parted_epoch(loss, rows, y, Vt, scale, indices, mask, alphas, l2, thread, threads, flags, gradients, velocity,
                 beta, nesterov):
    """Run the plan's steps on Wᵀ = scale·Vt (this thread's copy, K × p) as thread ``thread`` of
    ``threads``, meeting the others at ``flags`` and summing parts in ``gradients``; return the new scale.
    With a ``velocity`` (this thread's copy, K × p; empty for plain SGD) the update is momentum's
    (:mod:`sgdlab.engines.native.linear_methods`, scale 1): v ← βv + (G/b + λW), W ← W − αv (or, Nesterov's,
    W − α(g + βv))."""
    steps, width = indices.shape
    classes = Vt.shape[0]
    margins = np.empty(classes)
    derivatives = np.empty(classes)
    span = (width + PARTS - 1) // PARTS
    mine = PARTS // threads
    for t in range(steps):
        buffer = t % 2
        for part in range(thread * mine, (thread + 1) * mine):
            start, stop = part * span, min((part + 1) * span, width)
            G = gradients[buffer, part]
            G[:] = 0.0
            for b in range(start, stop):
                _ask_ahead_in_part(rows, y, indices, t, b, start, stop)
                if mask[t, b]:   # weighted by the entry (1 for True; an importance sampler's 1/(N pᵢ))
                    row_derivatives(loss, rows, y, indices[t, b], Vt, scale, margins, derivatives)
                    weigh(derivatives, mask[t, b])
                    row_add_outer(rows, indices[t, b], G, 1.0, derivatives)
        meeting.arrive(flags, thread, t)
        meeting.wait_for_others(flags, threads, thread, t)
        count, total = np.int64(0), 0.0   # not the literal 0 (a second compilation of the step)
        for b in range(width):
            count += mask[t, b] != 0
            total += mask[t, b] * 1.0
        if velocity.size:
            _momentum_step(Vt, velocity, gradients[buffer], count, alphas[t], l2, beta, nesterov)
            continue
        scale = _decayed(scale, alphas[t] * l2 * (total / count), Vt)   # the penalty × the terms' mean weight
        factor = -alphas[t] / (count * scale)
        for k in range(classes):
            for j in range(Vt.shape[1]):
                total = 0.0
                for part in range(PARTS):
                    total += gradients[buffer, part, k, j]
                Vt[k, j] += factor * total
    return scale


@numba.njit(cache=True, inline="always", error_model="numpy")
def _momentum_step(Vt, velocity, parts, count, alpha, l2, beta, nesterov):
    """Momentum's update of W = Vt (scale 1) from the parts' gradient sums, entry by entry
    (:func:`sgdlab.engines.native.linear_methods.momentum_entry`)."""
    for k in range(Vt.shape[0]):
        for j in range(Vt.shape[1]):
            total = 0.0
            for part in range(PARTS):
                total += parts[part, k, j]
            Vt[k, j], velocity[k, j] = momentum_entry(Vt[k, j], velocity[k, j], total, count, alpha, l2, beta,
                                                      nesterov)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _ask_ahead_in_part(rows, y, indices, t, b, start, stop):
    """Prefetch the row and target PREFETCH_AHEAD_ROWS places after column b of step t, counting only the
    columns [start, stop) of each step (this thread's part), the last step's at the plan's end."""
    ahead = b - start + PREFETCH_AHEAD_ROWS
    step = min(t + ahead // (stop - start), indices.shape[0] - 1)
    i = indices[step, start + ahead % (stop - start)]
    row_prefetch(rows, i)
    prefetch(y, i)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def parted_lanes(loss, rows, y, Vts, scales, indices, masks, alphas, l2, lanes, velocities=NO_VELOCITY, beta=0.0,
                 nesterov=False):
    """:func:`parted_epoch` on one thread for each lane r in ``lanes`` (as linear_sgd.sgd_lanes), with momentum
    when ``velocities`` (R × K × p) are given."""
    one, first = np.int64(1), np.int64(0)   # not literals: parted_epoch is compiled once, for the threads' int64
    flags, gradients = meeting.flags_for(one), gradients_for(Vts.shape[1], Vts.shape[2])
    for r in lanes:
        velocity = velocities[r] if velocities.size else velocities[0]
        scales[r] = parted_epoch(loss, rows, y, Vts[r], scales[r], indices[r], masks[r], alphas[r], l2, first, one,
                                 flags, gradients, velocity, beta, nesterov)
