"""What every method shares: the step's gradients it may ask for, and plain SGD itself.

A method is a small frozen object with ``init(θ, n)`` (its state, a pytree: empty for plain SGD)
and ``step(θ, state, gradients, α)`` → (θ⁺, state⁺), compiled into the engine's loop. ``gradients``
(:class:`StepGradients`) computes, on demand, what the step may use: the minibatch gradient at any
point, per-example gradients of the batch, or the full gradient. Methods that only transform the
minibatch gradient g (plain, momentum) implement ``apply(θ, state, g, α)`` instead.

A method may also ask for a per-step *refresh flag*, drawn on the host from (seed, epoch) like the
sampler's plan (``flags``): SVRG's snapshots, SAGA's table start. Since the flags are part of the
plan, a run is the same on every engine and replays exactly, and the per-example gradients a run
computes can be counted exactly (``gradient_count``: the history's ``grad_evals`` times N).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from sgdlab._helpers import theorem, validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.methods.registry import METHODS


class StepGradients(typing.NamedTuple):
    """What a step of a method may compute, each a function of the point θ it is taken at.

    ``mean(θ)`` is the minibatch gradient gₖ = (1/b) Σ_{i ∈ Iₖ} ∇fᵢ(θ); ``value_and_mean(θ)`` the
    minibatch loss with it. For a finite sum in memory, ``each(θ)`` stacks ∇(fᵢ − r)(θ) over the batch's
    entries (a leading axis of B; r is the problem's penalty, the part shared by every fᵢ),
    ``every(θ)`` the same over all N examples, ``penalty(θ)`` is ∇r(θ) and ``full(θ)`` is ∇F(θ);
    ``indices`` and ``mask`` are the batch's row of the plan and ``flag`` the method's refresh flag for
    the step. For an expectation these are None.
    """

    mean: Callable[[Any], Any]
    value_and_mean: Callable[[Any], tuple[Any, Any]]
    each: Callable[[Any], Any] | None = None
    every: Callable[[Any], Any] | None = None
    penalty: Callable[[Any], Any] | None = None
    full: Callable[[Any], Any] | None = None
    indices: Any = None
    mask: Any = None
    flag: Any = None


@dataclasses.dataclass(frozen=True)
class Method:
    """Plain (S)GD, θ⁺ = θ − α g, and the base of every method (see the module docstring)."""

    name = "plain"
    #: What the native engine runs for this class (read for the class itself only: see sgdlab._helpers.declared).
    native = "plain"
    #: The theorems of its step: plain SGD's are its sampler's.
    theorems: typing.ClassVar[tuple[theorem.Theorem, ...]] = ()
    #: Per-example gradients a step computes for each entry of its batch (SVRG: two, at θ and at the snapshot).
    gradients_per_example = 1
    #: Whether the method needs a finite sum held in memory (per-example gradients, a full gradient).
    needs_finite_sum = False

    def init(self, params: Any, n: int | None = None) -> Any:
        """The method's state at θ⁰ for a problem of N = ``n`` terms (empty for plain SGD)."""
        return ()

    def apply(self, params: Any, state: Any, grads: Any, alpha: Any) -> tuple[Any, Any]:
        """(θ − α g, state)."""
        return jax.tree.map(lambda p, g: p - jnp.asarray(alpha, p.dtype) * g, params, grads), state

    def step(self, params: Any, state: Any, gradients: StepGradients, alpha: Any) -> tuple[Any, Any]:
        """One step from θ with step size α: ``apply`` to the minibatch gradient."""
        return self.apply(params, state, gradients.mean(params), alpha)

    def flags(self, n: int, batch_size: int, seed: int, epoch: int, steps: int) -> np.ndarray | None:
        """The refresh flag of each of the epoch's ``steps`` steps (None: the method has none)."""
        return None

    def gradient_count(self, examples: int, flags: np.ndarray | None, n: int | None) -> int:
        """Per-example gradients an epoch computes: ``gradients_per_example`` for each of its ``examples``
        batch entries, and N for each refresh (a full pass)."""
        refreshes = 0 if flags is None else int(np.count_nonzero(flags))
        return self.gradients_per_example * examples + refreshes * (n or 0)

    @property
    def is_plain(self) -> bool:
        """Whether this is plain SGD (θ − α g, no state)."""
        return type(self) is Method

    def describe(self) -> str:
        """The method in words, e.g. 'heavy ball (β = 0.9)'."""
        return "plain"

    def step_scale(self) -> float:
        """The factor a comparison's default step takes beside plain SGD's: 1 (momentum: 1 − β)."""
        return 1.0

    def stability_limit(self, L: float) -> float:
        """The constant steps below this are stable on a quadratic of smoothness L: 2/L for plain SGD."""
        return 2.0 / L


@METHODS.register
def plain() -> Method:
    """Plain (S)GD: θᵏ⁺¹ = θᵏ − αₖ gᵏ.

    Returns
    -------
    Method
        The default method of every run.

    Examples
    --------
    >>> import sgdlab as sl
    >>> sl.plain().describe()
    'plain'
    """
    return Method()


def read_method(method: Any) -> Method:
    """A method given as an object (or None: plain), else an error naming ``method``."""
    if method is None:
        return Method()
    if not isinstance(method, Method):
        validation.fail("method", "a method such as sl.plain(), sl.heavy_ball(0.9), sl.svrg() or sl.saga()",
                        validation.shown(method), error=TypeError)
    return method
