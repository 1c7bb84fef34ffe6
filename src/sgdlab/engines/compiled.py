"""The compiled loop: one epoch is one ``jax.lax.scan`` over the epoch's index plan.

Step k of an epoch takes the plan's k-th batch Iₖ (a padded row with a mask, so every step has
the same shape) and updates

    θᵏ⁺¹ = θᵏ − αₖ gᵏ,   gᵏ = Σ_b maskₖ_b ∇f_{Iₖ_b}(θᵏ) / Σ_b maskₖ_b,

which is the plain minibatch mean on full batches and the mean over its own size on a shorter
last batch. A constrained problem takes a projected step, θᵏ⁺¹ = P_C(θᵏ − αₖ gᵏ).

The plan is drawn on the host from (seed, epoch) (``sampler.plan``, a few ns an index) and enters
the compiled call as an argument, like the data: a program has no host callback, so JAX's
persistent compilation cache can keep it, and the native loop runs from the very same plans. When
a history row is due, the same call also returns F, ‖∇F‖ and ‖θ − θ*‖ at the epoch's end. The
data are an argument, never a constant baked into the program, so one compiled epoch serves every
seed, epoch and step size.

Runs that differ only in seed or step size can share one program: with ``lanes=R`` the epoch is
``jax.vmap``-ed over R stacked parameters, plans and schedules (each lane is one run). With a
``placement`` (sgdlab.engines.distributed) θ is replicated over a mesh of devices, the data are replicated
or sharded by rows, and each batch is split across the devices (gradient descent on sharded rows
sums each device's rows instead).
"""

from __future__ import annotations

import functools
import time
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab._helpers import pytrees, shared_programs
from sgdlab.engines.base import Carry, Metrics, Seeds, lane_params
from sgdlab.engines.evaluation import Reference, evaluate
from sgdlab.engines.plans import EpochPlans, plan_steps
from sgdlab.engines.update_rules import PLAIN_RULE, UpdateRule
from sgdlab.methods import StepGradients
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import RunOrdered, Sampler
from sgdlab.schedules import Schedule


def run_epoch(problem: FiniteSum, sampler: Sampler, record: bool, rule: UpdateRule,
              params, opt_state, k0, plan, schedule: Schedule, data, reference, constraint):
    """One epoch of (projected) (S)GD from θ = ``params`` at iteration k0 over ``plan`` = (indices,
    mask[, flags]), indices and mask S × B and the method's refresh flags S (:mod:`sgdlab.methods`); for
    gradient descent a 1 × 1 plan stands for all the data. Returns (θ, the rule's state, k0 + steps,
    Metrics). Each step is the update ``rule``'s (:mod:`sgdlab.engines.update_rules`): θ − αₖ g, a method's
    step, or θ + u from an optax transformation, with an averaged iterate beside when it keeps one. A sampler
    whose plans depend on the run takes ``opt_state`` = (the rule's state, its own state), returned the same way:
    each step shows it the batch's per-example gradients ∇fᵢ(θᵏ) before the update (``sampler.observe``)."""
    all_data = sampler.is_full_batch and plan[0].shape[-1] == 1

    def gradients_at(k, batch):
        return finite_sum_gradients(problem, data, batch, all_data)

    if not sampler.depends_on_run:
        return _scan_steps(problem, record, rule, gradients_at, params, opt_state, k0, plan,
                           schedule, data, reference, constraint)[:4]

    def observe(k, batch, params, state):
        gradients = gradients_at(k, batch)
        penalty = gradients.penalty(params)
        each = jax.tree.map(lambda term, shared: term + shared, gradients.each(params), penalty)
        return typing.cast(RunOrdered, sampler).observe(state, each, batch[0], batch[1])

    inner, state = opt_state
    params, inner, k, metrics, state = _scan_steps(problem, record, rule, gradients_at, params, inner, k0, plan,
                                                   schedule, data, reference, constraint, (observe, state))
    return params, (inner, typing.cast(RunOrdered, sampler).after_steps(state, k, problem.n)), k, metrics


