"""What the theory predicts for each run of a comparison, beside what was measured.

For every run with a step schedule: the bound of the theorem that applies to its sampler and step
(:func:`sgdlab.theory.bound`), and, on least squares, the exact expected curve
(:func:`sgdlab.theory.expected_history`) where it costs at most EXPECTED_WORK multiply-adds. Both
are on expectations, so they are compared with the mean over seeds: an epoch is *flagged* when
the mean exceeds the bound by more than FLAG_ERRORS standard errors — a bug in the code or in the
stated theorem, which the tests keep from happening on the built-in problems.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sgdlab import theory
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler
from sgdlab.schedules import Schedule
from sgdlab.theory.theorems import looseness

#: The exact expected curve is drawn when its recursion costs at most this (steps × N × p²).
EXPECTED_WORK = 2 * 10**9
#: An epoch is flagged when the mean over seeds exceeds the bound by more than this many standard errors.
FLAG_ERRORS = 3.0
COLUMNS = ["run", "epoch", "quantity", "curve", "value", "theorem"]


def predictions(problem: FiniteSum, runs: list[tuple[str, Sampler, Schedule | None]], epochs: int) -> pd.DataFrame:
    """One row per (run, epoch, quantity, curve): ``curve`` "bound" (with its theorem) or "expected", and
    ``quantity`` "gap" (E[F] − p*), "dist_sq" (E‖θ − θ*‖²) or "min_grad_sq" (min_{k<K} ‖∇F(θᵏ)‖²)."""
    columns: dict[str, list] = {column: [] for column in COLUMNS}
    for name, sampler, schedule in runs:
        if schedule is not None:
            for curve in _run_predictions(problem, sampler, schedule, epochs):
                for column, values in zip(COLUMNS, (name, *curve), strict=True):
                    columns[column].append(np.broadcast_to(values, np.shape(curve[0])))
    if not columns["epoch"]:
        return pd.DataFrame(columns=COLUMNS)
    return pd.DataFrame({column: np.concatenate(values) for column, values in columns.items()})


def _run_predictions(problem: FiniteSum, sampler: Sampler, schedule: Schedule, epochs: int) -> list[tuple]:
    """One run's curves as (epochs, quantity, curve, values, theorem) tuples of arrays or scalars."""
    curves = []
    bound = theory.bound(problem, sampler, schedule, epochs)
    if not bound.empty:
        curves.append((bound.epoch.to_numpy(), bound.quantity.to_numpy(), "bound", bound.bound.to_numpy(),
                       bound.theorem.iloc[0]))
    cost = theory.exact_cost(problem, sampler, epochs)
    if cost is not None and cost <= EXPECTED_WORK:
        exact = theory.expected_history(problem, sampler, schedule, epochs)
        for quantity in ("gap", "dist_sq"):
            curves.append((exact.epoch.to_numpy(), quantity, "expected", exact[quantity].to_numpy(),
                           "exact expectation (least squares)"))
    return curves


#: A bound says nothing on a run when it is this many times the measured mean at the run's last checked epoch.
LOOSE_FACTOR = 100.0
FLAG_COLUMNS = ["run", "quantity", "theorem", "epochs checked", "flagged", "bound ÷ mean at the end", "says"]


def flags(table: pd.DataFrame, predicted: pd.DataFrame, kappa: float | None = None) -> pd.DataFrame:
    """Per run and quantity with a bound: the recorded epochs whose mean over seeds exceeds the bound by
    more than FLAG_ERRORS standard errors, the bound over the mean at the last checked epoch, and what the bound
    says of the run: "nothing here" (with the reason, from κ = ``kappa``, in words) when it never falls below
    the measured start or ends more than LOOSE_FACTOR times the measured mean, else "a bound on the run"."""
    bounds = predicted[predicted.curve == "bound"]
    measured = bounded_quantities(table)
    rows = []
    for (name, quantity), bound in bounds.groupby(["run", "quantity"], sort=False):
        runs_of = measured[measured.run == name].groupby("epoch")[quantity].agg(["mean", "std", "count"])
        limit = bound.set_index("epoch").value.reindex(runs_of.index)
        checked = limit.notna() & runs_of["mean"].notna()
        error = (runs_of["std"].fillna(0.0) / np.sqrt(runs_of["count"])).to_numpy()
        over = checked & ((runs_of["mean"] - limit).to_numpy() > FLAG_ERRORS * error + 1e-12 * np.abs(limit.to_numpy()))
        theorem = bound.theorem.iloc[0]
        ratio, says = _what_it_says(limit[checked], runs_of["mean"][checked], theorem, quantity, kappa)
        rows.append({"run": name, "quantity": quantity, "theorem": theorem, "epochs checked": int(checked.sum()),
                     "flagged": ", ".join(str(epoch) for epoch in runs_of.index[over]) or "none",
                     "bound ÷ mean at the end": ratio, "says": says})
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def _what_it_says(limit: pd.Series, mean: pd.Series, theorem: str, quantity: str,
                  kappa: float | None) -> tuple[float, str]:
    """(bound ÷ mean at the last epoch, the bound's use on this run in words)."""
    if limit.empty:
        return float("nan"), "not checked"
    ratio = float(limit.iloc[-1] / mean.iloc[-1]) if mean.iloc[-1] > 0 else float("inf")
    never_below_start = bool((limit >= mean.iloc[0]).all())
    if not (never_below_start or ratio > LOOSE_FACTOR):
        return ratio, "a bound on the run"
    what = ("it never falls below the measured start" if never_below_start
            else f"it ends {ratio:.3g} times the measured mean (more than {LOOSE_FACTOR:g})")
    reason = looseness(theorem, quantity, kappa)
    return ratio, f"nothing here: {what}" + (f"; {reason}" if reason else "")


def bounded_quantities(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison's table with the quantities the bounds are on: dist_sq = ‖θ − θ*‖² and
    min_grad_sq = min_{k<K} ‖∇F(θᵏ)‖² at epoch K, the latter only where every earlier epoch of the
    run was recorded (a minimum over fewer points could exceed the bound without contradicting it)."""
    table = table.sort_values(["run", "seed", "epoch"])
    runs = table.groupby(["run", "seed"], sort=False)
    squared = (table["grad_norm"] ** 2).groupby([table.run, table.seed], sort=False)
    earlier_min = squared.transform(lambda values: values.cummin().shift(1))
    complete = (table.epoch == runs.cumcount()).groupby([table.run, table.seed], sort=False).cummin()
    return table.assign(dist_sq=table["dist"] ** 2, min_grad_sq=earlier_min.where(complete.astype(bool)))
