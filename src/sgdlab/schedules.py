"""Step sizes: pure functions k ↦ αₖ of the iteration counter k = 0, 1, 2, …

Each schedule is a small frozen dataclass registered as a JAX pytree whose numbers are leaves, so
the compiled engine takes it as an argument: a new α does not recompile, and runs that differ only
in step size can share one program. Calling a schedule on an array of k gives the array of αₖ.
``step=`` accepts a positive float (a constant step), a schedule, or any callable k ↦ αₖ written
in ``jax.numpy``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab._helpers.lazy import jax, jnp, pytree_dataclass, static_pytree
from sgdlab._helpers.registry import Registry

S = typing.TypeVar("S", bound="Schedule")

#: The step-size schedules k ↦ αₖ and the steps that adapt to the loss, each factory registered where it is defined.
SCHEDULES = Registry("schedule")
STEP_RULES = Registry("step rule")


class Schedule:
    """Base of all schedules: ``schedule(k)`` returns αₖ (k an integer or an array of them).

    ``formula`` is the schedule's formula with its fields as format fields; ``describe()`` fills it in.
    """

    formula = ""

    def __call__(self, k):
        raise NotImplementedError

    def never_rises(self) -> bool:
        """Whether αₖ₊₁ ≤ αₖ for every k, so that α₀ is the largest step (False where not known: a custom schedule)."""
        return False

    def first_alpha(self) -> float:
        """α₀, as a number."""
        return float(self(0))

    def describe(self) -> str:
        """The formula with this schedule's numbers, e.g. 'αₖ = 0.1/(1 + 0.01 k)'."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]   # every schedule is a dataclass
        return self.formula.format(**{field.name: getattr(self, field.name) for field in fields})


@typing.dataclass_transform()
def _schedule(cls: type[S]) -> type[S]:
    """Make ``cls`` a frozen dataclass and a pytree whose fields are all leaves."""
    return pytree_dataclass(dataclasses.dataclass(frozen=True)(cls))


@_schedule
class Constant(Schedule):
    """αₖ = α."""

    formula = "α = {alpha:.4g}"

    alpha: float

    def __call__(self, k):
        return jnp.full(jnp.shape(k), self.alpha, dtype=jnp.result_type(float))

    def never_rises(self) -> bool:
        return True

    def first_alpha(self) -> float:
        return float(self.alpha)


@_schedule
class InverseTime(Schedule):
    """αₖ = α₀ / (1 + decay · k): Robbins–Monro, Σαₖ = ∞ and Σαₖ² < ∞."""

    formula = "αₖ = {alpha0:.4g}/(1 + {decay:.4g} k)"

    alpha0: float
    decay: float

    def __call__(self, k):
        return self.alpha0 / (1.0 + self.decay * k)

    def never_rises(self) -> bool:
        return self.decay >= 0


@_schedule
class InverseSqrt(Schedule):
    """αₖ = α₀ / √(k + 1)."""

    formula = "αₖ = {alpha0:.4g}/√(k + 1)"

    alpha0: float

    def __call__(self, k):
        return self.alpha0 / jnp.sqrt(k + 1.0)

    def never_rises(self) -> bool:
        return True


@_schedule
class StepDecay(Schedule):
    """αₖ = α₀ · factor^⌊k / every⌋: multiply by ``factor`` every ``every`` iterations."""

    formula = "αₖ = {alpha0:.4g} · {factor:.4g}^⌊k/{every}⌋"

    alpha0: float
    factor: float
    every: int

    def __call__(self, k):
        return self.alpha0 * self.factor ** jnp.floor_divide(k, self.every)

    def never_rises(self) -> bool:
        return self.factor <= 1


@_schedule
class Cosine(Schedule):
    """αₖ = α_min + (α₀ − α_min) · (1 + cos(π · min(k, total)/total)) / 2.

    Cosine annealing (Loshchilov & Hutter, "SGDR", 2017) without restarts: α₀ at k = 0, α_min from
    k = total on. With α_min = 0 a run longer than ``total`` iterations would take zero steps, and
    ``minimize`` refuses it.
    """

    formula = "cosine from {alpha0:.4g} to {alpha_min:.4g} over {total} iterations"

    alpha0: float
    total: int
    alpha_min: float

    def __call__(self, k):
        phase = jnp.minimum(k, self.total) / self.total
        return self.alpha_min + (self.alpha0 - self.alpha_min) * 0.5 * (1.0 + jnp.cos(jnp.pi * phase))

    def never_rises(self) -> bool:
        return self.alpha_min <= self.alpha0


