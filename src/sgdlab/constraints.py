"""Feasible sets: equality constraints h(θ) = 0, inequality constraints g(θ) ≤ 0, and projections.

A set C knows its constraints, how far a point is from satisfying them (the *violation*
max(maxᵢ |hᵢ(θ)|, maxⱼ gⱼ(θ)⁺)), and, for the sets below, the Euclidean projection
P_C(v) = argmin_{θ ∈ C} ‖θ − v‖, cheap enough to apply after every step of projected (S)GD:

| set | C | P_C(v) |
| --- | --- | --- |
| ``box(lower, upper)`` | lower ≤ θ ≤ upper | clip(v, lower, upper) |
| ``nonnegative()`` | θ ≥ 0 | max(v, 0) |
| ``ball(radius)`` | ‖θ‖ ≤ r | v · min(1, r/‖v‖) |
| ``simplex()`` | θ ≥ 0, Σθ = 1 | max(v − τ, 0) with τ such that the sum is 1 (Michelot's algorithm) |
| ``affine(A, b)`` | Aθ = b | v − A⁺(Av − b) |

``general_constraints(equalities=[...], inequalities=[...])`` states general constraints: feasibility is
checked, but there is no projection, so projected SGD refuses it. Sets act on a single array of
parameters; they are JAX pytrees, so the compiled engine takes them as arguments.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp, pytree_dataclass, static_pytree

C = typing.TypeVar("C", bound="ConstraintSet")


class ConstraintSet:
    """Base of all feasible sets."""

    name = "constraint"

    @property
    def bounded(self) -> bool:
        """True when the set is known to be bounded (so no objective is unbounded on it)."""
        return False

    def equalities(self, theta) -> jax.Array:
        """The vector h(θ) of equality constraints (empty when there are none)."""
        return jnp.zeros(0)

    def inequalities(self, theta) -> jax.Array:
        """The vector g(θ) of inequality constraints, feasible where g(θ) ≤ 0 (empty when none)."""
        return jnp.zeros(0)

    def project(self, theta) -> jax.Array:
        """P_C(θ), the nearest point of the set."""
        raise NotImplementedError

    @property
    def has_projection(self) -> bool:
        """True when ``project`` is available (so projected (S)GD can use the set)."""
        return type(self).project is not ConstraintSet.project

    def is_empty(self) -> bool:
        """True when the set is known to be empty (no θ satisfies the constraints)."""
        return False

    def violation(self, theta) -> jax.Array:
        """max(maxᵢ |hᵢ(θ)|, maxⱼ gⱼ(θ)⁺), zero exactly on the set."""
        h = jnp.abs(jnp.ravel(self.equalities(theta)))
        g = jnp.maximum(jnp.ravel(self.inequalities(theta)), 0.0)
        return jnp.max(jnp.concatenate([jnp.zeros(1, dtype=jnp.result_type(theta)), h, g]))

    def is_feasible(self, theta, tol: float = 1e-8) -> bool:
        """True when the violation at θ is at most ``tol``."""
        tol = validation.nonnegative_float("tol", tol)
        return bool(self.violation(jnp.asarray(theta)) <= tol)

    def validate(self, params) -> None:
        """Raise a ValueError unless the set can constrain parameters shaped like ``params``."""
        leaves = jax.tree.leaves(params)
        if len(leaves) != 1 or not isinstance(params, (np.ndarray, jax.Array)):
            validation.fail("constraint", "applied to a single array of parameters", "a pytree of "
                            f"{len(leaves)} arrays", context=self.name)

    def __repr__(self) -> str:
        return f"{self.name}()"


@typing.dataclass_transform()
def _constraint_set(cls: type[C]) -> type[C]:
    """Make ``cls`` a frozen dataclass and a pytree whose fields are leaves."""
    return pytree_dataclass(dataclasses.dataclass(frozen=True, repr=False)(cls))


@_constraint_set
class Box(ConstraintSet):
    """lower ≤ θ ≤ upper, elementwise (bounds are scalars or arrays broadcast to θ's shape)."""

    name = "box"
    lower: jax.Array
    upper: jax.Array

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper)))

    def inequalities(self, theta):
        return jnp.concatenate([jnp.ravel(self.lower - theta), jnp.ravel(theta - self.upper)])

    def project(self, theta):
        return jnp.clip(theta, self.lower, self.upper)

    def validate(self, params):
        super().validate(params)
        for bound_name in ("lower", "upper"):
            bound = np.asarray(getattr(self, bound_name))
            if not _broadcasts_to(bound.shape, params.shape):
                validation.fail(bound_name,
                                f"a scalar or an array broadcastable to the parameters' shape {params.shape}",
                                f"shape {bound.shape}", context="box")

    def __repr__(self) -> str:
        return f"box(lower={_bound_text(self.lower)}, upper={_bound_text(self.upper)})"


