"""General expectations F(θ) = E_ω[f(θ, ω)], with ω drawn by a function of a PRNG key.

There is no finite data set, so no epoch: a run's budget is in steps, and SGD with
``sampler=sl.iid(B)`` draws B fresh, independent ω at every step (ωₖ,₁..B from the key
fold_in(key(seed), k), split B ways), so gᵏ = (1/B) Σ_b ∇f(θᵏ, ωₖ,b) is an unbiased estimate of
∇F(θᵏ). Gradient descent (``sampler=sl.full_batch()``) needs E_ω[∇f] exactly: give ``exact_loss``
(F itself, differentiated by JAX) or ``exact_grad``.

The history measures F and ‖∇F‖ with ``exact_loss`` when given, else on a fixed evaluation sample
of ``evaluation_size`` draws from the key ``evaluation_seed`` (the same for every run).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import ExampleLoss, Params
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.base import Problem, _validated_params0


class Expectation(Problem):
    """F(θ) = E_ω[loss(θ, ω)] with ω = sample(key); see the module docstring.

    Parameters
    ----------
    loss, sample, params0, exact_loss, exact_grad, evaluation_size, evaluation_seed, solution, optimal_value, lipschitz
        As in :func:`expectation`, which builds one.

    Examples
    --------
    >>> import jax
    >>> import sgdlab as sl
    >>> problem = sl.Expectation(lambda theta, omega: (theta - omega) ** 2, jax.random.normal, 0.0)
    >>> problem
    Expectation(F on 4096 evaluation draws)
    """

    n = None

    def __init__(self, loss, sample, params0, *, exact_loss=None, exact_grad=None, evaluation_size: int = 4096,
                 evaluation_seed: int = 0, solution=None, optimal_value: float | None = None,
                 lipschitz: float | None = None):
        for name, function in (("loss", loss), ("sample", sample)):
            if not callable(function):
                validation.fail(name, "a callable", validation.shown(function), error=TypeError)
        for name, function in (("exact_loss", exact_loss), ("exact_grad", exact_grad)):
            if function is not None and not callable(function):
                validation.fail(name, "a callable of θ", validation.shown(function), error=TypeError)
        self._loss, self._sample = loss, sample
        self.params0 = _validated_params0(params0)
        _check_sample(sample)
        self.exact_loss, self.exact_grad = exact_loss, exact_grad
        self.evaluation_size = validation.integer("evaluation_size", evaluation_size, low=2)
        self.evaluation_seed = validation.integer("evaluation_seed", evaluation_seed, low=0)
        keys = jax.random.split(jax.random.key(self.evaluation_seed), self.evaluation_size)
        try:
            self.data = jax.vmap(sample)(keys)
        except jax.errors.JAXTypeError as error:
            validation.fail("sample", "a function written in jax.numpy, so that it can be vmapped over keys",
                            str(error).splitlines()[0])
        _check_scalar(loss, self.params0, jax.tree.map(lambda leaf: leaf[0], self.data))
        self._solution = None if solution is None else pytrees.conform("solution", solution, self.params0)
        self._optimal_value = optimal_value
        self._lipschitz = None if lipschitz is None else validation.positive_float("lipschitz", lipschitz)

    def defining_functions(self) -> tuple:
        """The loss, the sampler of ω and the exact F and ∇F where given."""
        return tuple(f for f in (self._loss, self._sample, self.exact_loss, self.exact_grad) if f is not None)

    @property
    def exact(self) -> bool:
        """True when F (or ∇F) is known in closed form rather than estimated on the evaluation sample."""
        return self.exact_loss is not None or self.exact_grad is not None

    def data_loss(self, params, data) -> jax.Array:
        """F(θ): exact_loss(θ) when given, else the mean of f(θ, ω) over the evaluation sample ``data``."""
        if self.exact_loss is not None:
            return self.exact_loss(params)
        return jnp.mean(jax.vmap(self._loss, in_axes=(None, 0))(params, data))

    def step_gradient(self, params, sampler, seed, k):
        """Step k's gradient: E_ω[∇f] exactly for full_batch, else the mean over B fresh draws."""
        if sampler.is_full_batch:
            return self.exact_gradient(params)
        return jax.grad(self._draws_loss(sampler, seed, k))(params)

    def step_value_and_gradient(self, params, data, sampler, seed, k):
        """Step k's loss and gradient: F and ∇F for full_batch (F on the evaluation sample when not exact),
        else the mean of f(θ, ω) over the step's B fresh draws and its gradient."""
        if sampler.is_full_batch:
            return self.data_loss(params, data), self.exact_gradient(params)
        return jax.value_and_grad(self._draws_loss(sampler, seed, k))(params)

    def _draws_loss(self, sampler, seed, k):
        """θ ↦ (1/B) Σ_b f(θ, ω_b) over step k's draws, from the key fold_in(key(seed), k)."""
        keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), k), sampler.batch_size)
        draws = jax.vmap(self._sample)(keys)
        return lambda p: jnp.mean(jax.vmap(self._loss, in_axes=(None, 0))(p, draws))

    def exact_gradient(self, params):
        """∇F(θ) = E_ω[∇f(θ, ω)] from exact_grad, or from differentiating exact_loss."""
        if self.exact_grad is not None:
            return self.exact_grad(params)
        return jax.grad(self.exact_loss)(params)

    def loss(self, params) -> jax.Array:
        return self.jitted(type(self).data_loss)(pytrees.conform("params", params, self.params0), self.data)

    def grad(self, params):
        return self.jitted(_data_grad)(pytrees.conform("params", params, self.params0), self.data)

    def lipschitz(self) -> float | None:
        return self._lipschitz

    def unconstrained_solution(self):
        return self._solution

    def unconstrained_optimal_value(self) -> float | None:
        return self._optimal_value

    @cached_property
    def negation(self) -> Expectation:
        """−F, the problem that maximizing F minimizes. θ* (the point given as ``solution``) is kept
        and the optimal value negated: for ``maximize``, give the maximizer and the maximum."""
        return Expectation(lambda params, omega: -self._loss(params, omega), self._sample, self.params0,
                           exact_loss=None if self.exact_loss is None else (lambda params: -self.exact_loss(params)),
                           exact_grad=None if self.exact_grad is None else
                           (lambda params: jax.tree.map(jnp.negative, self.exact_grad(params))),
                           evaluation_size=self.evaluation_size, evaluation_seed=self.evaluation_seed,
                           solution=self._solution, lipschitz=self._lipschitz,
                           optimal_value=None if self._optimal_value is None else -self._optimal_value)

    def __repr__(self) -> str:
        measured = "exact F" if self.exact_loss is not None else f"F on {self.evaluation_size} evaluation draws"
        return f"Expectation({measured})"


