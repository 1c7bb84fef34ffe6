"""Early stopping: :func:`patience`, a stopping rule beside ``tol`` that watches one history column.

A run given ``stop=sl.patience(on="test_loss", epochs=5, min_delta=0.0)`` keeps the best recorded value
of the column ``on`` — the lowest, or the highest for an accuracy — and θ at that row. A row improves
on the best when it is lower by more than ``min_delta`` (higher, for an accuracy). Once ``epochs``
epochs (rows, for an expectation, which has no epochs) have passed since the best row without an
improvement, the run ends with status "stopped_early", and ``Result.best_params`` is θ at the best row.
"""

from __future__ import annotations

import dataclasses
import math

from sgdlab._helpers import validation


@dataclasses.dataclass(frozen=True)
class Patience:
    """Stop once the column ``on`` has not improved by more than ``min_delta`` for ``epochs`` epochs."""

    on: str
    epochs: int
    min_delta: float

    @property
    def maximizes(self) -> bool:
        """True for a column to maximize (an accuracy); the others are minimized."""
        return self.on.endswith("accuracy")

    def improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (None: no value yet) by more than min_delta; NaN never does."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value > best + self.min_delta if self.maximizes else value < best - self.min_delta

    def exhausted(self, since_best: float) -> bool:
        """Whether ``since_best`` epochs (rows) without improvement use up the patience."""
        return since_best >= self.epochs

    def describe(self) -> str:
        """The rule as code."""
        delta = f", min_delta={self.min_delta:g}" if self.min_delta else ""
        return f"patience(on={self.on!r}, epochs={self.epochs}{delta})"


def patience(on: str = "test_loss", epochs: int = 5, min_delta: float = 0.0) -> Patience:
    """Early stopping on a history column: stop once ``on`` has not improved for ``epochs`` epochs.

    Parameters
    ----------
    on : str, default "test_loss"
        The history column to watch: any recorded one, e.g. "loss", "grad_norm", "test_loss" or
        "test_accuracy" (a column ending in "accuracy" is maximized, the others minimized).
    epochs : int, default 5
        The patience: epochs without improvement before the run stops (rows, for an expectation).
    min_delta : float, default 0
        The least change that counts as an improvement (≥ 0).

    Returns
    -------
    Patience
        The rule, for ``minimize(..., stop=...)`` and ``compare``; a run it ends has status
        "stopped_early" and ``Result.best_params`` (θ at the best row).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> rule = sl.patience(on="test_accuracy", epochs=3)
    >>> rule.maximizes, rule.improves(0.91, best=0.90), rule.exhausted(since_best=3)
    (True, True, True)
    """
    if not isinstance(on, str) or not on:
        validation.fail("on", "the name of a history column, e.g. 'test_loss'", validation.shown(on), error=TypeError,
                        context="patience")
    return Patience(on, validation.integer("epochs", epochs, context="patience"),
                    validation.nonnegative_float("min_delta", min_delta, context="patience"))
