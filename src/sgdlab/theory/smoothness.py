"""Smoothness: L, a Lipschitz constant of ∇F, and the per-example and minibatch constants.

L satisfies ‖∇F(θ) − ∇F(θ')‖ ≤ L‖θ − θ'‖. For the built-in linear models it is known in closed
form; otherwise :func:`lipschitz` estimates the spectral norm of the Hessian ∇²F(θ) at a point by
power iteration on Hessian-vector products (exact for a quadratic, a local value otherwise). For a
finite sum, L_max = maxᵢ Lᵢ; the constant of a sampler's minibatches, between the two, is in
:mod:`sgdlab.theory.minibatch`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Params
from sgdlab._helpers.declared import declared
from sgdlab.problems.base import Problem

#: Power iteration stops when the estimate changes by less than this, relatively.
POWER_TOL = 1e-12
POWER_MAX_ITERATIONS = 10_000


class LipschitzConstant(float):
    """A Lipschitz constant (a float) that says how it was obtained: ``method`` and ``exact``."""

    method: str
    exact: bool

    def __new__(cls, value: float, method: str, exact: bool):
        constant = super().__new__(cls, value)
        constant.method, constant.exact = method, exact
        return constant

    def __repr__(self) -> str:
        return f"LipschitzConstant({float(self)!r}, method={self.method!r})"


def lipschitz(problem: Problem, params: Params | None = None) -> LipschitzConstant:
    """L of ∇F: the problem's own value where it knows one, else power iteration at ``params``
    (default θ⁰) on Hessian-vector products (:func:`hessian_norm`).

    Parameters
    ----------
    problem : Problem
        The problem.
    params : pytree, optional
        Where to estimate the Hessian's norm when L is not known (default θ⁰).

    Returns
    -------
    LipschitzConstant
        L, a float that also says how it was obtained (``method``) and whether it is ``exact``.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> L = sl.theory.lipschitz(problem)
    >>> L.method, bool(np.isclose(L, np.linalg.eigvalsh(X.T @ X / 3).max()))
    ('closed form', True)
    """
    known = problem.lipschitz()
    if known is not None:
        exact = bool(declared(problem, "exact_lipschitz", False))
        return LipschitzConstant(known, "closed form" if exact else "closed-form bound", exact)
    return hessian_norm(problem, params)


def hessian_norm(problem: Problem, params: Params | None = None) -> LipschitzConstant:
    """‖∇²F(θ)‖₂ by power iteration: v ← Hv/‖Hv‖ with Hv = d/dt ∇F(θ + tv) (``jax.jvp`` of
    ``jax.grad``), until |vᵀHv| changes by less than POWER_TOL relatively.

    Parameters
    ----------
    problem : Problem
        The problem (its F differentiable twice by JAX).
    params : pytree, optional
        θ, where the Hessian is taken (default θ⁰): exact L for a quadratic, a local value otherwise.

    Returns
    -------
    LipschitzConstant
        The estimate, its ``method`` naming the iterations it took.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> H = np.diag([1.0, 4.0])
    >>> quadratic = sl.finite_sum(lambda t, c: 0.5 * t @ (H @ t) - c @ t, np.ones((2, 2)), np.zeros(2))
    >>> round(float(sl.theory.hessian_norm(quadratic)), 9)
    4.0
    """
    params = problem.params0 if params is None else pytrees.conform("params", params, problem.params0)
    grad = problem.grad(params)
    if not bool(pytrees.all_finite(grad)):
        validation.fail("params", "a point where ∇F is finite (power iteration needs Hessian-vector products)",
                        "a non-finite gradient", context="lipschitz")
    value, iterations = problem.jitted(_power_iteration)(params, problem.data)
    if not np.isfinite(value):
        validation.fail("params", "a point where the Hessian-vector products are finite", "non-finite values",
                        context="lipschitz")
    method = f"power iteration on Hessian-vector products at θ ({int(iterations)} iterations; a local value)"
    return LipschitzConstant(float(value), method, exact=False)


def _power_iteration(problem: Problem, params, data):
    flat, unravel = ravel_pytree(params)

    def hvp(v):
        gradient = jax.grad(lambda p: problem.data_loss(p, data))
        return ravel_pytree(jax.jvp(gradient, (params,), (unravel(v),))[1])[0]

    def step(state):
        v, estimate, _, i = state
        hv = hvp(v)
        return hv / jnp.linalg.norm(hv), jnp.abs(jnp.vdot(v, hv)), estimate, i + 1

    def unsettled(state):
        _, estimate, previous, i = state
        return (jnp.abs(estimate - previous) > POWER_TOL * jnp.abs(estimate)) & (i < POWER_MAX_ITERATIONS)

    start = jax.random.normal(jax.random.key(0), flat.shape, flat.dtype)
    _, estimate, _, iterations = jax.lax.while_loop(
        unsettled, step, (start / jnp.linalg.norm(start), jnp.asarray(0.0, flat.dtype),
                          jnp.asarray(jnp.inf, flat.dtype), 0))
    return estimate, iterations


def lipschitz_max(problem: Problem) -> float:
    """L_max = maxᵢ Lᵢ, the largest Lipschitz constant of the terms ∇fᵢ (known for the linear models).

    Parameters
    ----------
    problem : Problem
        A problem that knows its per-example constants (least squares: Lᵢ = ‖xᵢ‖²).

    Returns
    -------
    float
        L_max, the step bound 1/L_max of SGD at B = 1.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> sl.theory.lipschitz_max(problem), float(np.max(np.sum(X**2, axis=1)))
    (4.0, 4.0)
    """
    value = problem.lipschitz_max()
    if value is None:
        validation.fail("problem", "a problem that knows its per-example constants (the built-in linear models)",
                        validation.shown(problem), context="lipschitz_max")
    return value