def finite_sum_gradients(problem: FiniteSum, data, batch, all_data: bool) -> StepGradients:
    """What a step on ``batch`` = (indices, mask[, flag]) may compute (:class:`StepGradients`); with
    ``all_data`` its gradient is the full one."""
    indices, mask = batch[0], batch[1]

    def value_and_mean(params):
        if all_data:
            return jax.value_and_grad(problem.data_loss)(params, data)
        return jax.value_and_grad(problem.masked_loss)(params, data, indices, mask)

    def example_gradients(params, rows):
        def one(row):
            return jax.grad(lambda p: problem.batch_losses(p, data, row[None])[0])(params)
        return jax.vmap(one)(rows)

    return StepGradients(
        mean=lambda params: value_and_mean(params)[1], value_and_mean=value_and_mean,
        each=lambda params: example_gradients(params, indices),
        every=lambda params: example_gradients(params, jnp.arange(problem.n)),
        penalty=jax.grad(problem.penalty), full=lambda params: jax.grad(problem.data_loss)(params, data),
        indices=indices, mask=mask, flag=batch[2] if len(batch) > 2 else None)


def run_chunk(length: int, problem, sampler: Sampler, record: bool, rule: UpdateRule,
              params, opt_state, k0, seed, schedule: Schedule, data, reference, constraint):
    """``length`` steps of (S)GD on an expectation from iteration k0. Step k draws its ω from the
    key fold_in(key(seed), k), or uses the exact gradient for gradient descent; returns what
    :func:`run_epoch` returns."""

    def gradients_at(k, _):
        def value_and_mean(params):
            return problem.step_value_and_gradient(params, data, sampler, seed, k)
        return StepGradients(mean=lambda params: problem.step_gradient(params, sampler, seed, k),
                             value_and_mean=value_and_mean)

    return _scan_steps(problem, record, rule, gradients_at, params, opt_state, k0, jnp.zeros(length),
                       schedule, data, reference, constraint)[:4]


def _scan_steps(problem, record, rule: UpdateRule, gradients_at, params, opt_state, k0, batches, schedule, data,
                reference, constraint, follow=None):
    """Scan the updates over ``batches`` (one per step), projecting when constrained and updating the averaged
    iterate after the step when there is one; then the metrics. ``follow`` = (observe, state): a state that each
    step updates by observe(k, batch, θᵏ, state) before its update. Returns (θ, optimizer state, k, metrics,
    the followed state or None)."""
    observe, followed = (None, None) if follow is None else follow

    def step(carry, batch):
        params, opt_state, k, followed = carry
        if observe is not None:
            followed = observe(k, batch, params, followed)
        params, inner = rule.step(params, rule.inner(opt_state), gradients_at(k, batch), schedule, k)
        params = params if constraint is None else constraint.project(params)
        return (params, rule.follow(opt_state, inner, params, k + 1), k + 1, followed), None

    (params, opt_state, k, followed), _ = jax.lax.scan(step, (params, opt_state, k0, followed), batches)
    if record:
        metrics = evaluate_run(problem, rule, params, opt_state, data, reference, constraint)
        return params, opt_state, k, metrics, followed
    nan = jnp.asarray(jnp.nan, dtype=jax.tree.leaves(params)[0].dtype)
    extras = dict.fromkeys((*jax.eval_shape(problem.diagnostics, params, data), *reference.columns), nan)
    return params, opt_state, k, Metrics(pytrees.all_finite(params), nan, nan, nan, nan, extras), followed


def evaluate_run(problem: FiniteSum, rule: UpdateRule, params, opt_state, data, reference, constraint) -> Metrics:
    """:func:`evaluate` at θ, with the averaged iterate's metrics beside (``Metrics.averaged``) when the run
    averages."""
    metrics = evaluate(problem, params, data, reference, constraint)
    point = rule.averaged_point(opt_state)
    if point is None:
        return metrics
    # θ̄'s row: F, ‖∇F‖, ‖θ̄ − θ*‖ (not the held-out scores)
    return metrics._replace(averaged=evaluate(problem, point, data, Reference(reference.solution), constraint))


def evaluate_each(problem: FiniteSum, params, data, reference, constraint, rule: UpdateRule = PLAIN_RULE,
                  opt_state=()) -> Metrics:
    """:func:`evaluate_run` of every lane of ``params`` (a leading axis), one lane after the other
    (``jax.lax.map``, not ``jax.vmap``): a batched evaluation multiplies X by all the lanes' θ at once, a
    product whose rounding depends on how many there are, so a run's history would change in its last bits
    with the size of its group; evaluated lane by lane it is the same bits as a run on its own."""
    def one(lane):
        params, opt_state = lane
        return evaluate_run(problem, rule, params, opt_state, data, reference, constraint)

    return jax.lax.map(one, (params, opt_state))


