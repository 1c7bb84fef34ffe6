"""Iterate averaging: a second iterate θ̄ᵏ kept beside θᵏ and reported as its own.

* :func:`polyak_average` (Polyak and Juditsky 1992; Ruppert 1988): the running mean of the iterates
  produced from epoch ``start`` on, θ̄ᵏ = (1/(k − s)) Σ_{j = s+1}^{k} θʲ with s = start · (steps per epoch),
  and θ̄ᵏ = θᵏ before (the formula of scikit-learn's ``SGDRegressor(average=True)`` for start = 0);
* :func:`tail_average`: the same mean over the last ``fraction`` of the run's steps,
  s = ⌊(1 − fraction) · K⌋ for a budget of K steps;
* :func:`schedule_free`: the evaluation point x of optax's schedule-free optimizers, read from their
  state after each step (their θ is the gradient point y);
* :func:`ema`: the exponential moving average θ̄ᵏ⁺¹ = decay · θ̄ᵏ + (1 − decay) · θᵏ⁺¹ from θ̄⁰ = θ⁰
  (``torch.optim.swa_utils.AveragedModel`` with an EMA, optax.ema without debiasing).

With a constant step on least squares the last iterate of SGD stays at a noise floor of order α, while
the Polyak–Ruppert average converges to θ* (Bach and Moulines 2013). The average is updated after each
(projected) step, inside the engine's loop; the history gains avg_loss, avg_grad_norm, avg_gap and
avg_dist, and ``Result.averaged_params`` is θ̄ at the end.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.methods.registry import AVERAGINGS


@dataclasses.dataclass(frozen=True)
class Averaging:
    """How θ̄ follows θ: ``init(θ⁰)``, ``update(state, θᵏ, k)`` after step k − 1 made θᵏ, ``point(state)``."""

    name = "average"

    def init(self, params: Any) -> Any:
        """(θ̄⁰ = θ⁰, the count of iterates averaged so far)."""
        return params, jnp.zeros((), dtype=jnp.int64)

    def update(self, state: Any, params: Any, k: Any, rule_state: Any = None) -> Any:
        """The state after step k − 1 made θᵏ (``rule_state``: the update rule's state after the step)."""
        raise NotImplementedError

    @staticmethod
    def point(state: Any) -> Any:
        """θ̄."""
        return state[0]

    def resolved(self, steps_per_epoch: int, iterations: int) -> Averaging:
        """The averaging with its start fixed in steps, for a run of ``iterations`` steps."""
        return self

    def describe(self) -> str:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class PolyakAverage(Averaging):
    """The mean of θʲ for j > ``first`` (θ̄ = θ before); ``start`` in epochs, ``first`` in steps once resolved."""

    start: int = 0
    first: int | None = None
    name = "polyak_average"
    #: The native loops average plain SGD from a start (read for the class itself only).
    native = "polyak_average"

    def update(self, state: Any, params: Any, k: Any, rule_state: Any = None) -> Any:
        """θ̄ ← θ̄ + (θᵏ − θ̄)/count once k > first (count counts those k), else θ̄ ← θᵏ."""
        average, count = state
        counted = k > (self.first or 0)
        count = count + counted.astype(count.dtype)
        divisor = jnp.maximum(count, 1)

        def follow(mean, leaf):
            return jnp.where(counted, mean + (leaf - mean) / divisor.astype(leaf.dtype), leaf)

        return jax.tree.map(follow, average, params), count

    def resolved(self, steps_per_epoch: int, iterations: int) -> Averaging:
        """Starts at step s = start · steps_per_epoch, which must come before the run's last step (else θ̄ would
        be the last iterate under another name)."""
        first = self.start * steps_per_epoch
        if first >= iterations:
            epochs = iterations / steps_per_epoch
            validation.fail("average", f"a Polyak average that starts before the run ends (start < {epochs:g} epochs "
                            "here)", f"{self.describe()} for a run of {iterations} steps")
        return dataclasses.replace(self, first=first)

    def describe(self) -> str:
        return "Polyak–Ruppert average" + (f" from epoch {self.start}" if self.start else "")


@dataclasses.dataclass(frozen=True)
class TailAverage(PolyakAverage):
    """The mean of the iterates of the last ``fraction`` of the run's steps."""

    fraction: float = 0.5
    name = "tail_average"
    native = "polyak_average"

    def resolved(self, steps_per_epoch: int, iterations: int) -> Averaging:
        return dataclasses.replace(self, first=math.floor((1.0 - self.fraction) * iterations))

    def describe(self) -> str:
        return f"tail average (last {self.fraction:g} of the steps)"


@dataclasses.dataclass(frozen=True)
class EMA(Averaging):
    """θ̄ᵏ⁺¹ = decay · θ̄ᵏ + (1 − decay) · θᵏ⁺¹, θ̄⁰ = θ⁰."""

    decay: float = 0.999
    name = "ema"

    def update(self, state: Any, params: Any, k: Any, rule_state: Any = None) -> Any:
        """θ̄ ← decay · θ̄ + (1 − decay) · θᵏ."""
        average, count = state
        decay = self.decay

        def follow(mean, leaf):
            return jnp.asarray(decay, leaf.dtype) * mean + jnp.asarray(1.0 - decay, leaf.dtype) * leaf

        return jax.tree.map(follow, average, params), count + 1

    def describe(self) -> str:
        return f"EMA (decay {self.decay:g})"


@dataclasses.dataclass(frozen=True)
class ScheduleFree(Averaging):
    """The evaluation point x of optax's schedule-free optimizers, x = (y − (1 − β₁) z)/β₁ from their state
    (optax.contrib.schedule_free_eval_params): the iterate θ they step is y, where gradients are taken."""

    name = "schedule_free"

    def update(self, state: Any, params: Any, k: Any, rule_state: Any = None) -> Any:
        """x from the optimizer's state after the step."""
        from optax.contrib import schedule_free_eval_params

        return schedule_free_eval_params(rule_state, params), state[1] + 1

    def describe(self) -> str:
        return "schedule-free evaluation point"


@dataclasses.dataclass(frozen=True)
class Averaged:
    """A run's update rule (None: plain SGD, a method, or an optax optimizer) with an averaged iterate beside it;
    its state is (the rule's state, the averaging's state)."""

    rule: Any
    averaging: Averaging


@AVERAGINGS.register
def polyak_average(start: int = 0) -> PolyakAverage:
    """The Polyak–Ruppert average: θ̄ᵏ = (1/(k − s)) Σ_{j=s+1}^{k} θʲ, s = start · (steps per epoch).

    Parameters
    ----------
    start : int, default 0
        The epoch from which iterates are averaged (for an expectation: the step).

    Returns
    -------
    PolyakAverage
        The averaging, for ``minimize(..., average=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.polyak_average(start=2).describe()
    'Polyak–Ruppert average from epoch 2'
    """
    return PolyakAverage(validation.integer("start", start, low=0, context="polyak_average"))


@AVERAGINGS.register
def tail_average(fraction: float = 0.5) -> TailAverage:
    """The mean of the iterates of the last ``fraction`` of the run's K steps (s = ⌊(1 − fraction) K⌋).

    Parameters
    ----------
    fraction : float, default 0.5
        In (0, 1].

    Returns
    -------
    TailAverage
        The averaging, for ``minimize(..., average=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.tail_average(0.25).describe()
    'tail average (last 0.25 of the steps)'
    """
    fraction = validation.real("fraction", fraction, allowed="a number in (0, 1]", accept=lambda v: 0 < v <= 1,
                               context="tail_average")
    return TailAverage(fraction=fraction)


@AVERAGINGS.register
def ema(decay: float = 0.999) -> EMA:
    """The exponential moving average θ̄ᵏ⁺¹ = decay · θ̄ᵏ + (1 − decay) · θᵏ⁺¹, θ̄⁰ = θ⁰.

    Parameters
    ----------
    decay : float, default 0.999
        In [0, 1).

    Returns
    -------
    EMA
        The averaging, for ``minimize(..., average=)`` and ``compare``'s runs.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.ema(0.9).describe()
    'EMA (decay 0.9)'
    """
    return EMA(decay=validation.real("decay", decay, allowed="a number in [0, 1)", accept=lambda v: 0 <= v < 1,
                                     context="ema"))


@AVERAGINGS.register
def schedule_free() -> ScheduleFree:
    """The evaluation point of an optax schedule-free optimizer (``optax.contrib.schedule_free_sgd``, …) as the
    run's second iterate: its history's avg_… columns and ``Result.averaged_params`` are x, where the
    schedule-free method is meant to be evaluated, while θ is y, where it takes gradients.

    Returns
    -------
    ScheduleFree
        The averaging, for ``minimize(..., optimizer=optax.contrib.schedule_free_sgd(...), average=)``.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.schedule_free().describe()
    'schedule-free evaluation point'
    """
    return ScheduleFree()


def read_average(average: Any) -> Averaging | None:
    """``average=``: None or an averaging, else an error naming it."""
    if average is None or isinstance(average, Averaging):
        return average
    validation.fail("average", "None or an averaging such as sl.polyak_average(), sl.tail_average(0.5) or "
                    "sl.ema(0.999)", validation.shown(average), error=TypeError)
