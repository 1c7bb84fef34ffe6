"""NativeRun: the epochs of one (problem, sampler) run by the native loop, with CompiledRun's interface.

Each epoch takes its plan from the sampler (``sampler.host_plan``: the JAX engine's plan, computed
on the host) and its step sizes αₖ from the schedule evaluated at the epoch's iterations,
then calls :func:`~sgdlab.kernels.linear_sgd.sgd_epoch`. History rows (F, ‖∇F‖, ‖θ − θ*‖) come from
the JAX engine's compiled evaluation, so both engines report the same numbers. With ``lanes`` = R
the R runs' epochs are spread over one thread per core (the loop releases the GIL).
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab import engine
from sgdlab.kernels import linear_sgd
from sgdlab.schedules import Constant, Schedule

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

    def prepare(self, record: bool) -> float:
        """Compile the native loop for these rows (a one-step epoch); return the seconds spent."""
        started = time.perf_counter()
        classes = 1 if self.loss != linear_sgd.SOFTMAX else self.problem.n_classes
        one = np.zeros((1, 1), dtype=np.int32)
        linear_sgd.sgd_epoch(self.loss, self.rows, self.targets, np.zeros((classes, self.problem.n_features)), 1.0,
                             one, np.ones((1, 1), dtype=bool), np.zeros(1), 0.0)
        return time.perf_counter() - started

    def epoch(self, params, opt_state, k: int, seed, epoch: int, schedule: Schedule, record: bool):
        """One epoch from iteration k (of every lane); returns what CompiledRun.epoch returns."""
        if self.lanes is None:
            params, k_next = self._lane_epoch(params, k, seed, epoch, schedule)
            return params, opt_state, k_next, self._metrics(params, record)
        lanes = list(_threads().map(
            lambda i: self._lane_epoch(engine.lane_params(params, i), k, seed[i], epoch, _lane(schedule, i)),
            range(self.lanes)))
        stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *[lane for lane, _ in lanes])
        metrics = [self._metrics(lane, record) for lane, _ in lanes]
        return stacked, opt_state, lanes[0][1], jax.tree.map(lambda *values: np.asarray(values), *metrics)

    def evaluate(self, params) -> engine.Metrics:
        """F, ‖∇F‖ and ‖θ − θ*‖ at one run's θ, from the JAX engine's compiled evaluation."""
        return self.compiled.evaluate(params)

    def _lane_epoch(self, params, k: int, seed, epoch: int, schedule: Schedule):
        indices, mask = self.sampler.host_plan(self.problem.n, int(seed), epoch)
        alphas = step_sizes(schedule, k, indices.shape[0])
        shape = np.shape(params)
        weights = np.array(params, dtype=np.float64).reshape(self.problem.n_features, -1).T.copy()
        scale, _ = linear_sgd.sgd_epoch(self.loss, self.rows, self.targets, weights, 1.0, indices, mask, alphas,
                                        self.problem.l2)
        return (scale * weights).T.reshape(shape), k + indices.shape[0]

    def _metrics(self, params, record: bool) -> engine.Metrics:
        if record:
            return self.evaluate(params)
        nan = float("nan")
        return engine.Metrics(bool(np.all(np.isfinite(params))), nan, nan, nan, nan, {})


@functools.cache
def _threads() -> concurrent.futures.ThreadPoolExecutor:
    """One worker per core: the native loop releases the GIL, so lanes run side by side."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="sgdlab-lane")


def _lane(schedule: Schedule, i: int) -> Schedule:
    return jax.tree.map(lambda leaf: leaf[i], schedule)


def step_sizes(schedule: Schedule, k0: int, count: int) -> np.ndarray:
    """(α_{k0}, …, α_{k0+count−1}), as the JAX engine computes each (a constant step needs no JAX call)."""
    if isinstance(schedule, Constant):
        return np.full(count, float(schedule.alpha))
    return np.asarray(_compiled_step_sizes(schedule, jnp.asarray(k0, jnp.int64), count))


@functools.partial(jax.jit, static_argnums=2)
def _compiled_step_sizes(schedule: Schedule, k0, count: int) -> jax.Array:
    return jax.vmap(schedule)(k0 + jnp.arange(count, dtype=jnp.int64))