def lanes_epoch(problem: FiniteSum, sampler: Sampler, record: bool, rule: UpdateRule, steps, params, opt_state, k0,
                source,
                schedule, data, reference, constraint):
    """One epoch of R lanes: ``steps`` (the epoch vmapped over the lanes, without history), then, when
    recording, every lane's metrics by :func:`evaluate_each`."""
    params, opt_state, k, metrics = steps(params, opt_state, k0, source, schedule, data, reference, constraint)
    if record:
        method_state = opt_state[0] if sampler.depends_on_run else opt_state   # (the method's, the sampler's)
        metrics = evaluate_each(problem, params, data, reference, constraint, rule, method_state)
    return params, opt_state, k, metrics


def fused_epochs(one_epoch, last_epoch, params, opt_state, k0, sources, count, schedule, data, reference, constraint):
    """``count`` whole epochs in one program: epochs 0 … count − 2 of ``sources`` (each part with a leading axis of
    epochs, padded past ``count``) by ``one_epoch`` (no history) in a ``jax.lax.fori_loop``, then the last by
    ``last_epoch`` (with its metrics when recording); returns what an epoch returns."""
    def body(epoch, carry):
        params, opt_state, k = carry
        source = jax.tree.map(lambda part: part[epoch], sources)
        return one_epoch(params, opt_state, k, source, schedule, data, reference, constraint)[:3]

    params, opt_state, k = jax.lax.fori_loop(0, count - 1, body, (params, opt_state, k0))
    last = jax.tree.map(lambda part: part[count - 1], sources)
    return last_epoch(params, opt_state, k, last, schedule, data, reference, constraint)


def lane_after_lane(epoch, params, opt_state, k0, source, schedule, data, reference, constraint):
    """The single-run ``epoch`` of every lane, one after the other (``jax.lax.map``), for gradient descent:
    its step multiplies X by θ, and vmapped over the lanes that product's rounding would depend on their
    number (see :func:`evaluate_each`). A minibatch step's small products keep their bits under vmap."""

    def one(lane):
        params, opt_state, source, schedule = lane
        return epoch(params, opt_state, k0, source, schedule, data, reference, constraint)

    params, opt_state, k, metrics = jax.lax.map(one, (params, opt_state, source, schedule))
    return params, opt_state, k[0], metrics


#: How the batched epoch maps over its arguments: params, optimizer state, k0, the plan (or an expectation's
#: seed), schedule, data, reference, constraint; and over its results: params, optimizer state, the shared
#: iteration counter, metrics.
LANE_AXES = (0, 0, None, 0, 0, None, None, None)
LANE_OUT_AXES = (0, 0, None, 0)


def _layout(tree) -> tuple:
    """What a program compiled ahead of time for ``tree`` depends on: its structure, and each leaf's shape and dtype."""
    return (jax.tree.structure(tree),
            tuple((np.shape(leaf), str(getattr(leaf, "dtype", type(leaf)))) for leaf in jax.tree.leaves(tree)))


#: The most whole epochs one call of :meth:`CompiledRun.epochs` runs.
FUSED_EPOCHS = 256
#: The most plan entries (lanes × epochs × steps × B) such a call takes.
FUSED_PLAN_ENTRIES = 2**18
#: The largest epoch (plan entries of all lanes) that runs many a call: beyond it a call's dispatch (~0.1 ms) is a
#: small share of the epoch, and the program of many epochs would only add its compilation.
FUSED_MAX_EPOCH_ENTRIES = 2**12


