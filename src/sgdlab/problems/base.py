"""Problems as the theory states them: an objective F(θ), maybe a constraint θ ∈ C, and what is known about
it (L, θ*, p*). Finite sums are :mod:`sgdlab.problems.finite_sum`, expectations :mod:`sgdlab.problems.expectation`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.constraints import ConstraintSet
from sgdlab.problems.hyperparameters import constructor_arguments


class Problem:
    """What is minimized: an objective F(θ) with its gradient, maybe a constraint θ ∈ C, and what
    is known about it.

    Subclasses say what they know: ``n`` (number of terms, None for an expectation),
    ``lipschitz()`` (L of ∇F), ``unconstrained_solution()`` (a minimizer θ* over all θ),
    ``unconstrained_optimal_value()`` (p* = inf F, −inf when F is known unbounded below) and
    ``supremum()`` (sup F, +inf when known unbounded above). Each returns None when not known.
    ``solution()`` and ``optimal_value()`` answer for the problem as constrained.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.least_squares(np.eye(2), np.array([2.0, -1.0])).subject_to(sl.box(0.0, 1.0))
    >>> problem.is_feasible(np.array([0.5, 0.5])), problem.solution() is None
    (True, True)
    """

    n: int | None = None
    params0: Any = None
    #: The arrays F is computed from (a finite sum's rows; an expectation's evaluation draws).
    data: Any = None
    #: The feasible set C (a ConstraintSet), or None for an unconstrained problem.
    constraint: ConstraintSet | None = None

    def loss(self, params) -> jax.Array:
        """F(θ)."""
        raise NotImplementedError

    def data_loss(self, params, data) -> jax.Array:
        """F(θ) computed from ``data`` (a pure JAX function the engines compile with the data as an argument)."""
        raise NotImplementedError

    @property
    def negation(self) -> Problem:
        """−F, the problem that maximizing F minimizes."""
        raise NotImplementedError

    def grad(self, params):
        """∇F(θ), a pytree shaped like θ."""
        raise NotImplementedError

    def lipschitz(self) -> float | None:
        """L, a Lipschitz constant of ∇F, or None when not known."""
        return None

    def lipschitz_max(self) -> float | None:
        """L_max = maxᵢ Lᵢ over the terms of a finite sum, or None when not known."""
        return None

    @classmethod
    def may_know_lipschitz_max(cls) -> bool:
        """Whether a problem of this class can know L_max at all (its class computes it): when not, a step relative
        to L_max, or to a minibatch's L_B, is refused before any data is read."""
        return cls.lipschitz_max is not Problem.lipschitz_max

    def lipschitz_each(self) -> np.ndarray | None:
        """(Lᵢ)ᵢ, a Lipschitz constant of each term's gradient ∇fᵢ (N numbers), or None when not known."""
        return None

    def unconstrained_solution(self):
        """A minimizer of F over all θ, or None when not known (or none exists)."""
        return None

    def unconstrained_optimal_value(self) -> float | None:
        """inf F over all θ (−inf when known unbounded below), or None when not known."""
        return None

    def supremum(self) -> float | None:
        """sup F over all θ (+inf when known unbounded above), or None when not known."""
        return None

    def diagnostics(self, params, data) -> dict:
        """Problem-specific numbers recorded in the history with F and ‖∇F‖ (a pure JAX function
        of θ and the data; none by default)."""
        return {}

    #: True for a model that predicts class labels (it has :meth:`data_accuracy`).
    is_classifier: bool = False

    def data_accuracy(self, params, data) -> jax.Array:
        """The fraction of the examples in ``data`` whose predicted class is their label (a pure JAX
        function, for a classifier only)."""
        raise NotImplementedError(f"{type(self).__name__} does not predict classes")

    def defining_functions(self) -> tuple:
        """The user code that defines F (its per-example loss, or the loss and sampler of an
        expectation), which fingerprints of the problem hash along with its data."""
        return ()

    def hyperparameters(self) -> dict[str, Any]:
        """What defines the problem besides its data, θ⁰ and defining functions: its constructor's other arguments
        (:mod:`sgdlab.problems.hyperparameters`), which a run's identity hashes."""
        return constructor_arguments(self)

    def solution(self):
        """A minimizer θ* of the problem, or None when not known.

        Under a constraint this is the unconstrained minimizer when it is feasible (it then solves
        the constrained problem too); otherwise it is not known here.
        """
        theta = self.unconstrained_solution()
        if theta is None or self.constraint is None:
            return theta
        return theta if self.is_feasible(theta) else None

    def optimal_value(self) -> float | None:
        """p* = inf {F(θ) : θ feasible}, or None when not known.

        Known cases: +inf when the feasible set is known to be empty (an inconsistent affine
        system Aθ = b); −inf when F is known unbounded below and there is no constraint (e.g.
        maximizing least squares); the unconstrained p* when the unconstrained minimizer is feasible.
        """
        if self.constraint is not None and self.constraint.is_empty():
            return math.inf
        if self.constraint is None:
            return self.unconstrained_optimal_value()
        return self.unconstrained_optimal_value() if self.solution() is not None else None

    def lower_bound(self) -> float | None:
        """A number F_low ≤ F(θ) for every feasible θ: p* where known and finite, else None (the linear
        models know 0: their losses and penalty are nonnegative)."""
        optimal = self.optimal_value()
        return float(optimal) if optimal is not None and math.isfinite(optimal) else None

    def subject_to(self, constraint: ConstraintSet) -> Problem:
        """The same objective restricted to θ ∈ C: a new problem sharing this one's data."""
        if not isinstance(constraint, ConstraintSet):
            validation.fail("constraint", "a set such as sl.box(0, 1), sl.ball(1.0) or sl.simplex()",
                            validation.shown(constraint), error=TypeError)
        constraint.validate(self.params0)
        constrained = copy.copy(self)
        constrained.constraint = constraint
        for derived in ("_memo", "negation"):  # built for the unconstrained problem
            constrained.__dict__.pop(derived, None)
        return constrained

    def __getstate__(self) -> dict:
        """The problem without what was derived from it (compiled programs, the cached negation), which a
        process that unpickles it rebuilds: what a run group sent to another process carries."""
        return {key: value for key, value in self.__dict__.items() if key not in ("_memo", "negation")}

    @property
    def memo(self) -> dict:
        """Objects derived from this problem by the rest of sgdlab (the engines' compiled programs),
        kept as long as the problem lives; :meth:`subject_to` gives its new problem an empty one."""
        return self.__dict__.setdefault("_memo", {})

    def jitted(self, function: Callable) -> Callable:
        """``jax.jit`` of ``function(self, …)`` with this problem bound, built once and kept in :attr:`memo`, so it
        goes with the problem. (Given to ``jax.jit`` as a static argument, a problem would stay in JAX's global
        caches — its data and compiled programs with it — for as long as the process runs.)"""
        programs = self.memo.setdefault("jitted", {})
        if function not in programs:
            programs[function] = jax.jit(partial(function, self))
        return programs[function]

    def is_feasible(self, params, tol: float = 1e-8) -> bool:
        """True when θ satisfies the problem's constraints to within ``tol`` (always, unconstrained)."""
        params = pytrees.conform("params", params, self.params0)
        return True if self.constraint is None else self.constraint.is_feasible(params, tol)


def _validated_params0(params0):
    """θ⁰ as JAX arrays: a pytree of finite floating-point leaves. An integer or boolean leaf is refused rather than
    cast (gradients move θ continuously; hold integer state outside θ, e.g. a Flax ``nnx.Variable``)."""
    leaves, treedef = jax.tree.flatten(params0)
    if not leaves:
        validation.fail("params0", "a pytree with at least one array", validation.shown(params0), error=TypeError)
    for position, leaf in enumerate(leaves):
        kind = np.asarray(leaf).dtype.kind if not isinstance(leaf, str) else "U"
        if kind in "biu":
            validation.fail("params0", "floating-point leaves (gradients move θ; nothing is cast: write 1.0 or "
                            "np.zeros(p), and hold integer state outside θ, e.g. a Flax nnx.Variable, not an "
                            "nnx.Param)", f"a leaf of dtype {np.asarray(leaf).dtype} at position {position}",
                            error=TypeError)
    arrays = [validation.finite_array("params0", leaf) for leaf in leaves]
    return jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays])
