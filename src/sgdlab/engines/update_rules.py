"""The update role: what every engine applies at a step, one protocol for plain SGD, a method, an optax
transformation and an averaged iterate kept beside θ.

A run's :class:`UpdateRule` holds its ``method`` (:mod:`sgdlab.methods`: plain SGD, momentum, variance reduction;
plain under an optax transformation), the optax ``transformation`` that replaces the method's update when given,
and the ``averaging`` that follows θ (:mod:`sgdlab.methods.averaging`). The JAX, streamed and native engines ask it
for the state at θ⁰ (:meth:`UpdateRule.init`), the step (:meth:`UpdateRule.step`), the averaged iterate
(:meth:`UpdateRule.follow`, :meth:`UpdateRule.averaged_point`), the refresh flags and gradient counts of an epoch,
and what the native loop would run (:meth:`UpdateRule.native_kernels`): no engine dispatches on the kind of object
it was given. The state is the method's (or the transformation's), paired with the averaging's when there is one.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import jax
import numpy as np

from sgdlab._helpers import pytrees
from sgdlab._helpers.declared import declared
from sgdlab.methods import Method, StepGradients, plain
from sgdlab.methods.averaging import Averaged, Averaging
from sgdlab.samplers import Sampler
from sgdlab.schedules import AdaptiveStep, Schedule

#: The default method: θ − αₖ g.
PLAIN = plain()


@dataclasses.dataclass(frozen=True)
class UpdateRule:
    """A run's update: its ``method``, the optax ``transformation`` that replaces its update (None: the method's
    own), and the ``averaging`` kept beside θ (None: none)."""

    method: Method = PLAIN
    transformation: Any = None
    averaging: Averaging | None = None

    @classmethod
    def of(cls, rule: Any) -> UpdateRule:
        """The rule of what a run was given: None (plain SGD), a method, an optax transformation, an averaged one
        of these (:class:`~sgdlab.methods.averaging.Averaged`), or a rule."""
        if isinstance(rule, UpdateRule):
            return rule
        if isinstance(rule, Averaged):
            return dataclasses.replace(cls.of(rule.rule), averaging=rule.averaging)
        if rule is None or isinstance(rule, Method):
            return cls(rule or PLAIN)
        return cls(PLAIN, rule)

    @property
    def is_plain(self) -> bool:
        """Whether the step is θ − αₖ g with no state."""
        return self.method.is_plain and self.transformation is None and self.averaging is None

    def init(self, params: Any, lanes: int | None = None, n: int | None = None) -> Any:
        """The state at θ⁰ for a problem of ``n`` terms, one a lane when there are ``lanes`` (θ stacked)."""
        def one(params):
            inner = self.method.init(params, n) if self.transformation is None else self.transformation.init(params)
            return inner if self.averaging is None else (inner, self.averaging.init(params))

        if self.is_plain:
            return ()
        return one(params) if lanes is None else jax.vmap(one)(params)

    def inner(self, state: Any) -> Any:
        """The method's (or transformation's) part of the state."""
        return state if self.averaging is None else state[0]

    def step(self, params: Any, state: Any, gradients: StepGradients, schedule: Schedule | None, k: Any) -> tuple:
        """(θ⁺, the method's state⁺) from θ with the step's ``gradients``: the method's step with αₖ (θ − αₖ g for
        plain SGD), or θ + u from the optax transformation (given the batch loss as ``value=`` when it takes extra
        arguments, as optax.polyak_sgd and its line searches do), kept in θ's dtype as optax.apply_updates does. A
        step that adapts to the loss (Polyak's) takes its αₖ from the batch's loss and gradient."""
        if self.transformation is not None:
            return self._transformed(params, state, gradients)
        assert schedule is not None   # a run without an optax transformation always has a schedule (run.options)
        if isinstance(schedule, AdaptiveStep):
            value, grads = gradients.value_and_mean(params)
            return self.method.apply(params, state, grads, schedule.size(value, grads))
        if self.method.is_plain:
            return pytrees.sgd_update(params, gradients.mean(params), schedule(k)), state
        return self.method.step(params, state, gradients, schedule(k))

    def _transformed(self, params: Any, state: Any, gradients: StepGradients) -> tuple:
        import optax  # a transformation was given, so optax is installed (it is not a dependency of sgdlab)

        if isinstance(self.transformation, optax.GradientTransformationExtraArgs):
            value, grads = gradients.value_and_mean(params)
            updates, state = self.transformation.update(grads, state, params, value=value, grad=grads,
                                                        value_fn=lambda point: gradients.value_and_mean(point)[0])
        else:
            updates, state = self.transformation.update(gradients.mean(params), state, params)
        return jax.tree.map(lambda p, u: (p + u).astype(p.dtype), params, updates), state

    def follow(self, state: Any, inner: Any, params: Any, k: Any) -> Any:
        """The whole state after a step made θᵏ = ``params`` with the method's state ``inner``: the averaging
        follows θ."""
        if self.averaging is None:
            return inner
        return inner, self.averaging.update(state[1], params, k, inner)

    def averaged_point(self, state: Any) -> Any:
        """θ̄ from the state when the rule averages, else None."""
        return None if self.averaging is None else self.averaging.point(state[1])

    def flags(self, n: int, sampler: Sampler, seeds: np.ndarray, epoch: int, steps: int) -> np.ndarray | None:
        """The method's refresh flags of the epoch, R × S for R seeds, or None when it has none."""
        batch_size = getattr(sampler, "batch_size", n)
        flags = [self.method.flags(n, batch_size, int(seed), epoch, steps) for seed in seeds]
        return None if any(lane is None for lane in flags) else np.stack(typing.cast(list[np.ndarray], flags))

    def gradient_counts(self, examples: np.ndarray, flags: np.ndarray | None, n: int | None) -> np.ndarray:
        """Per-example gradients each lane's epoch computes, from its batch entries and refresh flags."""
        return np.array([self.method.gradient_count(int(count), None if flags is None else flags[lane], n)
                         for lane, count in enumerate(examples)], dtype=np.int64)

    def native_kernels(self) -> tuple[str | None, str | None]:
        """(the method's native update, the averaging's) as their own classes declare them (None where a class
        declares none; the method's is None under an optax transformation, which runs on the JAX engine)."""
        method = None if self.transformation is not None else declared(self.method, "native")
        averaging = None if self.averaging is None else declared(self.averaging, "native")
        return method, averaging

    def describe(self) -> str:
        """The update in words, e.g. 'heavy ball (β = 0.9) with a Polyak–Ruppert average'."""
        text = "an optax transformation" if self.transformation is not None else self.method.describe()
        return text if self.averaging is None else f"{text} with a {self.averaging.describe()}"


#: Plain SGD's rule, θ − αₖ g with no state: the default of every engine.
PLAIN_RULE = UpdateRule()