@static_pytree
@dataclasses.dataclass(frozen=True)
class Custom(Schedule):
    """αₖ = fn(k) for a user function written in ``jax.numpy`` (compiled as part of the run)."""

    fn: object

    def __call__(self, k):
        return jnp.vectorize(self.fn)(k)

    def describe(self) -> str:
        return f"αₖ = {getattr(self.fn, '__name__', 'fn')}(k)"


class AdaptiveStep(Schedule):
    """A step that adapts to the iterate: αₖ = ``size(value, g)`` from the loss and gradient the step computes
    at θᵏ (Polyak's steps), not from k alone. Called on k it gives NaN: αₖ is not known before θᵏ."""

    def size(self, value, grads):
        raise NotImplementedError

    def __call__(self, k):
        return jnp.full(jnp.shape(k), jnp.nan, dtype=jnp.result_type(float))


def _squared_norm(grads):
    return sum(jnp.sum(leaf * leaf) for leaf in jax.tree.leaves(grads))


@_schedule
class Polyak(AdaptiveStep):
    """αₖ = (F(θᵏ) − p*)/‖∇F(θᵏ)‖² (0 where ∇F(θᵏ) = 0): Polyak's step for gradient descent."""

    formula = "αₖ = (F(θᵏ) − {optimal:.6g})/‖∇F(θᵏ)‖² (Polyak)"
    theorems = (theorem.POLYAK_STEP,)

    optimal: float

    def size(self, value, grads):
        squared = _squared_norm(grads)
        return jnp.where(squared > 0, jnp.maximum(value - self.optimal, 0.0) / jnp.where(squared > 0, squared, 1.0),
                         0.0)


@_schedule
class StochasticPolyak(AdaptiveStep):
    """αₖ = min((f_{Iₖ}(θᵏ) − f_min)/(c ‖gₖ‖²), max_step), with f_{Iₖ} and gₖ the batch's loss and gradient:
    the stochastic Polyak step SPS_max (Loizou, Vaswani, Laradji and Lacoste-Julien 2021), f_min a lower
    bound of every f_{Iₖ} (0 for nonnegative losses)."""

    formula = "αₖ = min((f_Iₖ(θᵏ) − {f_min:.4g})/({c:.4g} ‖gₖ‖²), {max_step:.4g}) (stochastic Polyak)"
    theorems = (theorem.STOCHASTIC_POLYAK_STEP,)

    c: float
    f_min: float
    max_step: float

    def size(self, value, grads):
        squared = _squared_norm(grads)
        ratio = jnp.maximum(value - self.f_min, 0.0) / (self.c * jnp.where(squared > 0, squared, 1.0))
        return jnp.where(squared > 0, jnp.minimum(ratio, self.max_step), 0.0)


#: What a ``step=`` argument may be: a number α > 0, a schedule, or a callable k ↦ αₖ in ``jax.numpy``.
StepLike = float | Schedule | Callable[[Any], Any]


@SCHEDULES.register
def constant(alpha: float) -> Constant:
    """αₖ = α for every k.

    Parameters
    ----------
    alpha : float
        The step, > 0 (gradient descent's guarantee needs α < 2/L).

    Returns
    -------
    Constant
        The schedule, a pytree whose leaf is α (runs of several α share one compiled program).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> step = sl.constant(0.1)
    >>> step.describe(), np.asarray(step(np.arange(3))).tolist()
    ('α = 0.1', [0.1, 0.1, 0.1])
    """
    return Constant(validation.positive_float("alpha", alpha, context="constant"))


@SCHEDULES.register
def inverse_time(alpha0: float, decay: float) -> InverseTime:
    """αₖ = α₀ / (1 + decay · k): Σαₖ = ∞ and Σαₖ² < ∞ (Robbins–Monro), so SGD converges to θ*.

    Parameters
    ----------
    alpha0 : float
        α₀ > 0, the first step.
    decay : float
        The rate ≥ 0 (0 gives a constant step).

    Returns
    -------
    InverseTime
        The schedule.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> step = sl.inverse_time(0.1, 0.5)
    >>> step.describe(), np.round(np.asarray(step(np.arange(3))), 4).tolist()
    ('αₖ = 0.1/(1 + 0.5 k)', [0.1, 0.0667, 0.05])
    """
    return InverseTime(validation.positive_float("alpha0", alpha0, context="inverse_time"),
                       validation.nonnegative_float("decay", decay, context="inverse_time"))