class CompiledRun:
    """The JAX engine's epoch program (:class:`~sgdlab.engines.base.EpochProgram`) of one (problem,
    sampler, schedule kind, update rule, unit, lanes, placement): the
    evaluation at the start and an epoch with and without history, each built ahead of time on
    first need, so compilation is timed apart from the run. With ``lanes`` = R, the epoch runs R
    runs at once: parameters, plans (or seeds) and schedule numbers carry a leading axis of length R.
    Between history rows, many whole epochs run in one call (:meth:`epochs`, :func:`fused_epochs`).
    """

    engine = "jax"

    def __init__(self, problem: FiniteSum, sampler: Sampler, params, schedule: Schedule, reference,
                 lanes: int | None = None, rule: UpdateRule = PLAIN_RULE, chunk: int | None = None,
                 placement=None):
        self.problem, self.sampler, self.lanes = problem, sampler, lanes
        self.rule, self.chunk, self.placement = rule, chunk, placement
        #: An expectation's program runs chunks of ``chunk`` steps; a finite sum's, epochs or pieces of ``chunk`` steps.
        self.expectation = problem.n is None
        #: Gradient descent takes a 1 × 1 stand-in plan (all the data) unless its N indices are split over devices.
        self._stand_in = sampler.is_full_batch and (placement is None or problem.is_sharded)
        self.step_function = run_epoch if chunk is None or not self.expectation else functools.partial(run_chunk, chunk)
        self.data, self.reference, self.constraint = self._placed((problem.data, reference, problem.constraint))
        self._epoch_plans = EpochPlans(sampler, problem.n) if problem.n is not None else None
        params = self._placed(params)
        seeds = np.zeros(lanes or 1, dtype=np.int64)
        sampler_state = self.initial_sampler_state(params, seeds)
        self._example_args = (params, self._joined(rule.init(params, lanes, problem.n), sampler_state),
                              _counter(0), self._source(seeds, 0, None if chunk is None else (0, chunk),
                                                        sampler_state)[0],
                              schedule, self.data, self.reference, self.constraint)
        self._epoch: dict[bool, Any] = {}
        self._fused: dict[bool, Any] = {}
        self._evaluate_lanes: Any = None
        start_params = params if lanes is None else jax.tree.map(lambda leaf: leaf[0], params)
        self._evaluate = self._compiled_evaluation(start_params)

    def _jit(self, function, **options):
        """jax.jit, with every output replicated on the devices of a data-parallel run."""
        if self.placement is not None:
            options["out_shardings"] = self.placement.replicated_sharding
        return jax.jit(function, **options)

    def _compiled(self, lowered):
        """The executable of ``lowered``: on one device the process's for every identical lowering (problems of one
        structure share it, :func:`~sgdlab._helpers.shared_programs.compiled`), on a mesh this run's."""
        return shared_programs.compiled(lowered) if self.placement is None else lowered.compile()

    def _problem_program(self, function):
        """jax.jit of ``function(problem, …)``: on one device the problem's own (:meth:`Problem.jitted`), shared by
        every run group of the problem; on a mesh, this run's, its outputs replicated."""
        if self.placement is None:
            return self.problem.jitted(function)
        return self._jit(functools.partial(function, self.problem))

    def _compiled_evaluation(self, start_params):
        """The metrics' program at one θ, compiled ahead of time: on one device once per problem and layout of θ,
        the reference and the constraint (kept in the problem's memo, so that the run groups of a study of many
        small problems do not each lower and compile it again), on a mesh once per run."""
        def compiled():
            return self._compiled(self._problem_program(evaluate).lower(start_params, self.data, self.reference,
                                                                         self.constraint))

        if self.placement is not None:
            return compiled()
        layout = _layout((start_params, self.reference, self.constraint))
        programs = self.problem.memo.setdefault("compiled_evaluation", {})
        if layout not in programs:
            programs[layout] = compiled()
        return programs[layout]

    def initial_state(self, params) -> Any:
        """The update rule's state at θ⁰ (stacked θ when there are lanes)."""
        return self.rule.init(params, self.lanes, self.problem.n)

    def initial_sampler_state(self, params, seeds) -> Any:
        """The state of a sampler whose plans depend on the run, at θ⁰ (one a lane, stacked), else None."""
        if not self.sampler.depends_on_run:
            return None
        sampler = typing.cast(RunOrdered, self.sampler)
        seeds = np.atleast_1d(seeds)
        if self.lanes is None:
            return jax.tree.map(jnp.asarray, sampler.initial_state(self.problem.n, int(seeds[0]), params))
        states = [sampler.initial_state(self.problem.n, int(seed), lane_params(params, lane, self.lanes))
                  for lane, seed in enumerate(seeds)]
        return jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)

    def _joined(self, opt_state, sampler_state):
        """The state the compiled epoch takes and returns: the optimizer's, with the sampler's beside it when the
        sampler's plans depend on the run."""
        return (opt_state, sampler_state) if self.sampler.depends_on_run else opt_state

    def prepare(self, record: bool) -> float:
        """Compile the epoch program (with history if ``record``) unless done; return the seconds spent."""
        if record in self._epoch:
            return 0.0
        started = time.perf_counter()
        self._epoch[record] = self._compiled(self._jit(self._program(record)).lower(*self._example_args))
        if self.epochs_per_call > 1 and not record:   # epochs run many a call only between rows (run.loop.stretch):
            # when some epochs skip their row, which is when a program is prepared without one too
            params, opt_state, k, source, *rest = self._example_args
            sources = jax.tree.map(lambda part: np.zeros((self.epochs_per_call, *np.shape(part)), part.dtype), source)
            for last_record in (False, True):
                fused = functools.partial(fused_epochs, self._program(False), self._program(last_record))
                self._fused[last_record] = self._compiled(self._jit(fused).lower(
                    params, opt_state, k, sources, np.int32(2), *rest))
        return time.perf_counter() - started

    def _program(self, record: bool):
        """The epoch's function (with history if ``record``), for one run or for the lanes."""
        program = functools.partial(self.step_function, self.problem, self.sampler, record, self.rule)
        if self.lanes is not None and (self._stand_in or self.rule.method.needs_finite_sum):
            return functools.partial(lane_after_lane, program)
        if self.lanes is not None:
            return functools.partial(lanes_epoch, self.problem, self.sampler, record, self.rule, jax.vmap(
                functools.partial(self.step_function, self.problem, self.sampler, False, self.rule),
                in_axes=LANE_AXES, out_axes=LANE_OUT_AXES))
        return program

    @functools.cached_property
    def epochs_per_call(self) -> int:
        """How many whole epochs one call of :meth:`epochs` may run: up to FUSED_EPOCHS, as many as
        FUSED_PLAN_ENTRIES plan entries hold, for an epoch of at most FUSED_MAX_EPOCH_ENTRIES plan entries of a
        finite sum on one device whose plans come from (seed, epoch) alone, run in whole epochs and unconstrained
        (a projection could make a non-finite θ finite again, and the loop reads θ's finiteness at a call's end
        only); else 1. The program takes its plans padded to this many epochs."""
        if (self.expectation or self.chunk is not None or self.placement is not None or self.sampler.depends_on_run
                or self.problem.constraint is not None):
            return 1
        entries = (self.lanes or 1) * int(np.size(self._example_args[3][0]))
        if entries > FUSED_MAX_EPOCH_ENTRIES:
            return 1
        return min(FUSED_EPOCHS, FUSED_PLAN_ENTRIES // entries)

    def epochs(self, carry: Carry, seeds: Seeds, first: int, count: int, schedule: Schedule | None,
               record: bool) -> tuple[Carry, Metrics]:
        """Epochs ``first`` … ``first + count − 1`` of every lane in one call (count ≤ :attr:`epochs_per_call`):
        their plans drawn on the host as :meth:`epoch` draws them, stacked and padded to :attr:`epochs_per_call`;
        the metrics at the last epoch's end. The lanes end where ``count`` calls of :meth:`epoch` leave them."""
        drawn = [self._source(seeds, epoch) for epoch in range(first, first + count)]
        sources = jax.tree.map(lambda *parts: _padded_epochs(parts, self.epochs_per_call),
                               *(source for source, _ in drawn))
        params, opt_state, k, metrics = self._fused[record](
            carry.params, carry.opt_state, _counter(carry.iteration), sources, np.int32(count), schedule, self.data,
            self.reference, self.constraint)
        counts = np.sum([counted for _, counted in drawn], axis=0)
        counted = carry.gradients + (counts if self.lanes is not None else int(counts[0]))
        return Carry(params, opt_state, int(pytrees.local_value(k)), counted, None), self._to_host(metrics)

    def epoch(self, carry: Carry, seeds: Seeds, epoch: int, schedule: Schedule | None,
              record: bool, steps: tuple[int, int] | None = None) -> tuple[Carry, Metrics]:
        """Run one epoch, or its ``steps`` (first, end), (a chunk, for an expectation) of every lane from
        ``carry``; the new carry's counter and the metrics come back on the host."""
        source, counts = self._source(seeds, epoch, steps, carry.sampler_state)
        params, state, k, metrics = self._epoch[record](
            self._placed(carry.params), self._placed(self._joined(carry.opt_state, carry.sampler_state)),
            _counter(carry.iteration), source, schedule, self.data, self.reference, self.constraint)
        opt_state, sampler_state = state if self.sampler.depends_on_run else (state, None)
        counted = carry.gradients + (counts if self.lanes is not None else int(counts[0]))
        return Carry(params, opt_state, int(pytrees.local_value(k)), counted, sampler_state), self._to_host(metrics)

    def evaluate(self, params) -> Metrics:
        """F, ‖∇F‖, ‖θ − θ*‖, the violation and the diagnostics at ``params`` (one run's), on the host."""
        metrics = self._evaluate(self._placed(params), self.data, self.reference, self.constraint)
        return jax.tree.map(pytrees.local_value, metrics).host()

    def evaluate_lanes(self, params) -> Metrics:
        """The metrics of R runs (θ stacked along a leading axis), on the host as NumPy arrays with one
        entry a lane: one call instead of R, each lane evaluated as :meth:`evaluate` evaluates one run."""
        if self._evaluate_lanes is None:
            self._evaluate_lanes = self._problem_program(evaluate_each)
        metrics = self._evaluate_lanes(self._placed(params), self.data, self.reference, self.constraint)
        return jax.tree.map(lambda value: np.asarray(pytrees.local_value(value)), metrics)

    def _placed(self, tree):
        """The pytree replicated on the devices of a data-parallel run (as it is, on one device)."""
        return tree if self.placement is None else self.placement.replicated(tree)

    def _source(self, seed, epoch: int, steps: tuple[int, int] | None = None,
                sampler_state=None) -> tuple[Any, np.ndarray]:
        """Where an epoch's examples come from: for a finite sum the epoch's plan (indices, mask, and the
        method's refresh flags if it has them), drawn on the host (cut from the order in ``sampler_state`` for a
        sampler whose plans depend on the run), or its ``steps`` (first, end) alone (a 1 × 1
        stand-in for gradient descent); for an expectation the run's seed. With lanes, one per lane (``seed``
        then holds the lanes' seeds). Also the gradients the epoch computes, one count a lane
        (:func:`gradient_counts`)."""
        seeds = np.atleast_1d(np.asarray(seed, dtype=np.int64))
        source: Any
        if self.chunk is not None and self.expectation:
            source = seeds
            examples = np.full(len(seeds), self.chunk * getattr(self.sampler, "batch_size", 1))
        elif self._stand_in:
            source = (np.zeros((len(seeds), 1, 1), dtype=np.int32), np.ones((len(seeds), 1, 1), dtype=bool))
            examples = np.full(len(seeds), self.problem.n)
        else:
            source = self._epoch_plans(seeds, epoch) if sampler_state is None else self.plans_of(sampler_state)
            flags = self.rule.flags(self.problem.n, self.sampler, seeds, epoch, source[0].shape[1])
            source = plan_steps(source if flags is None else (*source, flags), steps)
            examples = np.count_nonzero(source[1], axis=(1, 2))
        counts = self.rule.gradient_counts(examples, source[2] if len(source) > 2 else None, self.problem.n)
        source = source if self.lanes is not None else jax.tree.map(lambda part: part[0], source)
        if self.placement is None or self.expectation:
            return source, counts
        return (self.placement.replicated(source) if self._stand_in else self.placement.split_plan(*source)), counts

    def plans_of(self, sampler_state) -> tuple[np.ndarray, np.ndarray]:
        """The lanes' plans (R × S × B) cut from the orders their sampler's state holds."""
        orders = pytrees.local_value(sampler_state.order)
        return typing.cast(RunOrdered, self.sampler).plans_of(self.problem.n, orders)

    def _to_host(self, metrics: Metrics) -> Metrics:
        metrics = jax.tree.map(pytrees.local_value, metrics)
        return metrics.host() if self.lanes is None else jax.tree.map(np.asarray, metrics)


def _padded_epochs(parts: tuple, epochs: int) -> np.ndarray:
    """The epochs' plan parts stacked along a new first axis, with zeros up to ``epochs`` epochs."""
    stacked = np.zeros((epochs, *np.shape(parts[0])), np.asarray(parts[0]).dtype)
    stacked[:len(parts)] = parts
    return stacked


def _counter(value) -> np.ndarray:
    """Iteration counters, seeds and epoch numbers enter the program as int64 scalars (NumPy: no JAX dispatch)."""
    return np.asarray(value, dtype=np.int64)


def program_schedule(schedule: Schedule | None) -> Schedule | None:
    """The schedule with every number as a float64 scalar, the form the compiled programs take (None when
    an optimizer sets the steps)."""
    return jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype=jnp.float64), schedule)


def stacked_schedules(schedules: list[Schedule | None]) -> Schedule | None:
    """Schedules of one kind stacked into one whose numbers have a leading axis (one per lane)."""
    return jax.tree.map(lambda *leaves: jnp.asarray(leaves, dtype=jnp.float64), *schedules)


def stacked_params(params, lanes: int):
    """θ repeated along a new leading axis of length ``lanes``."""
    return jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (lanes, *jnp.shape(leaf))), params)
