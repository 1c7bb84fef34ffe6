"""What the native runner needs of each model's loop: its state from θ, θ from its state, and its calls.

:class:`~sgdlab.engines.native.run.NativeRun` runs epochs the same way for every model; a loop object
translates. The state of R runs ("lanes") is a tuple of arrays with a leading lane axis, updated in
place by the loop:

- :class:`LinearLoop` (least squares, logistic and softmax regression, curve fits): (V, scales) with
  W = scale · V in the rows' layout (:mod:`sgdlab.engines.native.linear_sgd`; large dense batches summed in
  parts by :mod:`sgdlab.engines.native.parted`, each thread with its own copy of V);
- :class:`HerdedLoop` (GraB's orders on the linear models): (V, scales) and the herding arrays of
  :mod:`sgdlab.engines.native.linear_grab` (the stale mean, the running sum and the sum of the epoch's gradients in
  V's layout, the next order and its two free slots), read from and written back to the run's sampler state;
- :class:`VarianceReducedLoop` (SAGA and SVRG on least squares and logistic regression): θ, the stored derivatives,
  one number an example, and their mean ḡ (:mod:`sgdlab.engines.native.linear_variance_reduced`), the last two
  carried between epochs as the method's state (``initial_state``, ``method_state``), refreshed where the method's
  flags say (``state(..., refreshes=)``);
- :class:`HerdedNetworkLoop` (GraB's orders on a network): the parts as :class:`NetworkLoop`'s and the herding
  arrays of :mod:`sgdlab.engines.native.network_grab` (m, r and t flat in the parts' layout, the next order and
  its two free slots);
- :class:`NetworkLoop` (a ReLU network with one hidden layer): the hidden units' parts (U₁, b₁, U₂)
  and a copy of b₂ a thread (:mod:`sgdlab.engines.native.network_sgd`), the threads sharing the arrays. It
  also evaluates F, ‖∇F‖ and its diagnostics natively (``evaluate``, a range of rows at a time), in
  about half the JAX engine's time.

``part_runs`` gives one callable a thread (``parts`` of them) for a single run whose steps are computed
on several threads; ``parted`` says whether a run's steps are split so at all.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from sgdlab._helpers.declared import declared
from sgdlab.engines.native import (
    linear_evaluation,
    linear_gd,
    linear_grab,
    linear_methods,
    linear_sgd,
    linear_variance_reduced,
    network_grab,
    network_sgd,
    parted,
)
from sgdlab.engines.native._llvm import meeting
from sgdlab.engines.native.work import VARIANCE_REDUCED_KERNELS, is_network, is_sparse_single_margin, step_work
from sgdlab.engines.update_rules import PLAIN_RULE, UpdateRule


def loop_for(problem, batch_size: int, rule: UpdateRule = PLAIN_RULE, full_batch: bool = False,
             herded: bool = False):
    """The loop object for ``problem`` at batch size ``batch_size`` and the run's update ``rule``, by the kernels its
    method and averaging declare (``rule.native_kernels()``: plain SGD; SAGA, heavy ball or Nesterov; plain SGD
    with a Polyak–Ruppert or tail average); ``full_batch`` for gradient descent, ``herded`` for GraB's orders (plain
    SGD on a linear model)."""
    if is_network(problem):
        return HerdedNetworkLoop(problem, batch_size) if herded else NetworkLoop(problem, batch_size)
    if herded:
        return HerdedLoop(problem, batch_size)
    method, averaging = rule.native_kernels()
    if full_batch and rule.is_plain and is_sparse_single_margin(problem):
        return GradientDescentLoop(problem, batch_size)
    if method in VARIANCE_REDUCED_KERNELS:
        return VarianceReducedLoop(problem, stores=method == "saga")
    if method in ("heavy_ball", "nesterov"):
        return MomentumLoop(problem, batch_size, rule.method)
    if averaging == "polyak_average":
        return AveragedLoop(problem, batch_size, rule.averaging)
    return LinearLoop(problem, batch_size)


class MethodFree:
    """What a loop of plain SGD says of a method's state: there is none."""

    def initial_state(self, lanes: int) -> Any:
        """The method's state of ``lanes`` runs at θ⁰: none."""
        return ()

    def method_state(self, state: tuple) -> Any:
        """The method's state after an epoch: none."""
        return ()


