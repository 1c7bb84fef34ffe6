"""Samplers that draw examples by weight (importance sampling), each drawn entry weighted by 1/(N pᵢ)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import theorem, validation
from sgdlab.samplers import draws
from sgdlab.samplers.base import Minibatch
from sgdlab.samplers.registry import SAMPLERS


class ExampleWeights:
    """N nonnegative weights, not all 0 (checked, errors naming the parameter ``name``), held for sampling by weight:
    compared and hashed by their values (a sampler holding them is a key of the programs' caches)."""

    def __init__(self, values, name: str = "weights"):
        allowed = "'lipschitz' or N nonnegative numbers" if name == "weights" else "N nonnegative numbers"
        try:
            array = np.array(values, dtype=np.float64).reshape(-1) if np.ndim(values) == 1 else None
        except (TypeError, ValueError):
            array = None
        if array is None or array.size == 0:
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
class ByWeight(Minibatch):
    """A scheme that draws examples by weight, pᵢ = wᵢ/Σw, and weighs each drawn entry by 1/(N pᵢ) in the plan's
    mask. ``weights="lipschitz"`` takes wᵢ = Lᵢ from the problem (:meth:`for_problem`)."""

    weights: str | ExampleWeights = "lipschitz"
    weighted = True

    def __post_init__(self):
        super().__post_init__()
        if not (isinstance(self.weights, ExampleWeights) or (isinstance(self.weights, str)
                                                               and self.weights == "lipschitz")):
            object.__setattr__(self, "weights", ExampleWeights(self.weights))

    def for_problem(self, problem) -> ByWeight:
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
class Importance(ByWeight):
    """Each step draws B indices independently, i with probability pᵢ, and weighs each by 1/(N pᵢ):
    gᵏ = (1/B) Σ_b ∇f_{i_b}(θᵏ)/(N p_{i_b}), an unbiased estimate of ∇F."""

    name = "importance"
    native = "plans"
    theorems = (theorem.FRESH_BATCHES,)

    def plan(self, n, seed, epoch):
        weights = self.bound_weights(n)
        return draws.by_weight(*weights.alias_table, weights.scales, (self.steps_per_epoch(n), self.batch_size),
                               seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class ImportanceShuffled(ByWeight):
    """Each epoch holds example i cᵢ times, cᵢ ∈ {⌊N pᵢ⌋, ⌈N pᵢ⌉} with E cᵢ = N pᵢ and Σ cᵢ = N (systematic
    rounding: cᵢ = ⌈Cᵢ − u⌉ − ⌈Cᵢ₋₁ − u⌉ for the running sums C of N p and one uniform u an epoch), in a uniform
    random order cut into blocks of B, each entry weighted 1/(N pᵢ): over an epoch Σᵢ cᵢ ∇fᵢ/(N pᵢ) is N ∇F in
    expectation, and every position of the order holds i with probability pᵢ."""

    name = "importance_shuffled"
    native = "plans"
    theorems = ()

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


def _held(weights: str | ExampleWeights | ArrayLike) -> str | ExampleWeights:
    """"lipschitz" as it is, N numbers as ExampleWeights (checked)."""
    return weights if isinstance(weights, str | ExampleWeights) else ExampleWeights(weights)


@SAMPLERS.register
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
    return Importance(batch_size, _held(weights))


@SAMPLERS.register
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
    return ImportanceShuffled(batch_size, _held(weights))
