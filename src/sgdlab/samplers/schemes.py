"""Which indices each step uses: one small class per sampling scheme.

A sampler turns (N, seed, epoch) into the epoch's *plan*: S index batches, where an epoch is N
per-example gradients — one full-batch step, or ⌈N/B⌉ steps of batch size B. Step k of the epoch
uses the stochastic gradient gᵏ = (1/|Iₖ|) Σ_{i ∈ Iₖ} ∇fᵢ(θᵏ) (importance sampling: each term weighted by
1/(N pᵢ), the weights standing in the plan's mask, see ``masked_loss``).

| scheme | Iₖ | per-epoch steps |
| --- | --- | --- |
| ``full_batch()`` | {0, …, N−1} (gradient descent) | 1 |
| ``with_replacement(B)`` | B iid uniform draws (repeats possible) | ⌈N/B⌉ |
| ``without_replacement(B)`` | a fresh uniform B-subset every step | ⌈N/B⌉ |
| ``importance(B, weights)`` | B iid draws with pᵢ ∝ wᵢ (default Lᵢ), each weighted 1/(N pᵢ) | ⌈N/B⌉ |
| ``importance_shuffled(B, weights)`` | blocks of a shuffled epoch holding i ≈ N pᵢ times, weighted 1/(N pᵢ) | ⌈N/B⌉ |
| ``cyclic(B)`` | consecutive blocks of 0, 1, …, N−1 | ⌈N/B⌉ |
| ``shuffled_cyclic(B)`` | blocks of a new random permutation each epoch | ⌈N/B⌉ |
| ``shuffle_once(B)`` | blocks of one permutation drawn once, reused every epoch | ⌈N/B⌉ |
| ``flip_flop(B)`` | blocks of a new permutation on even epochs, of its reverse on the next | ⌈N/B⌉ |
| ``shuffled_chunks(B, C)`` | blocks of chunks of C consecutive rows in random order, shuffled within | ⌈N/B⌉ |
| ``iid(B)`` | for an expectation: B fresh draws of ω (no data, no epoch) | — |

Shuffled chunks is shuffling as data read from disk affords it (as streaming loaders do): the rows
a block of steps needs lie in few chunks, read whole, instead of all over the file. Each example is
still used once per epoch, but it is not random reshuffling: rows of one chunk meet in the same and
neighbouring batches (with C ≥ N it is random reshuffling; with C = 1, a random order of the rows).

When B does not divide N, the last block of the four cyclic schemes holds the N mod B examples
left and is averaged over its own size (``drop_last=True`` drops it, giving ⌊N/B⌋ steps).

Randomness is explicit: the random indices of epoch e of a run with seed s are a pure function of
(s, e) (of s alone for shuffle once), drawn by :mod:`sgdlab.samplers.draws` (SplitMix64, exactly uniform
integers, compiled by Numba: a few ns an index), so any epoch's plan can be recomputed alone. ``plan`` gives
the epoch's plan as NumPy arrays, which both engines run from; ``batches`` shows it as a list of
index arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math

import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab.samplers import draws


def stacked(plans: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Plans (indices, mask), one a run, stacked along a leading axis (a view with an axis of one for one run: no
    copy of a long plan)."""
    if len(plans) == 1:
        return plans[0][0][None], plans[0][1][None]
    return np.stack([plan[0] for plan in plans]), np.stack([plan[1] for plan in plans])


