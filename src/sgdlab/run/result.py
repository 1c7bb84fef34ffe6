"""Result: the outcome of one run of ``minimize`` or ``maximize``."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import pandas as pd

from sgdlab.samplers import Sampler
from sgdlab.schedules import Schedule

Status = Literal["converged", "max_epochs", "diverged", "stopped_early"]


@dataclasses.dataclass
class Result:
    """The outcome of a run.

    Attributes
    ----------
    params : pytree of NumPy arrays
        The final θ.
    status : {"converged", "max_epochs", "diverged", "stopped_early"}
        Which stopping rule ended the run ("stopped_early": the ``stop=`` rule, e.g. ``sl.patience``).
    message : str
        What happened, in words (for a diverged run: when, and α against 2/L).
    history : pandas.DataFrame
        One row per recorded loop unit: epoch, iteration, grad_evals, loss, grad_norm, gap, dist, time
        (and violation for a constrained problem; avg_loss, avg_grad_norm, avg_gap, avg_dist at the
        averaged iterate of a run that averages; the problem's diagnostics, the noise scale where recorded).
    epochs : int, float or None
        Epochs run (None for an expectation, which has none): a float when the run ended inside an epoch
        (a budget in steps, or early stopping on rows recorded inside epochs).
    iterations : int
        Steps run.
    compile_time : float
        Seconds spent compiling for this run (near 0 when the programs were reused).
    sampler : Sampler
        The run's sampler.
    step : Schedule or None
        The run's step schedule (None when an optax optimizer set the steps).
    seed : int
        The run's seed.
    engine : {"jax", "native", "streamed"}
        The engine that ran the epochs.
    path : list of pytrees, or None
        θ at each history row (θ⁰ first), when the run was asked to keep it (``record_params=True``).
    averaged_params : pytree of NumPy arrays, or None
        The final averaged iterate θ̄ of a run given ``average=`` (None otherwise).
    best_params : pytree of NumPy arrays, or None
        θ at the best history row of the column a ``stop=`` rule watches (None without one).
    sampler_state : NamedTuple of NumPy arrays, or None
        Where a sampler whose plans depend on the run stands at the end (GraB: the next epoch's order and the stale
        mean gradient, :class:`sgdlab.samplers.GrabState`); None for every other sampler.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> result = sl.minimize(sl.least_squares(np.eye(2), np.ones(2)), step=1.0, epochs=3)   # F = ¼‖θ − 1‖²
    >>> result.status, result.epochs, result.iterations
    ('max_epochs', 3, 3)
    >>> print(result.message)
    stopped after 3 epochs (3 iterations): F = 0.0078125, ‖∇F‖ = 0.0884, F − p* = 0.00781.
    >>> result.history[["epoch", "loss"]].to_dict("list")
    {'epoch': [0, 1, 2, 3], 'loss': [0.5, 0.125, 0.03125, 0.0078125]}
    """

    params: Any
    status: Status
    message: str
    history: pd.DataFrame
    epochs: int | float | None
    iterations: int
    compile_time: float
    sampler: Sampler
    step: Schedule | None
    seed: int
    engine: str = "jax"
    path: list | None = None
    averaged_params: Any = None
    best_params: Any = None
    sampler_state: Any = None

    def __repr__(self) -> str:
        return (f"Result(status={self.status!r}, epochs={self.epochs}, iterations={self.iterations}, "
                f"message={self.message!r})")