class RowsEvaluation:
    """The native evaluation of a linear model's loop (``problem``, ``loss``, ``rows``, ``targets``): history rows
    and held-out scores from :mod:`sgdlab.engines.native.linear_evaluation`, read from the lanes' θ."""

    def __init__(self, problem):
        self.problem, self.loss = problem, linear_sgd.LOSSES[declared(problem, "native_loss")]
        self.rows, self.targets = problem.native_data()

    #: History rows come from :meth:`evaluate` (float64 sums, whatever θ's type).
    evaluates = True

    def evaluation_state(self, lanes) -> tuple:
        """(V, scales) of the lanes' θ (R × p, or R × p × K), every scale 1: the layout :meth:`evaluate` reads."""
        matrices = np.asarray(lanes, dtype=np.float64).reshape(len(lanes), self.problem.n_features, -1)
        return linear_sgd.weights_layout(self.rows, matrices), np.ones(len(lanes))

    def evaluate(self, state: tuple, lane: int, rows: slice) -> tuple:
        """Lane ``lane``'s share of (F, ∇F, {"correct": the rows classified correctly}) from the data's ``rows``
        (linear_evaluation.linear_evaluation); the ℓ2 penalty (λ/2)‖θ‖², λθ comes with the share of the first
        rows. ∇F is a list of one array (V's layout)."""
        V, scale = state[0][lane], float(state[1][lane])
        gradient = np.zeros_like(V)
        loss, correct = linear_evaluation.linear_evaluation(self.loss, self.rows, self.targets, V, scale, rows.start,
                                                            rows.stop, self.problem.n, gradient, True)
        if rows.start == 0 and self.problem.l2:
            loss += 0.5 * self.problem.l2 * scale**2 * float(np.sum(V * V))
            gradient += self.problem.l2 * scale * V
        return loss, [gradient], {"correct": correct}

    def score(self, state: tuple, lane: int, data: tuple, rows: slice) -> tuple[float, int]:
        """Lane ``lane``'s sum of losses (with the penalty, as the held-out problem's F counts it) and count of rows
        classified correctly over ``rows`` of other data (rows, targets) of this model."""
        V, scale = state[0][lane], float(state[1][lane])
        other_rows, targets = data
        total, correct = linear_evaluation.linear_evaluation(self.loss, other_rows, targets, V, scale, rows.start,
                                                             rows.stop, 1, V, False)
        penalty = 0.5 * self.problem.l2 * scale**2 * float(np.sum(V * V)) * (rows.stop - rows.start)
        return total + penalty, correct