def _bound_text(bound: jax.Array) -> str:
    """A box's bound as its repr shows it: the number, or the array's shape."""
    return repr(float(bound)) if np.ndim(bound) == 0 else f"<array of shape {np.shape(bound)}>"


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


@_constraint_set
class Nonnegative(ConstraintSet):
    """θ ≥ 0, elementwise."""

    name = "nonnegative"

    def inequalities(self, theta):
        return jnp.ravel(-theta)

    def project(self, theta):
        return jnp.maximum(theta, 0.0)


@_constraint_set
class Ball(ConstraintSet):
    """‖θ‖ ≤ radius (Euclidean norm of all entries)."""

    name = "ball"
    radius: float

    @property
    def bounded(self) -> bool:
        return True

    def inequalities(self, theta):
        return jnp.reshape(jnp.linalg.norm(jnp.ravel(theta)) - self.radius, (1,))

    def project(self, theta):
        norm = jnp.linalg.norm(jnp.ravel(theta))
        return theta * jnp.minimum(1.0, self.radius / jnp.maximum(norm, jnp.finfo(theta.dtype).tiny))

    def __repr__(self) -> str:
        return f"ball(radius={self.radius})"


@_constraint_set
class Simplex(ConstraintSet):
    """The probability simplex: θ ≥ 0 and Σθ = 1 (θ a vector)."""

    name = "simplex"

    @property
    def bounded(self) -> bool:
        return True

    def equalities(self, theta):
        return jnp.reshape(jnp.sum(theta) - 1.0, (1,))

    def inequalities(self, theta):
        return jnp.ravel(-theta)

    def project(self, theta):
        """Michelot's algorithm: with S = all indices, repeat τ = (Σ_{i∈S} vᵢ − 1)/|S|,
        S = {i : vᵢ > τ} until S stops shrinking; then P(v) = max(v − τ, 0)."""

        def threshold(support):
            return (jnp.sum(jnp.where(support, theta, 0.0)) - 1.0) / jnp.sum(support)

        def shrink(state):
            support, _ = state
            return theta > threshold(support), support

        support, _ = jax.lax.while_loop(lambda s: jnp.any(s[0] != s[1]), shrink,
                                        (theta > threshold(jnp.ones_like(theta, dtype=bool)),
                                         jnp.ones_like(theta, dtype=bool)))
        return jnp.maximum(theta - threshold(support), 0.0)

    def validate(self, params):
        super().validate(params)
        if params.ndim != 1:
            validation.fail("constraint", "applied to a 1-D parameter vector", f"parameters of shape {params.shape}",
                            context="simplex")


@_constraint_set
class Affine(ConstraintSet):
    """Aθ = b, with A⁺ (the pseudo-inverse) computed once for the projection v − A⁺(Av − b)."""

    name = "affine"
    A: jax.Array
    b: jax.Array
    A_pinv: jax.Array

    def equalities(self, theta):
        return self.A @ theta - self.b

    def project(self, theta):
        return theta - self.A_pinv @ (self.A @ theta - self.b)

    def is_empty(self) -> bool:
        """Aθ = b has no solution when b is not in the range of A: ‖A A⁺ b − b‖ > 1e-9 (1 + ‖b‖)."""
        A, b, A_pinv = (np.asarray(a) for a in (self.A, self.b, self.A_pinv))
        return bool(np.linalg.norm(A @ (A_pinv @ b) - b) > 1e-9 * (1 + np.linalg.norm(b)))

    def validate(self, params):
        super().validate(params)
        if params.shape != (self.A.shape[1],):
            validation.fail("A", f"of shape (m, {params.shape[0] if params.ndim == 1 else 'p'}) for parameters of "
                            f"shape {params.shape}", f"shape {self.A.shape}", context="affine")


@static_pytree
@dataclasses.dataclass(frozen=True, repr=False)
class Constraints(ConstraintSet):
    """General constraints hᵢ(θ) = 0 and gⱼ(θ) ≤ 0 from user functions (jax.numpy); no projection."""

    name = "constraints"
    equality_functions: tuple = ()
    inequality_functions: tuple = ()

    def equalities(self, theta):
        return _stacked(self.equality_functions, theta)

    def inequalities(self, theta):
        return _stacked(self.inequality_functions, theta)

    def validate(self, params):
        """General constraints may act on any pytree of parameters."""


def _stacked(functions, theta) -> jax.Array:
    values = [jnp.ravel(jnp.asarray(f(theta))) for f in functions]
    return jnp.concatenate(values) if values else jnp.zeros(0)


