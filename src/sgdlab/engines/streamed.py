"""Data larger than memory: epochs streamed through blocks of gathered rows.

When a finite sum's data are files read by rows (``np.load(path, mmap_mode="r")`` or
``sl.parquet_columns``, see :mod:`sgdlab.data.ondisk`), no array is ever read whole. An epoch's plan
(``sampler.plan``, the same indices as in memory) is cut into blocks of K steps, K·B ≈ BLOCK_ROWS
rows; for each block, a background thread reads the rows its steps use (each once, in file order)
into a block of K·B rows, and the compiled epoch program runs the block's K steps on it with the
indices renumbered into the block. While block j computes, block j + 1 is read. Every sampler stays
exact: a step uses exactly the rows of its plan. F and ∇F (the history, gradient descent's step) are
sums over consecutive chunks of rows (``sgdlab.problems.chunked``).
"""

from __future__ import annotations

import concurrent.futures
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab._helpers import pytrees
from sgdlab.engines.base import Carry, Metrics, OneUnitACall, PlansFromSeeds, Seeds
from sgdlab.engines.compiled import run_epoch
from sgdlab.engines.evaluation import Reference
from sgdlab.engines.update_rules import PLAIN_RULE, UpdateRule
from sgdlab.methods import StepGradients
from sgdlab.problems.chunked import value_and_grad
from sgdlab.schedules import Schedule

#: Rows gathered per block of steps (K = max(1, BLOCK_ROWS // B)).
BLOCK_ROWS = 65_536


class StreamedRun(OneUnitACall, PlansFromSeeds):
    """The epoch program (:class:`~sgdlab.engines.base.EpochProgram`) of one run on data on disk."""

    engine = "streamed"
    lanes: int | None = None

    def __init__(self, problem, sampler, solution, rule: UpdateRule = PLAIN_RULE):
        self.problem, self.sampler, self.solution, self.rule = problem, sampler, solution, rule
        self._programs: dict = {}

    def initial_state(self, params):
        """The update rule's state at θ⁰."""
        return self.rule.init(params, None, self.problem.n)

    def prepare(self, record: bool) -> float:
        """Nothing ahead of time: a block program compiles on its first block (its seconds count in the
        first epoch's time)."""
        return 0.0

    def epoch(self, carry: Carry, seeds: Seeds, epoch: int, schedule: Schedule | None,
              record: bool, steps: tuple[int, int] | None = None) -> tuple[Carry, Metrics]:
        """One epoch from ``carry``, or its ``steps`` (first, end); the metrics on the host."""
        params, opt_state, k, counted, _ = carry
        if self.sampler.is_full_batch:
            value, gradient = value_and_grad(self.problem, params)
            gradients = StepGradients(mean=lambda point: gradient, value_and_mean=lambda point: (value, gradient))
            params, inner = self.rule.step(params, self.rule.inner(opt_state), gradients, schedule, jnp.asarray(k))
            opt_state = self.rule.follow(opt_state, inner, params, jnp.asarray(k + 1))
            k, examples = k + 1, self.problem.n
        else:
            params, opt_state, k, examples = self._minibatch_epoch(params, opt_state, k, int(seeds), epoch, schedule,
                                                                   steps)
        counted += examples   # one gradient a batch entry (plain SGD, momentum)
        return Carry(params, opt_state, k, counted), (self.evaluate(params) if record else _finite_only(params))

    def evaluate(self, params) -> Metrics:
        """F, ‖∇F‖ and ‖θ − θ*‖ over all the data, a chunk of rows at a time."""
        loss, gradient = value_and_grad(self.problem, params)
        loss = float(loss)
        dist = np.nan if self.solution is None else float(pytrees.distance(params, self.solution))
        return Metrics(bool(pytrees.all_finite(params)), loss, float(pytrees.norm(gradient)), dist, np.nan, {})

    def _minibatch_epoch(self, params, opt_state, k: int, seed: int, epoch: int, schedule,
                         steps: tuple[int, int] | None = None):
        """The epoch's blocks of steps (or of its ``steps`` (first, end)); returns θ, the optimizer's state, k and
        the batch entries run."""
        indices, mask = self.sampler.plan(self.problem.n, seed, epoch)
        if steps is not None:
            indices, mask = indices[steps[0]:steps[1]], mask[steps[0]:steps[1]]
        per_block = self._block_steps()
        starts = range(0, indices.shape[0], per_block)
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sgdlab-reader") as reader:
            pending = reader.submit(self.read_block, indices[:per_block], mask[:per_block])
            for start in starts:
                block, plan = pending.result()
                if start + per_block < indices.shape[0]:
                    pending = reader.submit(self.read_block, indices[start + per_block:start + 2 * per_block],
                                            mask[start + per_block:start + 2 * per_block])
                params, opt_state, k, _ = self._program(plan[0].shape)(
                    params, opt_state, jnp.asarray(k, jnp.int64), plan, schedule, block, Reference(self.solution), None)
                k = int(k)
        return params, opt_state, k, int(np.count_nonzero(mask))

    def read_block(self, indices: np.ndarray, mask: np.ndarray):
        """The rows the block's steps use, each read once in file order and padded to K·B rows (with
        row 0, masked or unused), and the plan renumbered into that block."""
        rows, renumbered = np.unique(indices, return_inverse=True)
        padded = np.zeros(indices.size, dtype=rows.dtype)
        padded[:rows.size] = rows
        block = jax.tree.map(lambda leaf: np.asarray(leaf[padded]), self.problem.data)
        return block, (renumbered.reshape(indices.shape).astype(np.int32), mask)

    def _block_steps(self) -> int:
        return max(1, BLOCK_ROWS // self.sampler.batch_size)

    def _program(self, shape: tuple[int, int]):
        """The epoch program (without history) for blocks of ``shape`` = (steps, B), jitted once."""
        if shape not in self._programs:
            self._programs[shape] = jax.jit(functools.partial(run_epoch, self.problem, self.sampler, False,
                                                              self.rule))
        return self._programs[shape]


def _finite_only(params) -> Metrics:
    nan = float("nan")
    return Metrics(bool(pytrees.all_finite(params)), nan, nan, nan, nan, {})
