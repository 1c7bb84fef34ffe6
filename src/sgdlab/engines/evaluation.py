"""What a history row measures, as one pure JAX function the engines compile: :func:`evaluate`.

At θ it computes, over all the training data, F(θ), ‖∇F(θ)‖, ‖θ − θ*‖ (when θ* is known), the
constraint's violation and the problem's diagnostics, and — for a run given held-out problems —
their scores beside: for each held-out set ``name``, ``name_loss`` = F_name(θ), the held-out
problem's own loss on its rows, and for a classifier ``name_accuracy``, the fraction of its rows
classified correctly, with ``accuracy`` on the training rows too.

The held-out sets travel in a :class:`Reference`, a pytree whose leaves are θ* and the held-out data
(arguments of the compiled call, like the training data) and whose static part names the held-out
problems (their loss functions, compiled in).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from sgdlab._helpers import pytrees
from sgdlab.engines.base import Metrics
from sgdlab.problems.finite_sum import FiniteSum

#: Held-out problems by name, in the order their columns appear.
HeldOut = tuple[tuple[str, FiniteSum], ...]


@jax.tree_util.register_pytree_node_class
class Reference:
    """What θ is measured against besides the training data: θ* (None when not known) and the held-out
    problems, whose data are the pytree's leaves (so one compiled evaluation serves any rows of the same
    shapes) and whose names and loss functions are its static part."""

    def __init__(self, solution: Any = None, heldout: HeldOut = (), data: tuple | None = None):
        self.solution, self.heldout = solution, heldout
        #: The held-out problems' data, in order (inside a compiled call: its traced arguments).
        self.data = tuple(problem.data for _, problem in heldout) if data is None else data

    @property
    def columns(self) -> tuple[str, ...]:
        """The history columns the held-out problems add (:func:`score_columns`)."""
        return score_columns(self.heldout)

    def tree_flatten(self) -> tuple[tuple, HeldOut]:
        """Leaves θ* and the held-out data; static, the held-out problems."""
        return (self.solution, self.data), self.heldout

    @classmethod
    def tree_unflatten(cls, heldout: HeldOut, children: tuple) -> Reference:
        """The reference of these held-out problems with θ* and data ``children``."""
        solution, data = children
        return cls(solution, heldout, data)


def score_columns(heldout: HeldOut) -> tuple[str, ...]:
    """The history columns held-out problems add: ``accuracy`` (of a classifier, on the training rows), then
    ``name_loss`` and, for a classifier, ``name_accuracy`` for each; none without held-out problems."""
    if not heldout:
        return ()
    classifier = heldout[0][1].is_classifier
    scores = [(f"{name}_loss", f"{name}_accuracy") if classifier else (f"{name}_loss",) for name, _ in heldout]
    return (("accuracy",) if classifier else ()) + sum(scores, ())


def evaluate(problem: FiniteSum, params, data, reference: Reference, constraint) -> Metrics:
    """F(θ), ‖∇F(θ)‖, ‖θ − θ*‖ and the violation of the constraint, over all the data; the diagnostics and
    the held-out scores (:func:`scores`) as the extras."""
    loss, grad = jax.value_and_grad(problem.data_loss)(params, data)
    nan = jnp.asarray(jnp.nan, loss.dtype)
    dist = nan if reference.solution is None else pytrees.distance(params, reference.solution)
    violation = nan if constraint is None else constraint.violation(params)
    extras = {name: jnp.asarray(value, loss.dtype) for name, value in problem.diagnostics(params, data).items()}
    extras |= {name: jnp.asarray(value, loss.dtype) for name, value in scores(problem, params, data, reference).items()}
    return Metrics(pytrees.all_finite(params), loss, pytrees.norm(grad), dist, jnp.asarray(violation, loss.dtype),
                   extras)


def scores(problem: FiniteSum, params, data, reference: Reference) -> dict:
    """The held-out columns at θ (:attr:`Reference.columns`): each held-out problem's loss on its rows and,
    for a classifier, its accuracy there, with the accuracy on the training ``data`` first."""
    if not reference.heldout:
        return {}
    values = {"accuracy": problem.data_accuracy(params, data)} if "accuracy" in reference.columns else {}
    for (name, heldout), rows in zip(reference.heldout, reference.data, strict=True):
        values[f"{name}_loss"] = heldout.data_loss(params, rows)
        if heldout.is_classifier:
            values[f"{name}_accuracy"] = heldout.data_accuracy(params, rows)
    return values
