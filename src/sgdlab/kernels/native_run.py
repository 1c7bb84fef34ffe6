"""NativeRun: the epochs of one (problem, sampler) run by the native loop, with CompiledRun's interface.

Each epoch takes its plan from the sampler (``sampler.plan``, the plan the JAX engine runs too) and
its step sizes αₖ from the schedule evaluated at the epoch's iterations, then calls
:func:`~sgdlab.kernels.linear_sgd.sgd_lanes`, or for large dense batches
:mod:`sgdlab.kernels.parted` (each step's gradient summed in parts). History rows (F, ‖∇F‖,
‖θ − θ*‖) come from the JAX engine's compiled evaluation, so both engines report the same numbers.
With ``lanes`` = R the R runs are split into one group per core, each group one call of the loop on
its own thread (the loop releases the GIL); a single run of parted steps has its parts computed on
threads of their own instead.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab import engine
from sgdlab.kernels import linear_sgd, meeting, parted
from sgdlab.schedules import Constant, Schedule

#: Worker threads for the lanes of a comparison, and whether one run's parts get threads of their
#: own: the cores this process may run on.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

#: The kernel's switch for each problem's ``native_loss``.
LOSSES = {"squared": linear_sgd.SQUARED, "logistic": linear_sgd.LOGISTIC, "softmax": linear_sgd.SOFTMAX}


class NativeRun:
    """Runs epochs natively and evaluates with ``compiled`` (the JAX engine's CompiledRun)."""

    engine = "native"

    def __init__(self, compiled: engine.CompiledRun):
        self.compiled = compiled
        problem = compiled.problem
        self.problem, self.sampler, self.lanes = problem, compiled.sampler, compiled.lanes
        self.loss = LOSSES[problem.native_loss]
        self.rows, self.targets = problem.native_data()
        self.dtype = np.asarray(problem.params0).dtype   # θ's: the loop computes in float64, θ rounds to it
        self.classes = 1 if self.loss != linear_sgd.SOFTMAX else problem.n_classes
        width = getattr(self.sampler, "batch_size", problem.n)   # gradient descent: one batch of all N
        self.parted = parted.is_parted(self.rows, width, self.classes)

    def prepare(self, record: bool) -> float:
        """Compile the native loop for these rows (a one-step epoch) and, for lanes recording history, their
        vmapped evaluation; return the seconds spent."""
        started = time.perf_counter()
        kernel = parted.parted_lanes if self.parted else linear_sgd.sgd_lanes
        one = np.zeros((1, 1, 1), dtype=np.int32)
        zeros = linear_sgd.weights_layout(self.rows, np.zeros((1, self.problem.n_features, self.classes)))
        kernel(self.loss, self.rows, self.targets, zeros, np.ones(1), one,
               np.ones((1, 1, 1), dtype=bool), np.zeros((1, 1)), 0.0, np.arange(1))
        if record and self.lanes is not None:   # the lanes' evaluation is compiled here, not in an epoch
            self.compiled.evaluate_lanes(np.zeros((self.lanes, *np.shape(self.problem.params0)), self.dtype))
        return time.perf_counter() - started

    def epoch(self, params, opt_state, k: int, seed, epoch: int, schedule: Schedule, record: bool):
        """One epoch from iteration k (of every lane); returns what CompiledRun.epoch returns."""
        seeds = np.atleast_1d(np.asarray(seed))
        steps = self.sampler.steps_per_epoch(self.problem.n)
        alphas = step_sizes(schedule if self.lanes is not None else _stacked(schedule), k, steps)
        lanes = np.asarray(params, dtype=np.float64).reshape(len(seeds), *np.shape(self.problem.params0))
        weights = linear_sgd.weights_layout(self.rows, lanes.reshape(len(seeds), self.problem.n_features, -1))
        scales = np.ones(len(seeds))
        self._run_lanes(weights, scales, seeds, epoch, alphas)
        final = linear_sgd.weights_from_layout(self.rows, scales[:, None, None] * weights)
        final = final.reshape(lanes.shape).astype(self.dtype)
        metrics = self._metrics(final, record)
        if self.lanes is None:
            return final[0], opt_state, k + steps, metrics.lane(0)
        return final, opt_state, k + steps, metrics

    def _run_lanes(self, weights, scales, seeds, epoch: int, alphas) -> None:
        """The epoch of every lane, in one group of consecutive lanes a core, each group on its own
        thread, which draws its lanes' plans (the draws release the GIL too) and runs the loop."""
        if self.parted and len(seeds) == 1 and CORES >= parted.PARTS:
            return self._run_parts(weights, scales, seeds, epoch, alphas)
        kernel = parted.parted_lanes if self.parted else linear_sgd.sgd_lanes

        def run(group: slice):
            indices, masks = self.sampler.stacked_plans(self.problem.n, seeds[group], epoch)
            kernel(self.loss, self.rows, self.targets, weights[group], scales[group], indices, masks, alphas[group],
                   self.problem.l2, np.arange(len(indices)))

        bounds = np.linspace(0, len(seeds), min(len(seeds), CORES) + 1).astype(int)
        groups = [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]
        if len(groups) == 1:
            run(groups[0])
        else:
            list(_threads().map(run, groups))

    def _run_parts(self, weights, scales, seeds, epoch: int, alphas) -> None:
        """One run's epoch with each step's parts computed side by side: part 0 on this thread, the
        others on threads of their own (started for the epoch), each with its own copy of the weights."""
        indices, masks = self.sampler.stacked_plans(self.problem.n, seeds, epoch)
        threads = parted.PARTS
        flags, gradients = meeting.flags_for(threads), parted.gradients_for(*weights.shape[1:])
        copies = [weights[0], *(weights[0].copy() for _ in range(threads - 1))]

        def run(thread: int):
            scale = parted.parted_epoch(self.loss, self.rows, self.targets, copies[thread], scales[0], indices[0],
                                        masks[0], alphas[0], self.problem.l2, thread, threads, flags, gradients)
            if thread == 0:
                scales[0] = scale

        helpers = [threading.Thread(target=run, args=(thread,), name=f"sgdlab-part-{thread}", daemon=True)
                   for thread in range(1, threads)]
        for helper in helpers:
            helper.start()
        run(0)
        for helper in helpers:
            helper.join()

    def evaluate(self, params) -> engine.Metrics:
        """F, ‖∇F‖ and ‖θ − θ*‖ at one run's θ, from the JAX engine's compiled evaluation."""
        return self.compiled.evaluate(params)

    def _metrics(self, lanes: np.ndarray, record: bool) -> engine.Metrics:
        """The metrics of every lane (arrays with one entry a lane): evaluated when recording, else
        only whether each lane's θ is finite."""
        if record and self.lanes is None:
            return jax.tree.map(lambda value: np.asarray([value]), self.evaluate(lanes[0]))
        if record:
            return self.compiled.evaluate_lanes(lanes)
        finite = np.isfinite(lanes).reshape(len(lanes), -1).all(axis=1)
        nan = np.full(len(lanes), np.nan)
        return engine.Metrics(finite, nan, nan, nan, nan, {})


@functools.cache
def _threads() -> concurrent.futures.ThreadPoolExecutor:
    """One worker per core: the native loop releases the GIL, so groups of lanes run side by side."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=CORES, thread_name_prefix="sgdlab-lane")


def _stacked(schedule: Schedule) -> Schedule:
    """One run's schedule as a batch of one lane (NumPy leaves: no JAX dispatch)."""
    return jax.tree.map(lambda leaf: np.reshape(np.asarray(leaf), (1,)), schedule)


def step_sizes(schedule: Schedule, k0: int, count: int) -> np.ndarray:
    """α_{k0 + t} for t < count and every lane of a stacked ``schedule`` (lanes × count), as the JAX
    engine computes each; a constant step needs no JAX call (a broadcast view)."""
    if isinstance(schedule, Constant):
        alpha = np.asarray(schedule.alpha, dtype=np.float64)
        return np.broadcast_to(alpha[:, None], (alpha.size, count))
    return np.asarray(_compiled_step_sizes(schedule, jnp.asarray(k0, jnp.int64), count))


@functools.partial(jax.jit, static_argnums=2)
def _compiled_step_sizes(schedule: Schedule, k0, count: int) -> jax.Array:
    iterations = k0 + jnp.arange(count, dtype=jnp.int64)
    return jax.vmap(lambda lane: jax.vmap(lane)(iterations))(schedule)