class LinearLoop(RowsEvaluation, MethodFree):
    """The linear models' loop: state (V, scales), V: R × K × p (dense rows) or R × p × K (CSR)."""

    parts = parted.PARTS

    def __init__(self, problem, batch_size: int):
        super().__init__(problem)
        classes = 1 if self.loss != linear_sgd.SOFTMAX else problem.n_classes
        self.parted = parted.is_parted(self.rows, batch_size, classes)
        self.kernel = parted.parted_lanes if self.parted else linear_sgd.sgd_lanes
        self.shape = np.shape(problem.params0)

    def state(self, lanes: np.ndarray, method_state: Any = (), epoch: int = 0, k0: int = 0, steps: int = 0,
              refreshes: np.ndarray | None = None) -> tuple:
        """(V, scales) of the lanes' θ (R × p, or R × p × K), with every scale 1."""
        return self.evaluation_state(lanes)

    def params(self, state: tuple) -> np.ndarray:
        """The lanes' θ = scale · V, in float64 (R × p, or R × p × K)."""
        weights, scales = state
        return linear_sgd.weights_from_layout(self.rows, scales[:, None, None] * weights).reshape(len(scales),
                                                                                                   *self.shape)

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The epoch of the lanes ``group`` on this thread (plans and step sizes: theirs alone)."""
        weights, scales = state
        self.kernel(self.loss, self.rows, self.targets, weights[group], scales[group], indices, masks, alphas,
                    self.problem.l2, np.arange(len(indices)))

    #: Runs several epochs in one call (:meth:`run_epochs`): declared by each loop class for itself.
    runs_epochs = True

    def run_epochs(self, state: tuple, group: slice, indices, masks, alphas, epoch_steps: int, dtype) -> None:
        """Several epochs of the lanes ``group`` on this thread, their plans and step sizes one epoch after the other
        (``epoch_steps`` steps each), θ handed from epoch to epoch in ``dtype`` as between calls of
        :meth:`run_lanes` (linear_sgd.sgd_epochs_lanes)."""
        weights, scales = state
        linear_sgd.sgd_epochs_lanes(self.loss, self.rows, self.targets, weights[group], scales[group], indices, masks,
                                    alphas, self.problem.l2, np.arange(len(indices)), epoch_steps,
                                    np.dtype(dtype) == np.float32)

    def part_runs(self, state: tuple, indices, masks, alphas) -> list:
        """One callable a thread for the epoch of a single run (lane 0) summed in parts, each thread with
        its own copy of V; thread 0's scale is kept."""
        weights, scales = state[:2]
        threads = self.parts
        flags, gradients = meeting.flags_for(threads), parted.gradients_for(*weights.shape[1:])
        copies = [weights[0], *(weights[0].copy() for _ in range(threads - 1))]

        velocities = self._velocity_copies(state, threads)

        def run(thread: int):
            scale = parted.parted_epoch(self.loss, self.rows, self.targets, copies[thread], scales[0], indices[0],
                                        masks[0], alphas[0], self.problem.l2, thread, threads, flags, gradients,
                                        *velocities[thread])
            if thread == 0:
                scales[0] = scale

        return [functools.partial(run, thread) for thread in range(threads)]

    def _velocity_copies(self, state: tuple, threads: int) -> list[tuple]:
        """(velocity, β, Nesterov?) of each thread: none for plain SGD."""
        return [(parted.NO_VELOCITY[0], 0.0, False)] * threads


class Herding:
    """What a loop with GraB's herding reads from the run's :class:`~sgdlab.samplers.GrabState` and writes back to it:
    the stale means, running sums and sums of the epoch's gradients of the lanes in the loop's own layout
    (:meth:`vectors` and :meth:`layers`, the class's), their next orders and the two free slots of each; the loop's
    state holds them after its first ``herding_at`` arrays."""

    herding_at: int

    def vectors(self, lanes) -> np.ndarray:
        """θ-shaped values of the lanes (a pytree with a lane axis) in the loop's layout."""
        raise NotImplementedError

    def layers(self, vectors: np.ndarray):
        """:meth:`vectors`'s inverse."""
        raise NotImplementedError

    def params(self, state: tuple):
        return super().params(state[:self.herding_at])   # type: ignore[misc]

    def herding(self, sampler_state) -> tuple:
        """(means, runnings, totals, next orders, slots) of the lanes' GraB states."""
        slots = np.stack([np.asarray(sampler_state.front), np.asarray(sampler_state.back)], axis=-1).astype(np.int64)
        return (self.vectors(sampler_state.mean), self.vectors(sampler_state.running),
                self.vectors(sampler_state.total), np.array(sampler_state.next_order, dtype=np.int32),
                slots.reshape(-1, 2))

    def herded(self, state: tuple, sampler_state):
        """The lanes' GraB states after the loop ran on ``state`` (their orders and stale means as they were)."""
        means, runnings, totals, next_orders, slots = state[self.herding_at:]
        return sampler_state._replace(mean=self.layers(means), running=self.layers(runnings),
                                      total=self.layers(totals), next_order=next_orders,
                                      front=slots[:, 0].astype(np.int32), back=slots[:, 1].astype(np.int32))