def _data_grad(problem: Expectation, params, data):
    """∇F(θ) computed from the evaluation sample ``data`` (or exactly): what :meth:`Expectation.grad` compiles once
    per problem (:meth:`Problem.jitted`)."""
    return jax.grad(problem.data_loss)(params, data)


def expectation(loss: ExampleLoss, sample: Callable[[jax.Array], Any], params0: Params, *,
                exact_loss: Callable[[Params], Any] | None = None, exact_grad: Callable[[Params], Params] | None = None,
                evaluation_size: int = 4096, evaluation_seed: int = 0, solution: Params | None = None,
                optimal_value: float | None = None, lipschitz: float | None = None) -> Expectation:
    """F(θ) = E_ω[loss(θ, ω)] with ω = sample(key): a problem with no finite data set (see the module
    docstring). Runs take ``steps=`` and ``sampler=sl.iid(B)`` (or gradient descent with the exact F).

    Parameters
    ----------
    loss : callable
        ``loss(params, omega) -> scalar``, in ``jax.numpy``.
    sample : callable
        ``sample(key) -> omega``, one draw from a JAX PRNG key (in ``jax.numpy``, so draws can be vmapped).
    params0 : pytree of arrays
        θ⁰.
    exact_loss, exact_grad : callable, optional
        F(θ) or ∇F(θ) in closed form: the history then measures F exactly, and gradient descent can run.
    evaluation_size : int, default 4096
        Draws of the fixed evaluation sample the history measures F on, without ``exact_loss``.
    evaluation_seed : int, default 0
        The key of that sample (the same for every run).
    solution, optimal_value, lipschitz : optional
        θ*, p* and L where known (the history then has dist and gap, and the default step is 1/L).

    Returns
    -------
    Expectation
        The problem (``n`` is None: it has no epochs).

    Examples
    --------
    The mean of ω ~ N(3, 1), as the minimizer of E[½(θ − ω)²] = ½(θ − 3)² + ½:

    >>> import jax
    >>> import sgdlab as sl
    >>> mean = sl.expectation(lambda theta, omega: 0.5 * (theta - omega) ** 2,
    ...                       lambda key: 3.0 + jax.random.normal(key), 0.0,
    ...                       exact_loss=lambda theta: 0.5 * (theta - 3.0) ** 2 + 0.5,
    ...                       solution=3.0, optimal_value=0.5, lipschitz=1.0)
    >>> result = sl.minimize(mean, sl.iid(8), step=sl.inverse_time(0.5, 0.01), steps=2000, record_every=500)
    >>> result.history.iteration.tolist(), round(float(result.params), 1)
    ([0, 500, 1000, 1500, 2000], 3.0)
    """
    return Expectation(loss, sample, params0, exact_loss=exact_loss, exact_grad=exact_grad,
                       evaluation_size=evaluation_size, evaluation_seed=evaluation_seed, solution=solution,
                       optimal_value=optimal_value, lipschitz=lipschitz)


def _check_sample(sample) -> None:
    """sample(key) must give draws of one structure, shape and dtype whatever the key."""
    first, second = (jax.tree.map(np.shape, sample(jax.random.key(seed))) for seed in (1, 2))
    kinds = [jax.tree.map(lambda leaf: np.asarray(leaf).dtype, sample(jax.random.key(seed))) for seed in (1, 2)]
    same_structure = jax.tree.structure(first) == jax.tree.structure(second)  # type: ignore[operator]
    if not same_structure or first != second or kinds[0] != kinds[1]:
        validation.fail("sample", "a function whose draws have the same structure, shapes and dtypes for every key",
                        f"{first} for one key and {second} for another")


def _check_scalar(loss, params0, draw) -> None:
    shape = jax.eval_shape(loss, params0, draw)
    if getattr(shape, "shape", None) != ():
        validation.fail("loss", "a function returning a scalar for one draw ω", f"output {shape}")