@SCHEDULES.register
def inverse_sqrt(alpha0: float) -> InverseSqrt:
    """αₖ = α₀ / √(k + 1).

    Parameters
    ----------
    alpha0 : float
        α₀ > 0, the first step.

    Returns
    -------
    InverseSqrt
        The schedule.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.round(np.asarray(sl.inverse_sqrt(0.1)(np.arange(4))), 4).tolist()
    [0.1, 0.0707, 0.0577, 0.05]
    """
    return InverseSqrt(validation.positive_float("alpha0", alpha0, context="inverse_sqrt"))


@SCHEDULES.register
def step_decay(alpha0: float, factor: float, every: int) -> StepDecay:
    """αₖ = α₀ · factor^⌊k / every⌋: multiply the step by ``factor`` every ``every`` iterations.

    Parameters
    ----------
    alpha0 : float
        α₀ > 0, the first step.
    factor : float
        The factor, in (0, 1).
    every : int
        Iterations between decays, ≥ 1.

    Returns
    -------
    StepDecay
        The schedule.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.asarray(sl.step_decay(0.1, 0.5, 2)(np.arange(5))).tolist()
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    return StepDecay(validation.positive_float("alpha0", alpha0, context="step_decay"),
                     validation.fraction("factor", factor, context="step_decay"),
                     validation.integer("every", every, context="step_decay"))


@SCHEDULES.register
def cosine(alpha0: float, total: int, alpha_min: float = 0.0) -> Cosine:
    """Cosine annealing, αₖ = α_min + (α₀ − α_min)(1 + cos(π min(k, total)/total))/2.

    Parameters
    ----------
    alpha0 : float
        α₀ > 0, the first step.
    total : int
        The iteration at which the step reaches α_min (and stays).
    alpha_min : float, default 0
        The last step, in [0, α₀]. With 0 the step reaches 0, which a run refuses: keep ``total``
        beyond the run's iterations or give α_min > 0.

    Returns
    -------
    Cosine
        The schedule.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.round(np.asarray(sl.cosine(0.1, 4, alpha_min=0.01)(np.arange(6))), 4).tolist()
    [0.1, 0.0868, 0.055, 0.0232, 0.01, 0.01]
    """
    alpha0 = validation.positive_float("alpha0", alpha0, context="cosine")
    alpha_min = validation.nonnegative_float("alpha_min", alpha_min, context="cosine")
    if alpha_min > alpha0:
        validation.fail("alpha_min", f"at most alpha0={alpha0}", validation.shown(alpha_min), context="cosine")
    return Cosine(alpha0, validation.integer("total", total, context="cosine"), alpha_min)


@STEP_RULES.register
def polyak(optimal: float | None = None) -> Polyak:
    """Polyak's step for gradient descent: αₖ = (F(θᵏ) − p*)/‖∇F(θᵏ)‖².

    It needs no L. On a convex F each step moves no farther from θ*: ‖θᵏ⁺¹ − θ*‖² ≤ ‖θᵏ − θ*‖² −
    (F(θᵏ) − p*)²/‖∇F(θᵏ)‖² (Polyak 1987, §5.3), and on an L-smooth convex F the best of the first k
    iterates has F − p* ≤ 2L‖θ⁰ − θ*‖²/k (Hazan and Kakade 2019).

    Parameters
    ----------
    optimal : float, optional
        p*. By default the problem's own (``problem.optimal_value()``); a run refuses the step when
        neither is known.

    Returns
    -------
    Polyak
        The step, for ``minimize(..., sampler=sl.full_batch(), step=sl.polyak())``.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.polyak(optimal=0.0).describe()
    'αₖ = (F(θᵏ) − 0)/‖∇F(θᵏ)‖² (Polyak)'
    """
    if optimal is None:
        return Polyak(float("nan"))
    return Polyak(validation.real("optimal", optimal, allowed="a finite number", accept=np.isfinite, context="polyak"))


@STEP_RULES.register
def stochastic_polyak(c: float = 0.5, f_min: float = 0.0, max_step: float | None = None) -> StochasticPolyak:
    """The stochastic Polyak step: αₖ = min((f_{Iₖ}(θᵏ) − f_min)/(c ‖gₖ‖²), max_step).

    With c = 1/2 and interpolation (every fᵢ reaches f_min at θ*), SGD with this step converges linearly on
    a strongly convex finite sum without knowing L (Loizou et al. 2021, Theorem 3.1).

    Parameters
    ----------
    c : float, default 0.5
        The constant c > 0.
    f_min : float, default 0.0
        A lower bound of every batch loss.
    max_step : float, optional
        The cap γ_b > 0 (none by default).

    Returns
    -------
    StochasticPolyak
        The step, for ``minimize(..., step=sl.stochastic_polyak())`` under any sampler.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.stochastic_polyak(c=0.5, max_step=1.0).max_step
    1.0
    """
    c = validation.positive_float("c", c, context="stochastic_polyak")
    f_min = validation.real("f_min", f_min, allowed="a finite number", accept=np.isfinite, context="stochastic_polyak")
    cap = float("inf") if max_step is None else validation.positive_float("max_step", max_step,
                                                                           context="stochastic_polyak")
    return StochasticPolyak(c, f_min, cap)


def as_schedule(step) -> Schedule:
    """Read ``step=``: a positive float (constant step), a Schedule, or a callable k ↦ αₖ."""
    if isinstance(step, Schedule):
        return step
    if callable(step):
        return Custom(step)
    if isinstance(step, (int, float, np.floating, np.integer)) and not isinstance(step, bool):
        return Constant(validation.positive_float("step", step))
    validation.fail("step", "a positive number, a schedule such as sl.inverse_time(0.1, 0.01), "
                    "or a callable k -> alpha_k", validation.shown(step), error=TypeError)


def _evaluate(schedule: Schedule, k: jax.Array) -> jax.Array:
    """αₖ at the integers ``k``, in one compiled call (the jitted function made on first use, JAX loaded then)."""
    return _evaluating()(schedule, k)


@functools.cache
def _evaluating() -> Callable[[Schedule, jax.Array], jax.Array]:
    return jax.jit(lambda schedule, k: schedule(k))


#: check_positive evaluates every k below this, and beyond it CHECK_SPREAD log-spaced k up to the last.
CHECK_EVERY_BELOW = 2**16
CHECK_SPREAD = 4096


def check_positive(schedule: Schedule, iterations: int) -> None:
    """Raise a ValueError unless αₖ is finite and > 0 for k in [0, iterations): every k below
    CHECK_EVERY_BELOW, then CHECK_SPREAD log-spaced k and the last one. The built-in schedules are
    monotone in k, so for them this is the check at every k; a custom one is checked there only."""
    ks = _checked_iterations(iterations)
    alphas = np.asarray(_evaluate(schedule, jnp.asarray(ks)))
    if alphas.shape != ks.shape:
        validation.fail("step", "a schedule returning one number per iteration",
                        f"output of shape {alphas.shape}")
    bad = ~(np.isfinite(alphas) & (alphas > 0))
    if bad.any():
        k = int(ks[np.argmax(bad)])
        validation.fail("step", "a schedule with alpha_k > 0 and finite at every iteration",
                        f"{schedule.describe()} giving alpha_k = {alphas[np.argmax(bad)]:.3g} at k = {k}")


@functools.lru_cache(maxsize=8)
def _checked_iterations(iterations: int) -> np.ndarray:
    """The k that check_positive evaluates: all below CHECK_EVERY_BELOW, then a log-spaced sample and the last
    (kept for the last few budgets: a comparison checks every setting over the same one)."""
    ks = np.arange(min(iterations, CHECK_EVERY_BELOW), dtype=np.int64)
    if iterations > CHECK_EVERY_BELOW:
        spread = np.geomspace(CHECK_EVERY_BELOW, iterations - 1, CHECK_SPREAD).astype(np.int64)
        ks = np.unique(np.concatenate([ks, spread, [iterations - 1]]))
    ks.setflags(write=False)   # shared by the callers that ask for the same budget
    return ks


def initial_alpha(schedule: Schedule) -> float:
    """α₀, for messages comparing the step with 2/L."""
    return schedule.first_alpha()


def largest_alpha(schedule: Schedule, iterations: int) -> float:
    """max αₖ over k < ``iterations``, the step a theorem's limit must admit: α₀ for a schedule that never rises,
    else the largest at the k that :func:`check_positive` evaluates (every k of a run up to 65,536 steps)."""
    if schedule.never_rises():
        return initial_alpha(schedule)
    return float(np.max(np.asarray(_evaluate(schedule, jnp.asarray(_checked_iterations(max(iterations, 1)))))))
