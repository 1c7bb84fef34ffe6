"""NativeRun: the native engine's epoch program (:class:`~sgdlab.engines.base.EpochProgram`).

Each epoch takes its plan from the sampler (``sampler.plan``, the plan the JAX engine runs too) and
its step sizes αₖ from the schedule evaluated at the epoch's iterations, then calls the model's loop
(:mod:`sgdlab.engines.native.loops`: the linear models' or the ReLU network's). History rows (F, ‖∇F‖,
‖θ − θ*‖) come from the loop's own evaluation of the JAX engine's formulas, summed in float64 (equal to the JAX
engine's to 1e-10 in float64, tested), or from the JAX engine's compiled evaluation for a loop without one.
With ``lanes`` = R the R runs are split into one group per core, each group one call of the loop on
its own thread (the loop releases the GIL); a single run whose steps are split in parts has its parts
computed on threads of their own instead.

Whole epochs that need nothing of the host between them (no row, no stopping rule to test, no checkpoint) run in
one call of the loop (:meth:`NativeRun.epochs`, for loops that declare ``runs_epochs``): the plans of all of them
drawn at once, θ handed from epoch to epoch inside the loop exactly as between two calls, so a tiny problem's
epoch costs its arithmetic, not the host's dispatch.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import os
import time
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab._helpers.declared import declared
from sgdlab.engines.base import Carry, Metrics, Seeds
from sgdlab.engines.compiled import CompiledRun
from sgdlab.engines.native import loops
from sgdlab.engines.native.stale_caches import clear_this_package_once
from sgdlab.engines.plans import EpochPlans, plan_steps
from sgdlab.samplers import RunOrdered
from sgdlab.schedules import Constant, Schedule

#: Worker threads for the lanes of a comparison, and whether one run's parts get threads of their
#: own: the cores this process may run on.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
#: Steps of the scratch epoch that prepares a program: a few, enough for every array a loop takes to have the
#: type a real epoch's has (Numba compiles a loop once a type).
WARM_UP_STEPS = 2
#: The fewest steps a call of a single run's loop has for its parts to go on threads of their own: handing
#: the parts to the other threads costs tens of µs a call, more than a piece of a short epoch gains (one
#: thread computing every part gives the same run bit for bit).
PARTED_MIN_STEPS = 32
#: Row ranges a lane's native evaluation is split into, computed side by side: a number fixed by the problem, so
#: the history of a run does not depend on the cores or on the lanes beside it; two so that one run's history row
#: uses both cores of a 2-core machine, one when the data hold fewer than ONE_RANGE_BELOW numbers (handing a range
#: to another thread costs more than it saves).
EVALUATION_PIECES = 2
ONE_RANGE_BELOW = 65_536
#: The most plan entries (lanes × steps × B, int32 indices and a mask byte each: about 5 MB) the epochs of one call
#: of :meth:`NativeRun.epochs` may hold: a tiny problem's thousands of epochs, a large one's few.
FUSED_PLAN_ENTRIES = 2**20


class NativeRun:
    """Runs epochs natively and evaluates with ``compiled`` (the JAX engine's CompiledRun)."""

    engine = "native"

    def __init__(self, compiled: CompiledRun):
        clear_this_package_once()
        self.compiled = compiled
        problem = compiled.problem
        self.problem, self.sampler, self.lanes = problem, compiled.sampler, compiled.lanes
        width = getattr(self.sampler, "batch_size", problem.n)   # gradient descent: one batch of all N
        self.rule = compiled.rule
        #: Whether the run keeps an averaged iterate (its metrics are recorded beside θ's).
        self.averages = self.rule.averaging is not None
        self.loop = loops.loop_for(problem, width, self.rule, self.sampler.is_full_batch,
                                   self.sampler.depends_on_run)
        self.dtype = jax.tree.leaves(problem.params0)[0].dtype   # θ's (the linear loops compute in float64)
        self.extras = (*jax.eval_shape(problem.diagnostics, problem.params0, problem.data), *compiled.reference.columns)
        self._prepared: set[bool] = set()
        self._epoch_plans = EpochPlans(self.sampler, problem.n)
        #: The batch entries of each step of an epoch (the same in every epoch), each one per-example gradient.
        self._examples = np.count_nonzero(self.sampler.plan(problem.n, 0, 0)[1], axis=1)

    def initial_state(self, params) -> Any:
        """The method's state at θ⁰ (SAGA's empty table; nothing for plain SGD), one per lane when batched."""
        stacked = self.loop.initial_state(self.lanes or 1)
        return stacked if self.lanes is not None else jax.tree.map(lambda leaf: leaf[0], stacked)

    def initial_sampler_state(self, params, seeds) -> Any:
        """The state of a sampler whose plans depend on the run (GraB's), as the JAX engine starts it; else None."""
        return self.compiled.initial_sampler_state(params, seeds)

    def prepare(self, record: bool) -> float:
        """Run the first steps of a scratch epoch through the code of :meth:`epoch` (with zero step sizes, of the one
        type every loop takes them in: :func:`loop_step_sizes`): so every loop, draw and evaluation an epoch calls is
        compiled, or loaded from Numba's cache, here and not in the first epoch's time (once a program and record
        variant). Returns the seconds spent."""
        if record in self._prepared:
            return 0.0
        started = time.perf_counter()
        count = self.lanes or 1
        steps = min(WARM_UP_STEPS, self.sampler.steps_per_epoch(self.problem.n))
        zeros = jax.tree.map(lambda leaf: np.zeros((count, *np.shape(leaf)), self.dtype), self.problem.params0)
        seeds = np.zeros(count, dtype=np.int64)
        sampler_state = self._with_lanes(self.initial_sampler_state(self._without_lanes(zeros), seeds))
        refreshes = self._refreshes(seeds, 0, (0, steps))
        self._advance(zeros, self.loop.initial_state(count), seeds, 0, 0, np.zeros((count, steps)), record,
                      (0, steps), sampler_state, refreshes)
        if self.epochs_per_call > 1 and not record:   # epochs run many a call only between rows (run.loop.stretch):
            # when some epochs skip their row, which is when a program is prepared without one too
            self._warm_up_epochs(zeros, seeds, np.zeros((count, 2 * steps)), record)
        self._prepared.add(record)
        return time.perf_counter() - started

    def _warm_up_epochs(self, zeros, seeds: np.ndarray, alphas: np.ndarray, record: bool) -> None:
        """Compile the loop's call of many epochs (:meth:`epochs`): two "epochs" of the scratch plan's first
        steps."""
        half = alphas.shape[-1] // 2
        plans = plan_steps(self._epoch_plans(seeds, 0), (0, half))
        plans = tuple(np.concatenate([part, part], axis=1) for part in plans)
        state = self.loop.state(zeros, self.loop.initial_state(len(seeds)), 0, 0, alphas.shape[-1], None)
        self.loop.run_epochs(state, slice(0, len(seeds)), *self._weighed(plans, alphas), half, self.dtype)
        self._metrics(jax.tree.map(lambda leaf: leaf.astype(self.dtype), self.loop.params(state)), len(seeds), record)

    def epoch(self, carry: Carry, seeds: Seeds, epoch: int, schedule: Schedule | None,
              record: bool, steps: tuple[int, int] | None = None) -> tuple[Carry, Metrics]:
        """One epoch of every lane from ``carry``, or its ``steps`` (first, end); the metrics on the host."""
        params, opt_state, k, counted, sampler_state = carry
        seeds = np.atleast_1d(np.asarray(seeds))
        epoch_steps = self.sampler.steps_per_epoch(self.problem.n)
        first, end = (0, epoch_steps) if steps is None else steps
        alphas = self._step_sizes(schedule, k, end - first, seeds)
        params, opt_state, sampler_state = self._with_lanes((params, opt_state, sampler_state))
        refreshes = self._refreshes(seeds, epoch, (first, end))
        final, opt_state, metrics, sampler_state = self._advance(params, opt_state, seeds, epoch, k, alphas, record,
                                                                 steps, sampler_state, refreshes)
        if sampler_state is not None:   # GraB's order and stale mean move on at the epoch's end
            ordered = typing.cast(RunOrdered, self.sampler)
            sampler_state = ordered.after_steps(sampler_state, k + end - first, self.problem.n)
        examples = np.full(seeds.size, int(self._examples[first:end].sum()))
        counted = counted + self.rule.gradient_counts(examples, refreshes, self.problem.n)
        return self._carried(Carry(final, opt_state, k + end - first, counted, sampler_state), metrics)

    @functools.cached_property
    def epochs_per_call(self) -> int:
        """How many whole epochs one call of :meth:`epochs` may run: as many as FUSED_PLAN_ENTRIES plan entries hold,
        when the loop runs epochs one after the other in one call (its class declares ``runs_epochs``) and does not
        sum a step's batch in parts (another summation than the one-call loop's), the plans come from (seed,
        epoch) alone, the program runs whole epochs, and θ is float32 or float64; else 1."""
        width = self.sampler.steps_per_epoch(self.problem.n) * int(self._examples.max(initial=1))
        if (not declared(self.loop, "runs_epochs", False) or self.loop.parted or self.sampler.depends_on_run
                or self.compiled.chunk or np.dtype(self.dtype) not in (np.float32, np.float64)):
            return 1
        return max(1, FUSED_PLAN_ENTRIES // ((self.lanes or 1) * width))

    def epochs(self, carry: Carry, seeds: Seeds, first: int, count: int, schedule: Schedule | None,
               record: bool) -> tuple[Carry, Metrics]:
        """Epochs ``first`` … ``first + count − 1`` of every lane (count ≤ :attr:`epochs_per_call`) in one call of
        the loop a group of lanes, the plans of all of them drawn at once; the metrics at the last epoch's end.
        The lanes end where ``count`` calls of :meth:`epoch` leave them, bit for bit; ``carry`` is left as it was."""
        params, opt_state, k, counted, _ = carry
        seeds = np.atleast_1d(np.asarray(seeds))
        steps = count * self.sampler.steps_per_epoch(self.problem.n)
        alphas = self._step_sizes(schedule, k, steps, seeds)
        params, opt_state = self._with_lanes((params, opt_state))
        refreshes = self._epochs_refreshes(seeds, first, count)
        final, opt_state, metrics, _ = self._advance(params, opt_state, seeds, first, k, alphas, record,
                                                     refreshes=refreshes, epochs=count)
        examples = np.full(seeds.size, count * int(self._examples.sum()))
        counted = counted + self.rule.gradient_counts(examples, refreshes, self.problem.n)
        return self._carried(Carry(final, opt_state, k + steps, counted, None), metrics)

    def _step_sizes(self, schedule: Schedule | None, k: int, count: int, seeds: np.ndarray) -> np.ndarray:
        """αₖ … α_{k + count − 1} of every lane (:func:`step_sizes`); an optax optimizer (no schedule) is refused."""
        if schedule is None:
            raise ValueError("the native engine runs step schedules; an optax optimizer runs on the JAX engine")
        return step_sizes(schedule if self.lanes is not None else _stacked(schedule), k, count, seeds.size)

    def _carried(self, carry: Carry, metrics: Metrics) -> tuple[Carry, Metrics]:
        """The carry and metrics an epoch hands back: as they are with lanes, else one run's (its lane taken off, the
        gradient count an int)."""
        if self.lanes is not None:
            return carry, metrics
        params, opt_state, counted, sampler_state = self._without_lanes((carry.params, carry.opt_state,
                                                                         carry.gradients, carry.sampler_state))
        return Carry(params, opt_state, carry.iteration, int(counted), sampler_state), metrics.lane(0)

    def _epochs_refreshes(self, seeds: np.ndarray, first: int, count: int) -> np.ndarray | None:
        """The method's refresh flags of epochs ``first`` … ``first + count − 1``, one after the other (lanes ×
        count·S); None for a method without any."""
        whole = (0, self.sampler.steps_per_epoch(self.problem.n))
        flags = self._refreshes(seeds, first, whole)
        if flags is None:
            return None
        later = [self._refreshes(seeds, epoch, whole) for epoch in range(first + 1, first + count)]
        return np.concatenate([flags, *typing.cast(list[np.ndarray], later)], axis=1)

    def _refreshes(self, seeds: np.ndarray, epoch: int, steps: tuple[int, int]) -> np.ndarray | None:
        """The method's refresh flags (SAGA's table start, SVRG's snapshots) of the lanes' ``steps`` (first, end) of
        epoch ``epoch`` (lanes × steps), as the JAX engine draws them; None for a method without any."""
        epoch_steps = self.sampler.steps_per_epoch(self.problem.n)
        flags = self.rule.flags(self.problem.n, self.sampler, seeds, epoch, epoch_steps)
        return None if flags is None else flags[:, steps[0]:steps[1]]

    def _with_lanes(self, tree):
        """One run's pytree with a lane axis of one (as it is when there are lanes)."""
        return tree if self.lanes is not None else jax.tree.map(lambda leaf: np.asarray(leaf)[None], tree)

    def _without_lanes(self, tree):
        """The lane axis of one run's pytree taken away (as it is when there are lanes)."""
        return tree if self.lanes is not None else jax.tree.map(lambda leaf: leaf[0], tree)

    def _advance(self, lanes, method_state, seeds: np.ndarray, epoch: int, k0: int, alphas: np.ndarray,
                 record: bool, steps: tuple[int, int] | None = None, sampler_state=None,
                 refreshes: np.ndarray | None = None, epochs: int = 1) -> tuple:
        """The lanes' θ after epoch ``epoch`` from iteration k0 (its ``steps`` (first, end), or all; or after
        ``epochs`` whole epochs from it), in θ's dtype, the method's state after it (refreshed at the ``refreshes``
        flags), their metrics (one entry a lane) and the sampler's state after it (for plans that depend on the
        run: cut from its order, the loop herding the next one; else None)."""
        state = self.loop.state(lanes, method_state, epoch, k0, alphas.shape[-1], refreshes)
        plans = None
        if sampler_state is not None:
            state = (*state, *self.loop.herding(sampler_state))
            plans = plan_steps(self.compiled.plans_of(sampler_state), steps)
        if self._on_parts(len(seeds)):
            self._run_parts(state, seeds, epoch, alphas, steps, plans)
        else:
            self._run_lanes(state, seeds, epoch, alphas, steps, plans, epochs)
        final = jax.tree.map(lambda leaf: leaf.astype(self.dtype), self.loop.params(state))
        method_state = self.loop.method_state(state)
        metrics = self._metrics(final, len(seeds), record)
        if record and self.averages:   # the averaged iterate's metrics beside, evaluated as θ's are
            averages = jax.tree.map(lambda leaf: leaf.astype(self.dtype), method_state[1][0])
            metrics = metrics._replace(averaged=self._metrics(averages, len(seeds), record))
        herded = None if sampler_state is None else self.loop.herded(state, sampler_state)
        return final, method_state, metrics, herded

    def _plans(self, seeds: np.ndarray, epoch: int, steps: tuple[int, int] | None,
               epochs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The lanes' plans of epoch ``epoch`` (lanes × S × B), or their ``steps`` (first, end) alone; of ``epochs``
        whole epochs from it, one after the other (lanes × epochs·S × B)."""
        if epochs > 1:
            return self.sampler.epochs_plans(self.problem.n, seeds, epoch, epochs)
        return plan_steps(self._epoch_plans(seeds, epoch), steps)

    def _run_lanes(self, state, seeds, epoch: int, alphas, steps: tuple[int, int] | None, plans=None,
                   epochs: int = 1) -> None:
        """The epoch (or ``epochs`` whole epochs) of every lane, in one group of consecutive lanes a core, each group
        on its own thread, which draws its lanes' plans (the draws release the GIL too; or takes them from
        ``plans``, every lane's) and runs the loop."""
        epoch_steps = self.sampler.steps_per_epoch(self.problem.n)

        def run(group: slice):
            drawn = (self._plans(seeds[group], epoch, steps, epochs) if plans is None
                     else tuple(part[group] for part in plans))
            weighed = self._weighed(drawn, alphas[group])
            if epochs > 1:
                self.loop.run_epochs(state, group, *weighed, epoch_steps, self.dtype)
            else:
                self.loop.run_lanes(state, group, *weighed)

        self._map_groups(run, len(seeds))

    def _weighed(self, plans: tuple[np.ndarray, np.ndarray], alphas: np.ndarray) -> tuple:
        """(indices, masks, step sizes) as the loops take them. A sampler that weighs its draws (with plain SGD:
        :func:`sgdlab.engines.select.unsupported`) at B = 1 has each step's weight wₜ folded into its step size (the
        weighted step θ − αₜ wₜ ∇f_{iₜ}(θ) is plain SGD's at step size αₜ wₜ, the ℓ2 term included: the B = 1 loops
        read no mask); at B > 1 the linear models' batch loops read the weights from the mask."""
        indices, masks = plans
        if not self.sampler.weighted or masks.shape[-1] > 1:
            return indices, masks, loop_step_sizes(alphas)
        return indices, masks != 0, loop_step_sizes(alphas * masks[:, :, 0])

    def _on_parts(self, count: int) -> bool:
        """Whether this program's calls of ``count`` lanes run a single run's parts on threads of their own: when its
        steps are split in parts and its calls (an epoch, or a piece of one: ``compiled.chunk``) have at least
        PARTED_MIN_STEPS steps (the same arithmetic either way; the warm-up of :meth:`prepare` takes the same path)."""
        steps = self.compiled.chunk or self.sampler.steps_per_epoch(self.problem.n)
        return self.loop.parted and count == 1 and self.loop.parts <= CORES and steps >= PARTED_MIN_STEPS

    def _run_parts(self, state, seeds, epoch: int, alphas, steps: tuple[int, int] | None, plans=None) -> None:
        """One run's epoch with each step's parts computed side by side: part 0 on this thread, the
        others on the lane threads (idle while one run goes: there are as many as cores, and parts ≤ cores); its
        plan drawn, or taken from ``plans``."""
        drawn = self._plans(seeds, epoch, steps) if plans is None else plans
        first, *others = self.loop.part_runs(state, *self._weighed(drawn, alphas))
        helpers = [_threads().submit(run) for run in others]
        first()
        for helper in helpers:
            helper.result()

    def evaluate(self, params) -> Metrics:
        """F, ‖∇F‖ and ‖θ − θ*‖ at one run's θ, from the JAX engine's compiled evaluation."""
        return self.compiled.evaluate(params)

    def _metrics(self, lanes, count: int, record: bool) -> Metrics:
        """The metrics of every lane (arrays with one entry a lane): evaluated when recording (natively
        where the loop can), else only whether each lane's θ is finite."""
        finite = np.logical_and.reduce([np.isfinite(leaf).reshape(count, -1).all(axis=1)
                                        for leaf in jax.tree.leaves(lanes)])
        nan = np.full(count, np.nan)
        if record and self._evaluates_natively:
            return self._native_metrics(self.loop.evaluation_state(lanes), finite, count, lanes)
        if record and self.lanes is None:
            return jax.tree.map(lambda value: np.asarray([value]), self.evaluate(jax.tree.map(lambda x: x[0], lanes)))
        if record:
            return self.compiled.evaluate_lanes(lanes)
        return Metrics(finite, nan, nan, nan, nan, dict.fromkeys(self.extras, nan))

    @property
    def _evaluates_natively(self) -> bool:
        """Whether history rows come from the loop's own evaluation: a loop that has one (the network's, the linear
        models'). It sums in float64 whatever θ's type, so a float32 run's F and ‖∇F‖ are those of its
        float32 θ and X without float32 rounding in the sums over N rows."""
        return getattr(self.loop, "evaluates", False)

    def _native_metrics(self, state, finite, count: int, lanes) -> Metrics:
        """The loop's own evaluation of every lane, over all the rows in EVALUATION_PIECES ranges: the
        (lane, range) shares computed side by side on the lane threads and added in order; with held-out
        problems, the accuracy on the training rows and their scores (:meth:`_native_scores`)."""
        by_lane = _by_lane(lambda lane, rows: self.loop.evaluate(state, lane, rows), self.problem.n, count,
                           self._evaluation_pieces)
        loss = _summed(by_lane, 0)
        with np.errstate(over="ignore"):   # a diverging run's ‖∇F‖ overflows to inf, as its F does
            grad_norm = np.array([np.sqrt(sum(np.sum(sum(parts) ** 2)
                                              for parts in zip(*(value[1] for value in lane), strict=True)))
                                  for lane in by_lane])
        extras = {name: np.array([sum(value[2][name] for value in lane) for lane in by_lane])
                  for name in by_lane[0][0][2]}
        correct = extras.pop("correct")
        if "accuracy" in self.compiled.reference.columns:
            extras["accuracy"] = correct / self.problem.n   # count / N, as scikit-learn's accuracy_score
        nan = np.full(count, np.nan)
        return Metrics(finite, loss, grad_norm, self._distances(lanes, count), nan,
                       extras | self._native_scores(state, count))

    @functools.cached_property
    def _evaluation_pieces(self) -> int:
        """The row ranges of a lane's native evaluation: EVALUATION_PIECES, or one for data of fewer than
        ONE_RANGE_BELOW numbers."""
        numbers = self.problem.n * int(np.prod(np.shape(jax.tree.leaves(self.problem.data)[0])[1:], dtype=np.int64))
        return 1 if numbers < ONE_RANGE_BELOW else EVALUATION_PIECES

    def _distances(self, lanes, count: int) -> np.ndarray:
        """‖θ − θ*‖ of every lane (NaN where θ* is not known)."""
        solution = self.compiled.reference.solution
        if solution is None:
            return np.full(count, np.nan)
        with np.errstate(over="ignore"):   # a diverging run's distance overflows to inf
            squares = sum(np.sum((np.asarray(leaf, np.float64).reshape(count, -1)
                                  - np.asarray(target, np.float64).reshape(1, -1)) ** 2, axis=1)
                          for leaf, target in zip(jax.tree.leaves(lanes), jax.tree.leaves(solution), strict=True))
        return np.sqrt(squares)

    def _native_scores(self, state, count: int) -> dict:
        """Each held-out problem's loss (and a classifier's accuracy) for every lane, from the loop's forward pass
        over its rows in EVALUATION_PIECES ranges side by side."""
        scores = {}
        for name, heldout in self.compiled.reference.heldout:
            data = heldout.native_data()
            by_lane = _by_lane(lambda lane, rows, data=data: self.loop.score(state, lane, data, rows), heldout.n,
                               count, self._evaluation_pieces)
            scores[f"{name}_loss"] = _summed(by_lane, 0) / heldout.n
            if heldout.is_classifier:
                scores[f"{name}_accuracy"] = _summed(by_lane, 1) / heldout.n
        return scores

    @staticmethod
    def _map_groups(work, count: int) -> list:
        """``work(group)`` for one group of consecutive lanes a core, side by side on the lane threads."""
        return _side_by_side(work, _ranges(count, min(count, CORES)))


def _by_lane(work, n: int, count: int, pieces: int) -> list[list]:
    """``work(lane, rows)`` for each of ``count`` lanes and each of ``pieces`` ranges of ``n`` rows, side by side on
    the lane threads; the results a lane, in the order of its ranges."""
    shares = [(lane, rows) for lane in range(count) for rows in _ranges(n, pieces)]
    values = _side_by_side(lambda share: work(*share), shares)
    return [values[lane * pieces:(lane + 1) * pieces] for lane in range(count)]


def _ranges(n: int, pieces: int) -> list[slice]:
    """0, …, n − 1 cut into ``pieces`` consecutive ranges of sizes differing by at most one."""
    if pieces == 1:
        return [slice(0, n)]
    bounds = np.linspace(0, n, pieces + 1).astype(int)
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def _summed(by_lane: list[list], position: int) -> np.ndarray:
    """Per lane, the sum over its ranges' results of the number at ``position`` (see :func:`_by_lane`)."""
    return np.array([sum(value[position] for value in lane) for lane in by_lane])


def _side_by_side(work, items: list) -> list:
    """[work(item) for item in items], on the lane threads when there are several."""
    if len(items) == 1:
        return [work(items[0])]
    return list(_threads().map(work, items))


@functools.cache
def _threads() -> concurrent.futures.ThreadPoolExecutor:
    """One worker per core: the native loop releases the GIL, so groups of lanes run side by side."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=CORES, thread_name_prefix="sgdlab-lane")


def _stacked(schedule: Schedule) -> Schedule:
    """One run's schedule as a batch of one lane (NumPy leaves: no JAX dispatch)."""
    return jax.tree.map(lambda leaf: np.reshape(np.asarray(leaf), (1,)), schedule)


def loop_step_sizes(alphas: np.ndarray) -> np.ndarray:
    """Step sizes as every native loop takes them: a read-only C-contiguous float64 array (a constant step's
    broadcast view written out, lanes × steps numbers), one type whatever the schedule, so Numba compiles each loop
    once and not once a layout (a loop's compilation is seconds; writing the steps out costs 8 bytes a step)."""
    steps = np.ascontiguousarray(alphas, dtype=np.float64)
    steps.flags.writeable = False
    return steps


def step_sizes(schedule: Schedule, k0: int, count: int, lanes: int) -> np.ndarray:
    """α_{k0 + t} for t < count and every lane of a stacked ``schedule`` (lanes × count), as the JAX
    engine computes each; a constant step needs no JAX call (a broadcast view), and a schedule without
    numbers of its own (a user's function k ↦ αₖ) is computed once for every lane."""
    if isinstance(schedule, Constant):
        alpha = np.asarray(schedule.alpha, dtype=np.float64)
        return np.broadcast_to(alpha[:, None], (alpha.size, count))
    if not jax.tree.leaves(schedule):
        return np.broadcast_to(np.asarray(_compiled_row(schedule, jnp.asarray(k0, jnp.int64), count)), (lanes, count))
    return np.asarray(_compiled_step_sizes(schedule, jnp.asarray(k0, jnp.int64), count))


@functools.partial(jax.jit, static_argnums=2)
def _compiled_step_sizes(schedule: Schedule, k0, count: int) -> jax.Array:
    iterations = k0 + jnp.arange(count, dtype=jnp.int64)
    return jax.vmap(lambda lane: jax.vmap(lane)(iterations))(schedule)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _compiled_row(schedule: Schedule, k0, count: int) -> jax.Array:
    return jax.vmap(schedule)(k0 + jnp.arange(count, dtype=jnp.int64))