class HerdedLoop(Herding, LinearLoop):
    """Plain SGD on a linear model with GraB's herding: state (V, scales, means, runnings, totals, next orders,
    slots), the herding vectors in V's layout, one a lane."""

    herding_at = 2

    def __init__(self, problem, batch_size: int):
        super().__init__(problem, batch_size)
        self.parted = False   # one thread a run: the herding follows the batch's entries in order

    def vectors(self, lanes) -> np.ndarray:
        return self.evaluation_state(lanes)[0]

    def layers(self, vectors: np.ndarray) -> np.ndarray:
        return LinearLoop.params(self, (vectors, np.ones(len(vectors))))

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The epoch of the lanes ``group`` with GraB's herding (:mod:`sgdlab.engines.native.linear_grab`)."""
        weights, scales, *herding = state
        linear_grab.grab_lanes(self.loss, self.rows, self.targets, weights[group], scales[group], indices, masks,
                               alphas, self.problem.l2, np.arange(len(indices)), self.problem.row_squared_norms,
                               *(part[group] for part in herding))


class GradientDescentLoop(LinearLoop):
    """Gradient descent on a linear model of one margin on CSR rows: the linear loop's state (V, scales), each
    lane's steps two sparse products (:mod:`sgdlab.engines.native.linear_gd`; the plan, all N rows, is not read)."""

    def __init__(self, problem, batch_size: int):
        super().__init__(problem, batch_size)
        #: Xᵀ as CSR: the gradient's product gathers its rows.
        self.transposed = problem.X.T.tocsr()

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The steps of the lanes ``group`` (step sizes: theirs alone)."""
        weights, scales = state
        for lane, r in enumerate(range(*group.indices(len(scales)))):
            scales[r] = linear_gd.gd_steps(self.loss, self.problem.X, self.transposed, self.targets, weights[r][:, 0],
                                           scales[r], alphas[lane], self.problem.l2)


class VarianceReducedLoop(RowsEvaluation):
    """SAGA or SVRG on a linear model of one margin (:mod:`sgdlab.engines.native.linear_variance_reduced`): state (θ:
    R × p, the stored derivatives φ: R × N, ḡ: R × p, the refresh flags: R × steps); the method's state is (φ, ḡ).
    ``stores``: SAGA (the batch's derivatives stored after each step), else SVRG (kept until the next snapshot)."""

    parted = False

    def __init__(self, problem, stores: bool):
        super().__init__(problem)
        self.stores = stores

    def initial_state(self, lanes: int) -> Any:
        """(φ, ḡ) of ``lanes`` runs before their first refresh (zeros)."""
        return np.zeros((lanes, self.problem.n)), np.zeros((lanes, self.problem.n_features))

    def state(self, lanes: np.ndarray, method_state: Any = (), epoch: int = 0, k0: int = 0, steps: int = 0,
              refreshes: np.ndarray | None = None) -> tuple:
        """The loop's state from the lanes' θ (R × p) and (φ, ḡ), copied: the epoch updates it in place; φ and ḡ
        refreshed before the steps the method's ``refreshes`` flag (R × steps)."""
        tables, means = method_state
        flags = np.zeros((len(lanes), steps), dtype=bool) if refreshes is None else refreshes
        return (np.array(lanes, dtype=np.float64, order="C"), np.array(tables, dtype=np.float64),
                np.array(means, dtype=np.float64), np.ascontiguousarray(flags, dtype=bool))

    @staticmethod
    def params(state: tuple) -> np.ndarray:
        """The lanes' θ (R × p)."""
        return state[0]

    @staticmethod
    def method_state(state: tuple) -> Any:
        """(φ, ḡ) after the epoch."""
        return state[1], state[2]

    #: Runs several epochs in one call (:meth:`run_epochs`).
    runs_epochs = True

    def run_epochs(self, state: tuple, group: slice, indices, masks, alphas, epoch_steps: int, dtype) -> None:
        """Several epochs of the lanes ``group`` in one call, their refresh flags one epoch after the other
        (linear_variance_reduced.reduced_epochs_lanes)."""
        ws, tables, means, refreshes = state
        linear_variance_reduced.reduced_epochs_lanes(self.loss, self.rows, self.targets, ws[group], tables[group],
                                                     means[group], indices, masks, refreshes[group], alphas,
                                                     self.problem.l2, np.arange(len(indices)), self.stores,
                                                     epoch_steps, np.dtype(dtype) == np.float32)

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The epoch of the lanes ``group`` on this thread."""
        ws, tables, means, refreshes = state
        linear_variance_reduced.reduced_lanes(self.loss, self.rows, self.targets, ws[group], tables[group],
                                              means[group], indices, masks, refreshes[group], alphas,
                                              self.problem.l2, np.arange(len(indices)), self.stores)


class MomentumLoop(LinearLoop):
    """Heavy ball or Nesterov on a linear model (:mod:`sgdlab.engines.native.linear_methods`): state (W, scales
    = 1, velocities), W and the velocities in the rows' layout; the method's state is the velocity, shaped
    like θ (R × p or R × p × K)."""

    def __init__(self, problem, batch_size: int, method):
        super().__init__(problem, batch_size)
        self.beta, self.nesterov = method.beta, declared(method, "native") == "nesterov"

    def initial_state(self, lanes: int) -> Any:
        """v⁰ = 0 for ``lanes`` runs."""
        return np.zeros((lanes, *self.shape))

    def state(self, lanes: np.ndarray, method_state: Any = (), epoch: int = 0, k0: int = 0, steps: int = 0,
              refreshes: np.ndarray | None = None) -> tuple:
        weights, scales = super().state(lanes)
        return weights, scales, super().state(method_state)[0]

    def params(self, state: tuple) -> np.ndarray:
        return super().params(state[:2])

    def method_state(self, state: tuple) -> Any:
        """The velocities, shaped like θ."""
        return super().params((state[2], np.ones(len(state[2]))))

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        weights, scales, velocities = state
        lanes = np.arange(len(indices))
        if self.parted:
            parted.parted_lanes(self.loss, self.rows, self.targets, weights[group], scales[group], indices, masks,
                                alphas, self.problem.l2, lanes, velocities[group], self.beta, self.nesterov)
        else:
            linear_methods.momentum_lanes(self.loss, self.rows, self.targets, weights[group], velocities[group],
                                          indices, masks, alphas, self.problem.l2, self.beta, self.nesterov, lanes)

    #: Runs several epochs in one call (:meth:`run_epochs`).
    runs_epochs = True

    def run_epochs(self, state: tuple, group: slice, indices, masks, alphas, epoch_steps: int, dtype) -> None:
        """Several epochs of the lanes ``group`` in one call (linear_methods.momentum_epochs_lanes); never parted."""
        weights, _, velocities = state
        linear_methods.momentum_epochs_lanes(self.loss, self.rows, self.targets, weights[group], velocities[group],
                                             indices, masks, alphas, self.problem.l2, self.beta, self.nesterov,
                                             np.arange(len(indices)), epoch_steps, np.dtype(dtype) == np.float32)

    def _velocity_copies(self, state: tuple, threads: int) -> list[tuple]:
        """Each thread's own copy of the velocity (thread 0's is the state's), with β and Nesterov?."""
        velocity = state[2][0]
        copies = [velocity, *(velocity.copy() for _ in range(threads - 1))]
        return [(copy, self.beta, self.nesterov) for copy in copies]


class AveragedLoop(LinearLoop):
    """Plain SGD with a Polyak–Ruppert (or tail) average (:mod:`sgdlab.engines.native.linear_methods`): state
    (V, scales, U, weights, the averaged count after the epoch, its first iteration k0); the method's state is
    the JAX engine's, ((), (θ̄, count))."""

    def __init__(self, problem, batch_size: int, averaging):
        super().__init__(problem, batch_size)
        self.parted, self.first = False, int(averaging.first or 0)

    def initial_state(self, lanes: int) -> Any:
        """θ̄ = 0 and no iterate counted yet, for ``lanes`` runs (θ̄ is θ until the first counted step)."""
        return (), (np.zeros((lanes, *self.shape)), np.zeros(lanes, dtype=np.int64))

    def state(self, lanes: np.ndarray, method_state: Any = (), epoch: int = 0, k0: int = 0, steps: int = 0,
              refreshes: np.ndarray | None = None) -> tuple:
        weights, scales = super().state(lanes)
        averages, counts = method_state[1]
        counts = np.asarray(counts, dtype=np.int64)
        sums = super().state(np.asarray(averages) * counts.reshape(-1, *[1] * len(self.shape)))[0]
        counted = max(0, k0 + steps - max(self.first, k0))
        return weights, scales, sums, np.zeros(len(scales)), counts + counted, k0

    def params(self, state: tuple) -> np.ndarray:
        return super().params(state[:2])

    def method_state(self, state: tuple) -> Any:
        """((), (θ̄, count)) after the epoch: θ̄ = (U + weight·V)/count, or θ while nothing is counted."""
        weights, scales, sums, weighted, counts, _ = state
        totals = super().params((sums + weighted[:, None, None] * weights, np.ones(len(scales))))
        shape = (-1, *[1] * len(self.shape))
        averages = np.where(counts.reshape(shape) > 0, totals / np.maximum(counts, 1).reshape(shape),
                            self.params(state))
        return (), (averages, counts)

    #: Runs several epochs in one call (:meth:`run_epochs`).
    runs_epochs = True

    def run_epochs(self, state: tuple, group: slice, indices, masks, alphas, epoch_steps: int, dtype) -> None:
        """Several epochs of the lanes ``group`` in one call (linear_methods.averaged_epochs_lanes), from the counts
        before them (the state holds those after)."""
        weights, scales, sums, weighted, counts, k0 = state
        before = counts[group] - max(0, k0 + indices.shape[1] - max(self.first, k0))
        linear_methods.averaged_epochs_lanes(self.loss, self.rows, self.targets, weights[group], scales[group],
                                             sums[group], weighted[group], before, indices, masks, alphas,
                                             self.problem.l2, k0, self.first, np.arange(len(indices)), epoch_steps,
                                             np.dtype(dtype) == np.float32)

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        weights, scales, sums, weighted, _, k0 = state
        linear_methods.averaged_lanes(self.loss, self.rows, self.targets, weights[group], scales[group], sums[group],
                                      weighted[group], indices, masks, alphas, self.problem.l2, k0, self.first,
                                      np.arange(len(indices)))


class NetworkLoop(MethodFree):
    """A one-hidden-layer ReLU network's loop: state (U₁, b₁, U₂, b₂) of shapes R × PARTS × h × p,
    R × PARTS × h, R × PARTS × K × h and R × PARTS × K (b₂: a copy a thread), h = ⌈H / PARTS⌉."""

    parts = network_sgd.PARTS

    def __init__(self, problem, batch_size: int):
        self.problem = problem
        self.loss = linear_sgd.SOFTMAX if problem.task == "classification" else linear_sgd.SQUARED
        self.X, self.targets = problem.native_data()
        (width,) = problem.hidden
        self.width, self.part_width = width, -(-width // network_sgd.PARTS)
        self.parted = step_work(problem, batch_size) >= parted.PARTED_MIN_WORK
        #: The loop computes in X's float type: a float32 network's steps are float32 throughout.
        self.dtype = self.X.dtype

    def state(self, lanes: list, method_state: Any = (), epoch: int = 0, k0: int = 0, steps: int = 0,
              refreshes: np.ndarray | None = None) -> tuple:
        """The parts of the lanes' layers [{"W": R × p × H, "b": R × H}, {"W": R × H × K, "b": R × K}] in the
        data's float type; a part's units past H (when H is odd) have zero weights and stay zero."""
        return self._parts(lanes, self.dtype)

    def _parts(self, lanes: list, dtype) -> tuple:
        """The parts of the lanes' layers (see :meth:`state`) as arrays of ``dtype``."""
        (W1, b1), (W2, b2) = ((np.asarray(layer["W"], dtype), np.asarray(layer["b"], dtype)) for layer in lanes)
        padded = network_sgd.PARTS * self.part_width
        W1, b1, W2 = (_padded(array, axis, padded) for array, axis in ((W1, 2), (b1, 1), (W2, 1)))
        lanes_count, features = W1.shape[:2]
        U1 = W1.reshape(lanes_count, features, network_sgd.PARTS, self.part_width).transpose(0, 2, 3, 1)
        U2 = W2.reshape(lanes_count, network_sgd.PARTS, self.part_width, -1).transpose(0, 1, 3, 2)
        b2 = np.repeat(b2[:, None], network_sgd.PARTS, axis=1)
        return (np.ascontiguousarray(U1), b1.reshape(lanes_count, network_sgd.PARTS, self.part_width).copy(),
                np.ascontiguousarray(U2), b2)

    def params(self, state: tuple) -> list:
        """The lanes' layers from their parts (b₂: thread 0's copy)."""
        U1, b1, U2, b2 = state
        lanes_count, features = len(U1), U1.shape[3]
        W1 = U1.transpose(0, 3, 1, 2).reshape(lanes_count, features, -1)[:, :, :self.width]
        W2 = U2.transpose(0, 1, 3, 2).reshape(lanes_count, -1, U2.shape[2])[:, :self.width]
        return [{"W": W1, "b": b1.reshape(lanes_count, -1)[:, :self.width]}, {"W": W2, "b": b2[:, 0].copy()}]

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The epoch of the lanes ``group`` on this thread, each lane's parts one after the other."""
        U1, b1, U2, b2 = state
        network_sgd.network_lanes(self.loss, self.X, self.targets, U1[group], b1[group], U2[group], b2[group],
                                  indices, masks, alphas, np.arange(len(indices)))

    #: History rows come from :meth:`evaluate`, in float64 whatever θ's type (X's rows converted as they are read).
    evaluates = True

    def evaluation_state(self, lanes) -> tuple:
        """The parts of the lanes' layers in float64, the layout :meth:`evaluate` reads."""
        return self._parts(lanes, np.float64)

    def evaluate(self, state: tuple, lane: int, rows: slice) -> tuple:
        """Lane ``lane``'s share of (F, ∇F, {"zero_preactivations": the count of hidden pre-activations
        exactly 0, "correct": the count of rows classified correctly (0 for regression)}) from the data's
        ``rows`` (network_sgd.network_evaluation): the shares of disjoint row ranges add up; ∇F is a list
        of arrays."""
        U1, b1, U2, b2 = (array[lane] for array in state)
        gradients = [np.zeros_like(U1), np.zeros_like(b1), np.zeros_like(U2), np.zeros_like(b2[0])]
        loss, zeros, correct = network_sgd.network_evaluation(self.loss, self.X, self.targets, U1, b1, U2, b2,
                                                               self.width, rows.start, rows.stop, *gradients)
        return loss, gradients, {"zero_preactivations": float(zeros), "correct": correct}

    def score(self, state: tuple, lane: int, data: tuple, rows: slice) -> tuple[float, int]:
        """Lane ``lane``'s sum of losses and count of rows classified correctly over ``rows`` of other data
        (X, targets) of this network, e.g. held-out rows (network_sgd.network_scores)."""
        (U1, b1, U2, b2), (X, targets) = (array[lane] for array in state), data
        return network_sgd.network_scores(self.loss, X, targets, U1, b1, U2, b2, rows.start, rows.stop)

    def part_runs(self, state: tuple, indices, masks, alphas) -> list:
        """One callable a thread for the epoch of a single run (lane 0): thread r computes part r."""
        U1, b1, U2, b2 = (array[0] for array in state)
        threads = self.parts
        flags = meeting.flags_for(threads)
        outputs = np.zeros((2, network_sgd.PARTS, U2.shape[1], indices.shape[2]), U2.dtype)

        def run(thread: int):
            network_sgd.network_epoch(self.loss, self.X, self.targets, U1, b1, U2, b2, indices[0], masks[0], alphas[0],
                                      thread, threads, flags, outputs)

        return [functools.partial(run, thread) for thread in range(threads)]


class HerdedNetworkLoop(Herding, NetworkLoop):
    """Plain SGD on a network with GraB's herding: state (U₁, b₁, U₂, b₂, means, runnings, totals, next orders,
    slots), the herding vectors flat in the parts' layout (network_grab.herding_blocks: U₁, b₁, U₂, then b₂ once);
    a single run's parts on threads of their own as :class:`NetworkLoop`'s."""

    herding_at = 4

    def vectors(self, lanes) -> np.ndarray:
        U1, b1, U2, b2 = self._parts(lanes, self.dtype)
        count = len(U1)
        return np.concatenate([U1.reshape(count, -1), b1.reshape(count, -1), U2.reshape(count, -1), b2[:, 0]], axis=1)

    def layers(self, vectors: np.ndarray) -> list:
        count, parts, width = len(vectors), network_sgd.PARTS, self.part_width
        features, classes = self.X.shape[1], np.size(self.problem.params0[-1]["b"])
        ends = np.cumsum([parts * width * features, parts * width, parts * classes * width])
        U1, b1, U2, b2 = np.split(vectors, ends, axis=1)
        return self.params((U1.reshape(count, parts, width, features), b1.reshape(count, parts, width),
                            U2.reshape(count, parts, classes, width), b2[:, None]))

    def run_lanes(self, state: tuple, group: slice, indices, masks, alphas) -> None:
        """The epoch of the lanes ``group`` with GraB's herding (:mod:`sgdlab.engines.native.network_grab`)."""
        U1, b1, U2, b2, *herding = (array[group] for array in state)
        network_grab.network_grab_lanes(self.loss, self.X, self.targets, U1, b1, U2, b2, indices, masks, alphas,
                                        np.arange(len(indices)), *herding)

    def part_runs(self, state: tuple, indices, masks, alphas) -> list:
        """One callable a thread for the epoch of a single run (lane 0): thread r computes part r and its share of
        the herding, the threads meeting after every entry's products (network_grab.network_grab_epoch)."""
        U1, b1, U2, b2, mean, running, total, next_order, slots = (array[0] for array in state)
        threads = self.parts
        flags, balanced = meeting.flags_for(threads), running.copy()
        outputs = np.zeros((2, network_sgd.PARTS, U2.shape[1], indices.shape[2]), self.dtype)
        shares, kernels = network_grab.network_grab_meeting_arrays(network_sgd.PARTS, indices.shape[2])

        def run(thread: int):
            network_grab.network_grab_epoch(self.loss, self.X, self.targets, U1, b1, U2, b2, indices[0], masks[0],
                                            alphas[0], mean, running, total, balanced, next_order, slots, thread,
                                            threads, flags, outputs, shares, kernels)

        return [functools.partial(run, thread) for thread in range(threads)]


def _padded(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    """``array`` with zeros appended along ``axis`` up to ``size`` (itself when it has that size)."""
    if array.shape[axis] == size:
        return array.copy()
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, size - array.shape[axis])
    return np.pad(array, widths)