@dataclasses.dataclass(frozen=True)
class Sampler:
    """Base of all samplers. A plan is (indices, mask), both of shape (steps, padded batch size)."""

    name = "sampler"

    def steps_per_epoch(self, n: int) -> int:
        """How many steps make one epoch of N per-example gradients."""
        raise NotImplementedError

    def plan(self, n: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's indices (int32) and mask (True on real entries), both S × B NumPy arrays."""
        raise NotImplementedError

    def validate(self, n: int) -> None:
        """Raise a ValueError when this sampler cannot serve a problem with N = n terms."""

    #: Whether the plan's mask holds each entry's weight in the step (importance sampling), not True/False.
    weighted = False
    #: Whether the plans depend on the run's state, not on (seed, epoch) alone (GraB: :mod:`sgdlab.samplers.grab`).
    depends_on_run = False

    def for_problem(self, problem) -> Sampler:
        """This sampler as it runs on ``problem``: itself, or (a sampler that needs the problem's numbers, such as
        importance sampling's per-example constants) a copy holding them."""
        return self

    def example_scales(self, n: int) -> np.ndarray | None:
        """The weight each example's entry carries in a step's mean, N numbers (1/(N pᵢ) for importance sampling,
        the plan's mask on that example's entries); None when every entry weighs 1."""
        return None

    def stacked_plans(self, n: int, seeds, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The plans of several runs in one epoch, one per seed, stacked: indices and mask R × S × B."""
        return stacked([self.plan(n, int(seed), epoch) for seed in seeds])

    def batches(self, n: int, epoch: int = 0, seed: int = 0) -> list[np.ndarray]:
        """The plan of one epoch as a list of index arrays, one per step (inspectable, replayable)."""
        n = validation.integer("n", n)
        epoch = validation.integer("epoch", epoch, low=0)
        seed = validation.integer("seed", seed, low=0)
        self.validate(n)
        indices, mask = self.plan(n, seed, epoch)
        return [row[keep != 0] for row, keep in zip(indices, mask, strict=True)]

    @property
    def is_full_batch(self) -> bool:
        """True for gradient descent, whose every step uses all N terms."""
        return False

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.name}({fields})"


@dataclasses.dataclass(frozen=True, repr=False)
class FullBatch(Sampler):
    """Gradient descent: every step uses all N terms, so one step is one epoch."""

    name = "full_batch"

    def steps_per_epoch(self, n: int) -> int:
        return 1

    def plan(self, n, seed, epoch):
        return np.arange(n, dtype=np.int32)[None, :], np.ones((1, n), dtype=bool)

    @property
    def is_full_batch(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True, repr=False)
class _Minibatch(Sampler):
    """A sampler with a batch size B ≥ 1 and ⌈N/B⌉ steps per epoch."""

    batch_size: int = 1

    def __post_init__(self):
        object.__setattr__(self, "batch_size", validation.integer("batch_size", self.batch_size, context=self.name))

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil(n / self.batch_size)


class _Drawn(_Minibatch):
    """A scheme whose epoch plan is one draw of :mod:`sgdlab.samplers.draws` from (seed, epoch), with no padding."""

    def draw(self, n: int, shape: tuple[int, int], seed: int, epoch: int) -> np.ndarray:
        raise NotImplementedError

    def plan(self, n, seed, epoch):
        shape = (self.steps_per_epoch(n), self.batch_size)
        return self.draw(n, shape, seed, epoch), np.ones(shape, dtype=bool)


@dataclasses.dataclass(frozen=True, repr=False)
class WithReplacement(_Drawn):
    """Each step draws B indices iid uniform on {0, …, N−1}; repeats count each time."""

    name = "with_replacement"

    def draw(self, n, shape, seed, epoch):
        return draws.with_replacement(n, shape, seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class WithoutReplacement(_Drawn):
    """Each step draws a fresh uniform B-subset of {0, …, N−1}: no repeat inside a batch (O(B) a step,
    by a partial Fisher–Yates shuffle; every B-subset has probability 1/C(N, B))."""

    name = "without_replacement"

    def validate(self, n: int) -> None:
        validation.integer("batch_size", self.batch_size, high=n, context=f"{self.name} (N={n})")

    def draw(self, n, shape, seed, epoch):
        return draws.without_replacement(n, shape, seed, epoch)


class ExampleWeights:
    """N nonnegative weights, not all 0 (checked, errors naming the parameter ``name``), held for sampling by weight:
    compared and hashed by their values (a sampler holding them is a key of the programs' caches)."""

    def __init__(self, values, name: str = "weights"):
        array = np.array(values, dtype=np.float64).reshape(-1) if np.ndim(values) == 1 else None
        if array is None or array.size == 0:
            allowed = "'lipschitz' or N nonnegative numbers" if name == "weights" else "N nonnegative numbers"
            validation.fail(name, allowed, validation.shown(values))
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            bad = int(np.sum(~np.isfinite(array) | (array < 0)))
            validation.fail(name, "nonnegative finite numbers", f"{bad} negative, NaN or infinite of {array.size}")
        if not np.any(array > 0):
            validation.fail(name, "numbers not all 0 (at least one example must count)", f"{array.size} zeros")
        array.flags.writeable = False
        self.values, self.cumulative = array, np.cumsum(array)
        self.probabilities = array / self.cumulative[-1]
        with np.errstate(divide="ignore"):   # an example of weight 0 is never drawn
            self.scales = 1.0 / (array.size * self.probabilities)
        self._key = hashlib.sha256(array.tobytes()).hexdigest()

    @functools.cached_property
    def alias_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(cuts, aliases) of Walker's alias table of the probabilities (built once, when a plan first draws)."""
        return draws.alias_table(self.probabilities)

    def __eq__(self, other) -> bool:
        return isinstance(other, ExampleWeights) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"<{self.values.size} weights>"


@dataclasses.dataclass(frozen=True, repr=False)
class _ByWeight(_Minibatch):
    """A scheme that draws examples by weight, pᵢ = wᵢ/Σw, and weighs each drawn entry by 1/(N pᵢ) in the plan's
    mask. ``weights="lipschitz"`` takes wᵢ = Lᵢ from the problem (:meth:`for_problem`)."""

    weights: str | ExampleWeights = "lipschitz"
    weighted = True

    def __post_init__(self):
        super().__post_init__()
        if not (isinstance(self.weights, ExampleWeights) or (isinstance(self.weights, str)
                                                               and self.weights == "lipschitz")):
            object.__setattr__(self, "weights", ExampleWeights(self.weights))

    def for_problem(self, problem) -> _ByWeight:
        """A copy holding the weights for ``problem``: its per-example constants Lᵢ for "lipschitz"."""
        if problem.n is None or getattr(problem, "on_disk", False):
            validation.fail("sampler", "a finite sum in memory for importance sampling (it draws its examples by "
                            "weight)", repr(problem))
        if isinstance(self.weights, ExampleWeights):
            return self
        if "lipschitz_weights" not in problem.memo:   # resolved once a problem (runs, comparisons, theory ask again)
            each = problem.lipschitz_each()
            if each is None:
                validation.fail("weights", "the weights given as N numbers for a problem without per-example "
                                "constants (the built-in linear models have lipschitz_each())",
                                f"'lipschitz' for {problem!r}", context=self.name)
            problem.memo["lipschitz_weights"] = ExampleWeights(each)
        return dataclasses.replace(self, weights=problem.memo["lipschitz_weights"])

    def probabilities(self, problem) -> np.ndarray:
        """(pᵢ)ᵢ on ``problem`` (N numbers summing to 1)."""
        return self.for_problem(problem).bound_weights(problem.n).probabilities

    def validate(self, n: int) -> None:
        if isinstance(self.weights, ExampleWeights) and self.weights.values.size != n:
            validation.fail("weights", f"N = {n} numbers, one an example", f"{self.weights.values.size}",
                            context=self.name)

    def example_scales(self, n: int) -> np.ndarray:
        return self.bound_weights(n).scales

    def bound_weights(self, n: int) -> ExampleWeights:
        """The weights, checked against N (a plan cannot be drawn from "lipschitz" without the problem)."""
        if not isinstance(self.weights, ExampleWeights):
            validation.fail("sampler", f"{self.name}(weights=[...]) or a sampler bound to its problem "
                            "(sampler.for_problem(problem)) to draw a plan", "weights='lipschitz' without a problem")
        self.validate(n)
        return self.weights


@dataclasses.dataclass(frozen=True, repr=False)
class Importance(_ByWeight):
    """Each step draws B indices independently, i with probability pᵢ, and weighs each by 1/(N pᵢ):
    gᵏ = (1/B) Σ_b ∇f_{i_b}(θᵏ)/(N p_{i_b}), an unbiased estimate of ∇F."""

    name = "importance"

    def plan(self, n, seed, epoch):
        weights = self.bound_weights(n)
        return draws.by_weight(*weights.alias_table, weights.scales, (self.steps_per_epoch(n), self.batch_size),
                               seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class ImportanceShuffled(_ByWeight):
    """Each epoch holds example i cᵢ times, cᵢ ∈ {⌊N pᵢ⌋, ⌈N pᵢ⌉} with E cᵢ = N pᵢ and Σ cᵢ = N (systematic
    rounding: cᵢ = ⌈Cᵢ − u⌉ − ⌈Cᵢ₋₁ − u⌉ for the running sums C of N p and one uniform u an epoch), in a uniform
    random order cut into blocks of B, each entry weighted 1/(N pᵢ): over an epoch Σᵢ cᵢ ∇fᵢ/(N pᵢ) is N ∇F in
    expectation, and every position of the order holds i with probability pᵢ."""

    name = "importance_shuffled"

    def plan(self, n, seed, epoch):
        weights = self.bound_weights(n)
        running = np.concatenate([[0.0], n * weights.cumulative / weights.cumulative[-1]])
        running[-1] = n   # exactly: the counts then sum to N
        u = draws.with_replacement(2**30, (1, 1), seed, epoch, 1)[0, 0] / 2**30
        counts = np.diff(np.ceil(running - u)).astype(np.int64)
        order = np.repeat(np.arange(n, dtype=np.int32), counts)[draws.permutation(n, seed, epoch)]
        steps, b = self.steps_per_epoch(n), self.batch_size
        indices = np.zeros(steps * b, dtype=np.int32)
        mask = np.zeros(steps * b)
        indices[:n], mask[:n] = order, weights.scales[order]
        return indices.reshape(steps, b), mask.reshape(steps, b)


@dataclasses.dataclass(frozen=True, repr=False)
class Blocks(_Minibatch):
    """Schemes that cut an ordering of {0, …, N−1} into consecutive blocks of B."""

    drop_last: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.drop_last, bool):
            validation.fail("drop_last", "True or False", validation.shown(self.drop_last), error=TypeError,
                            context=self.name)

    def steps_per_epoch(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def validate(self, n: int) -> None:
        if self.drop_last:
            validation.integer("batch_size", self.batch_size, high=n,
                               context=f"{self.name} with drop_last=True (N={n})")

    def order(self, n: int, seed: int, epoch: int) -> np.ndarray:
        """The epoch's ordering of {0, …, N−1} (int32)."""
        raise NotImplementedError

    def plan(self, n, seed, epoch):
        """The ordering cut into the steps' blocks of B (:meth:`blocks`)."""
        return self.blocks(n, self.order(n, seed, epoch))

    def blocks(self, n: int, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An ordering of {0, …, N−1} cut into the steps' blocks of B; the last block is padded with index 0 and
        masked out where N mod B leaves it short, or dropped with drop_last."""
        steps, b = self.steps_per_epoch(n), self.batch_size
        if steps * b > n:
            order = np.concatenate([order, np.zeros(steps * b - n, dtype=np.int32)])
        mask = np.ones(steps * b, dtype=bool)
        mask[n:] = False
        return order[: steps * b].reshape(steps, b), mask.reshape(steps, b)


class RunOrdered(Blocks):
    """Blocks of an order the run computes as it goes (GraB's, :mod:`sgdlab.samplers.grab`): its plans depend on the
    run's state, not on (seed, epoch) alone. The engines carry the state (a NamedTuple whose ``order`` is the epoch's
    order) beside θ, cut each epoch's plan from its order (:meth:`plans_of`), show every step its per-example
    gradients (:meth:`observe`, a pure JAX function) and close the epoch (:meth:`after_steps`)."""

    depends_on_run = True

    def initial_state(self, n: int, seed: int, params):
        """The state at the run's start, for N examples and parameters shaped like ``params``."""
        raise NotImplementedError

    def observe(self, state, gradients, indices, mask):
        """The state after a step whose batch (``indices``, ``mask``) has the per-example gradients ``gradients``
        (a leading axis of B) at the step's θ."""
        raise NotImplementedError

    def after_steps(self, state, iteration, n: int):
        """The state after the steps up to ``iteration``: the next epoch's at an epoch's end, else as it is."""
        raise NotImplementedError

    def plans_of(self, n: int, orders) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's plans of runs from the orders their states hold (R × N, one a lane, or one order): each cut
        into blocks of B, the last one padded and masked; indices and mask R × S × B."""
        return stacked([self.blocks(n, order) for order in np.asarray(orders, dtype=np.int32).reshape(-1, n)])


@dataclasses.dataclass(frozen=True, repr=False)
class Cyclic(Blocks):
    """Blocks of 0, 1, …, N−1 in order, the same every epoch (deterministic)."""

    name = "cyclic"

    def order(self, n, seed, epoch):
        return np.arange(n, dtype=np.int32)


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffledCyclic(Blocks):
    """Blocks of a fresh uniform permutation each epoch (random reshuffling; deep learning's default)."""

    name = "shuffled_cyclic"

    def order(self, n, seed, epoch):
        return draws.permutation(n, seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffleOnce(Blocks):
    """Blocks of one uniform permutation, drawn from the seed alone and reused every epoch."""

    name = "shuffle_once"

    def order(self, n, seed, epoch):
        return draws.permutation(n, seed)


@dataclasses.dataclass(frozen=True, repr=False)
class FlipFlop(Blocks):
    """Blocks of a fresh uniform permutation on even epochs, and of the same permutation reversed on the odd epoch
    after it (Rajput, Lee and Papailiopoulos 2022): epoch 2j + 1 visits the examples of epoch 2j backwards."""

    name = "flip_flop"

    def order(self, n, seed, epoch):
        """permutation(N | seed, 2⌊e/2⌋), reversed when e is odd."""
        order = draws.permutation(n, seed, epoch - epoch % 2)
        return order[::-1].copy() if epoch % 2 else order


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffledChunks(Blocks):
    """Blocks of an order that takes the chunks {0, …, C−1}, {C, …, 2C−1}, … (the last one shorter) in a
    uniform random order and the rows of each chunk in a uniform random order, fresh each epoch."""

    name = "shuffled_chunks"
    chunk: int = 65_536

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "chunk", validation.integer("chunk", self.chunk, context=self.name))

    def order(self, n, seed, epoch):
        """Chunk j of the epoch is chunk π(j) for π = permutation(⌈N/C⌉ | seed, epoch, 0); its rows come in
        the order of permutation(its size | seed, epoch, π(j) + 1)."""
        chunks = draws.permutation(math.ceil(n / self.chunk), seed, epoch, 0).tolist()
        rows = [start + draws.permutation(min(self.chunk, n - start), seed, epoch, chunk + 1)
                for chunk, start in ((chunk, chunk * self.chunk) for chunk in chunks)]
        return np.concatenate(rows).astype(np.int32, copy=False)


@dataclasses.dataclass(frozen=True, repr=False)
class IID(_Minibatch):
    """For an expectation: B fresh, independent draws of ω at every step (no index plan)."""

    name = "iid"

    def validate(self, n) -> None:
        if n is not None:
            validation.fail("sampler", "a finite-sum sampler such as with_replacement(B) for a problem with N terms",
                            f"iid(batch_size={self.batch_size})")


def full_batch() -> FullBatch:
    """Gradient descent: gᵏ = ∇F(θᵏ), one step per epoch.

    Returns
    -------
    FullBatch
        The sampler whose one batch an epoch is all N indices.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.full_batch().batches(4)
    [array([0, 1, 2, 3], dtype=int32)]
    """
    return FullBatch()


def with_replacement(batch_size: int = 1) -> WithReplacement:
    """SGD with B iid uniform indices per step (B = 1 is the textbook SGD); repeats are possible.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step draws.

    Returns
    -------
    WithReplacement
        The sampler; an epoch is ⌈N/B⌉ steps.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.with_replacement(2).batches(5, epoch=0, seed=0)
    [array([4, 3], dtype=int32), array([4, 0], dtype=int32), array([3, 2], dtype=int32)]
    """
    return WithReplacement(batch_size)


def without_replacement(batch_size: int = 1) -> WithoutReplacement:
    """Minibatch SGD with a fresh uniform B-subset per step (no repeats within a step, any across steps).

    Parameters
    ----------
    batch_size : int, default 1
        B, the size of each step's subset (at most N).

    Returns
    -------
    WithoutReplacement
        The sampler; an epoch is ⌈N/B⌉ steps.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.without_replacement(2).batches(5, epoch=0, seed=0)
    [array([4, 2], dtype=int32), array([4, 0], dtype=int32), array([3, 2], dtype=int32)]
    """
    return WithoutReplacement(batch_size)


def importance(batch_size: int = 1, weights: str | ArrayLike = "lipschitz") -> Importance:
    """Importance sampling: B independent indices a step, i with probability pᵢ ∝ wᵢ, each gradient weighted by
    1/(N pᵢ), so the step is unbiased. With pᵢ ∝ Lᵢ (``weights="lipschitz"``, the per-example constants of the
    built-in linear models) SGD's step bound uses the mean L̄ = (1/N) Σ Lᵢ where uniform sampling uses L_max
    (Needell, Srebro and Ward 2014; Gower et al. 2019). Runs natively with plain SGD on the linear models (networks
    at B = 1), else on the JAX engine.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step draws.
    weights : "lipschitz" or array of N nonnegative numbers, default "lipschitz"
        What the probabilities are proportional to: the problem's Lᵢ, or any weights (zeros are never drawn).

    Returns
    -------
    Importance
        The sampler; an epoch is ⌈N/B⌉ steps. A plan's mask holds each entry's weight 1/(N pᵢ).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sampler = sl.importance(2, weights=[1.0, 0.0, 3.0])   # p = (1/4, 0, 3/4)
    >>> indices, weights = sampler.plan(3, seed=0, epoch=0)
    >>> indices.tolist(), weights.round(3).tolist()
    ([[2, 2], [2, 0]], [[0.444, 0.444], [0.444, 1.333]])
    """
    return Importance(batch_size, weights if isinstance(weights, str) else ExampleWeights(weights))


def importance_shuffled(batch_size: int = 1, weights: str | ArrayLike = "lipschitz") -> ImportanceShuffled:
    """Importance sampling without replacement across an epoch: each example appears about N pᵢ times an epoch
    (pᵢ ∝ wᵢ, default Lᵢ; ⌊N pᵢ⌋ or ⌈N pᵢ⌉ times, N entries in all), in a random order cut into blocks of B, each
    gradient weighted by 1/(N pᵢ) (the shuffled variant of opt_methods' importance sampling). Runs natively with
    plain SGD on the linear models (networks at B = 1), else on the JAX engine.

    Parameters
    ----------
    batch_size : int, default 1
        B, the entries a step uses.
    weights : "lipschitz" or array of N nonnegative numbers, default "lipschitz"
        What the frequencies are proportional to (zeros never appear).

    Returns
    -------
    ImportanceShuffled
        The sampler; an epoch is ⌈N/B⌉ steps over N entries. A plan's mask holds each entry's weight 1/(N pᵢ).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> sampler = sl.importance_shuffled(2, weights=[1.0, 1.0, 2.0, 0.0])   # N p = (1, 1, 2, 0)
    >>> np.bincount(np.concatenate(sampler.batches(4, epoch=0, seed=0)), minlength=4).tolist()
    [1, 1, 2, 0]
    """
    return ImportanceShuffled(batch_size, weights if isinstance(weights, str) else ExampleWeights(weights))


def cyclic(batch_size: int = 1, drop_last: bool = False) -> Cyclic:
    """Incremental gradient: consecutive blocks of 0, …, N−1, in order, every epoch.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    Cyclic
        The sampler; an epoch is ⌈N/B⌉ steps (⌊N/B⌋ with ``drop_last``).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.cyclic(2).batches(5)
    [array([0, 1], dtype=int32), array([2, 3], dtype=int32), array([4], dtype=int32)]
    >>> sl.cyclic(2, drop_last=True).batches(5)
    [array([0, 1], dtype=int32), array([2, 3], dtype=int32)]
    """
    return Cyclic(batch_size, drop_last)


def shuffled_cyclic(batch_size: int = 1, drop_last: bool = False) -> ShuffledCyclic:
    """Random reshuffling: a new permutation each epoch, cut into blocks of B.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    ShuffledCyclic
        The sampler; every example is used once an epoch.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> plan = sl.shuffled_cyclic(2).batches(5, epoch=0, seed=0)
    >>> plan
    [array([1, 0], dtype=int32), array([3, 2], dtype=int32), array([4], dtype=int32)]
    >>> sorted(np.concatenate(plan).tolist())
    [0, 1, 2, 3, 4]
    """
    return ShuffledCyclic(batch_size, drop_last)


def flip_flop(batch_size: int = 1, drop_last: bool = False) -> FlipFlop:
    """Random reshuffling with every other epoch reversed: a new permutation on epochs 0, 2, 4, …, and on each odd
    epoch the permutation of the epoch before, backwards, cut into blocks of B.

    On a quadratic, the reversed epoch cancels the first-order drift that a random order leaves (Rajput, Lee and
    Papailiopoulos 2022, "Permutation-based SGD: is random optimal?"), so at a constant step its error after an
    even number of epochs is no larger than random reshuffling's. When B divides N the odd epoch runs the even
    epoch's batches in reverse order; otherwise the blocks are cut from the reversed order of the examples.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N (else it is averaged over its own size).

    Returns
    -------
    FlipFlop
        The sampler; every example is used once an epoch.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sampler = sl.flip_flop(2)
    >>> sampler.batches(6, epoch=0, seed=0)
    [array([2, 1], dtype=int32), array([0, 4], dtype=int32), array([3, 5], dtype=int32)]
    >>> sampler.batches(6, epoch=1, seed=0)   # epoch 0 backwards
    [array([5, 3], dtype=int32), array([4, 0], dtype=int32), array([1, 2], dtype=int32)]
    >>> sampler.batches(6, epoch=2, seed=0)   # a new permutation
    [array([3, 4], dtype=int32), array([0, 2], dtype=int32), array([5, 1], dtype=int32)]
    """
    return FlipFlop(batch_size, drop_last)


def shuffled_chunks(batch_size: int = 1, chunk: int = 65_536, drop_last: bool = False) -> ShuffledChunks:
    """Chunks of ``chunk`` consecutive rows in a new random order each epoch, each chunk shuffled, cut into
    blocks of B: for data read from disk (each block of steps reads few chunks).

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    chunk : int, default 65,536
        C, the consecutive rows read together (about a Parquet row group).
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N.

    Returns
    -------
    ShuffledChunks
        The sampler (random reshuffling when C ≥ N).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.shuffled_chunks(2, chunk=2).batches(6, epoch=0, seed=1)
    [array([0, 1], dtype=int32), array([3, 2], dtype=int32), array([4, 5], dtype=int32)]
    """
    return ShuffledChunks(batch_size, drop_last, chunk)


def iid(batch_size: int = 1) -> IID:
    """For an expectation E_ω[f]: B fresh iid draws of ω per step.

    Parameters
    ----------
    batch_size : int, default 1
        B, the draws of ω a step averages.

    Returns
    -------
    IID
        The sampler of an :func:`~sgdlab.expectation` (which has no epochs: give ``steps=``).

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.iid(8)
    iid(batch_size=8)
    """
    return IID(batch_size)


def shuffle_once(batch_size: int = 1, drop_last: bool = False) -> ShuffleOnce:
    """One permutation for the whole run, drawn from the seed alone, cut into blocks of B.

    Parameters
    ----------
    batch_size : int, default 1
        B, the indices a step uses.
    drop_last : bool, default False
        Drop the last, shorter block when B does not divide N.

    Returns
    -------
    ShuffleOnce
        The sampler; every epoch repeats the same order.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sampler = sl.shuffle_once(2)
    >>> sampler.batches(5, epoch=0, seed=0)
    [array([1, 0], dtype=int32), array([3, 4], dtype=int32), array([2], dtype=int32)]
    >>> sampler.batches(5, epoch=3, seed=0)
    [array([1, 0], dtype=int32), array([3, 4], dtype=int32), array([2], dtype=int32)]
    """
    return ShuffleOnce(batch_size, drop_last)