def box(lower: ArrayLike, upper: ArrayLike) -> Box:
    """lower ≤ θ ≤ upper elementwise; bounds are scalars or arrays broadcast to θ's shape, ±inf allowed.

    Parameters
    ----------
    lower, upper : float or array
        The bounds (no NaN; lower ≤ upper everywhere).

    Returns
    -------
    Box
        The set; its projection clips θ to the bounds.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> unit = sl.box(0.0, 1.0)
    >>> unit
    box(lower=0.0, upper=1.0)
    >>> np.asarray(unit.project(np.array([-0.5, 0.3, 2.0]))).tolist()
    [0.0, 0.3, 1.0]
    """
    lower, upper = (np.asarray(bound, dtype=np.float64) for bound in (lower, upper))
    for bound_name, bound in (("lower", lower), ("upper", upper)):
        if np.isnan(bound).any():
            validation.fail(bound_name, "numbers or ±inf (no NaN)", "NaN", context="box")
    if np.any(lower > upper):
        where = np.argwhere(np.broadcast_to(lower > upper, np.broadcast_shapes(lower.shape, upper.shape)))[0]
        validation.fail("lower", "<= upper everywhere (an empty box has no feasible point)",
                        f"lower > upper at index {tuple(int(i) for i in where)}", context="box")
    return Box(jnp.asarray(lower), jnp.asarray(upper))


def nonnegative() -> Nonnegative:
    """θ ≥ 0 elementwise.

    Returns
    -------
    Nonnegative
        The set; its projection is max(θ, 0).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.asarray(sl.nonnegative().project(np.array([-1.0, 2.0]))).tolist()
    [0.0, 2.0]
    """
    return Nonnegative()


def ball(radius: float) -> Ball:
    """‖θ‖ ≤ radius, the Euclidean ball around 0.

    Parameters
    ----------
    radius : float
        The radius, ≥ 0.

    Returns
    -------
    Ball
        The set; its projection rescales θ onto the sphere when outside.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.round(np.asarray(sl.ball(1.0).project(np.array([3.0, 4.0]))), 12).tolist()
    [0.6, 0.8]
    """
    return Ball(validation.nonnegative_float("radius", radius, context="ball"))


def simplex() -> Simplex:
    """{θ : θ ≥ 0, Σθ = 1}, the probability simplex (θ a vector).

    Returns
    -------
    Simplex
        The set; its projection is the sort-based Euclidean projection (Held, Wolfe and Crowder 1974).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.asarray(sl.simplex().project(np.array([0.5, 1.0, -1.0]))).tolist()
    [0.25, 0.75, 0.0]
    """
    return Simplex()


def affine(A: ArrayLike, b: ArrayLike) -> Affine:
    """{θ : Aθ = b} for a matrix A (m × p) and a vector b (m,).

    Parameters
    ----------
    A : array, m × p
        The constraint matrix (finite).
    b : array, m
        The right-hand side.

    Returns
    -------
    Affine
        The set; its projection is v − A⁺(Av − b), A⁺ computed once. When Aθ = b has no solution the
        set is empty and a run on it is refused.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> np.round(np.asarray(sl.affine([[1.0, 1.0]], [1.0]).project(np.array([1.0, 1.0]))), 12).tolist()
    [0.5, 0.5]
    """
    A = validation.finite_array("A", A, ndim=2)
    b = validation.finite_array("b", b, ndim=1)
    validation.same_length(("A", "b"), (A.shape[0], b.shape[0]))
    return Affine(jnp.asarray(A), jnp.asarray(b), jnp.asarray(np.linalg.pinv(A)))


def general_constraints(equalities: Sequence[Callable[[Any], ArrayLike]] = (),
                        inequalities: Sequence[Callable[[Any], ArrayLike]] = ()) -> Constraints:
    """General constraints hᵢ(θ) = 0 and gⱼ(θ) ≤ 0, for checking feasibility and measuring violation.

    Parameters
    ----------
    equalities, inequalities : sequence of callables
        Functions of θ (written in ``jax.numpy``) giving a number or an array each.

    Returns
    -------
    Constraints
        The set: ``is_feasible(θ)`` and ``violation(θ)`` work; it has no projection, so projected SGD
        needs one of the sets that have one (box, nonnegative, ball, simplex, affine).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> below = sl.general_constraints(inequalities=[lambda t: t[0] + t[1] - 1])
    >>> below.is_feasible(np.array([0.2, 0.3])), below.is_feasible(np.array([1.0, 1.0]))
    (True, False)
    >>> float(below.violation(np.array([1.0, 1.0])))
    1.0
    """
    for name, functions in (("equalities", equalities), ("inequalities", inequalities)):
        if not all(callable(f) for f in functions):
            validation.fail(name, "a list of functions of θ", validation.shown(functions), error=TypeError)
    return Constraints(tuple(equalities), tuple(inequalities))
