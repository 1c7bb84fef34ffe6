"""Summaries of a comparison's table: per run, across seeds, the final value and the time to a target."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sgdlab._helpers import validation

#: The summary's default target: this fraction of the metric's value at the start.
GOAL = 1e-3


def summarize(table: pd.DataFrame, metric: str | None = None, target: float | None = None,
              goal: float = GOAL) -> pd.DataFrame:
    """Per run, across seeds: the median and quartiles of the final ``metric``, of the epochs and of
    the time to reach ``target``, how many seeds reached it, their statuses, α₀·L, the gradient passes
    (grad_evals) at the end, for a run that averages its averaged iterate's final ``metric``, and with
    held-out data the medians of the final and best held-out score and of the epoch of the best
    (:func:`heldout_score`).

    ``metric`` defaults to gap when p* is known, else grad_norm; ``target`` defaults to ``goal`` (10⁻³)
    times the metric at the start (all runs start at the same θ⁰). A seed that never reaches the target
    counts as +inf, so a median is finite only when at least half the seeds got there.
    """
    metric = metric or ("gap" if table["gap"].notna().any() else "grad_norm")
    if metric not in table.columns:
        validation.fail("metric", "a column of the table such as gap, grad_norm, dist or loss",
                        validation.shown(metric))
    if target is None:
        target = goal_value(table, metric, goal)
    rows = []
    for name, run in table.groupby("run", sort=False):
        per_seed = [_seed_summary(history, metric, target) for _, history in run.groupby("seed")]
        final, epochs_to, time_to = (np.array([s[i] for s in per_seed]) for i in range(3))
        first = run.iloc[0]
        rows.append({"run": name, "sampler": first.sampler, "batch_size": first.batch_size, "step": first.step,
                     "alpha0": first.alpha0, "α·L": first.alpha_L, "α·L < 2": bool(first.alpha_L < 2)
                     if np.isfinite(first.alpha_L) else None, "seeds": len(per_seed),
                     "status": _statuses(run),
                     f"final {metric}": quantile(final, 0.5), f"final {metric} q25": quantile(final, 0.25),
                     f"final {metric} q75": quantile(final, 0.75),
                     "reached": f"{int(np.isfinite(epochs_to).sum())}/{len(per_seed)}",
                     "epochs to target": quantile(epochs_to, 0.5), "epochs q25": quantile(epochs_to, 0.25),
                     "epochs q75": quantile(epochs_to, 0.75), "seconds to target": quantile(time_to, 0.5),
                     "gradient passes": _final_median(run, "grad_evals"),
                     f"final averaged {metric}": _final_median(run, f"avg_{metric}"),
                     **_heldout_summary(run)})
    summary = pd.DataFrame(rows)
    summary.attrs.update(metric=metric, target=target, goal=goal)
    return summary


def stacked(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A study's tables (by problem) one under another, with the problem's name as a first column ``problem``."""
    return pd.concat([table.assign(problem=name)[["problem", *table.columns]] for name, table in tables.items()],
                     ignore_index=True)


def overview(table: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Runs × problems of a study's stacked ``table`` (a column ``problem``): the median over seeds of final /
    initial ``metric``, each seed's last row against its first (1 is no progress, 10⁻³ a thousandfold
    reduction). ``metric`` defaults to gap when every problem knows p*, else grad_norm."""
    metric = metric or ("gap" if table.groupby("problem").gap.apply(lambda v: v.notna().any()).all()
                        else "grad_norm")
    if metric not in table.columns:
        validation.fail("metric", "a column of the table such as gap, grad_norm, dist or loss",
                        validation.shown(metric))
    seeds = table.groupby(["problem", "run", "seed"], sort=False)[metric]
    relative = (seeds.last() / seeds.first()).groupby(["run", "problem"], sort=False).median()
    grid = relative.unstack("problem").reindex(index=table.run.unique(), columns=table.problem.unique())
    grid.attrs["metric"] = metric
    return grid


def overview_label(metric: str) -> str:
    """What an overview's cells are, in words."""
    return f"final {metric} / initial (median over seeds)"


def heldout_names(table: pd.DataFrame) -> list[str]:
    """The names of the held-out sets whose scores the table holds (``test`` for a column test_loss), in order."""
    return [column[:-len("_loss")] for column in table.columns
            if column.endswith("_loss") and column not in ("loss", "avg_loss")]


def heldout_score(table: pd.DataFrame) -> str | None:
    """The held-out column a summary reports: the first held-out set's accuracy (a classifier's), else its
    loss; None without held-out data."""
    names = heldout_names(table)
    if not names:
        return None
    return f"{names[0]}_accuracy" if f"{names[0]}_accuracy" in table.columns else f"{names[0]}_loss"


def _heldout_summary(run: pd.DataFrame) -> dict:
    """Medians over seeds of the final and best held-out score (highest accuracy, lowest loss) and of the
    epoch of the best; nothing without held-out data."""
    score = heldout_score(run)
    if score is None:
        return {}
    best = [history.loc[history[score].idxmax() if score.endswith("accuracy") else history[score].idxmin()]
            for _, history in run.groupby("seed")]
    return {f"final {score}": _final_median(run, score),
            f"best {score}": float(np.median([row[score] for row in best])),
            f"epoch of best {score}": float(np.median([row["epoch"] for row in best]))}


def goal_value(table: pd.DataFrame, metric: str, goal: float) -> float:
    """The target ``goal`` × the median over runs and seeds of ``metric`` at the start (epoch 0)."""
    return checked_goal(goal) * float(table.loc[table.epoch == 0, metric].median())


def checked_goal(goal: float) -> float:
    """``goal`` when it is a fraction in (0, 1), else an error naming it."""
    return validation.fraction("goal", goal, context="the summary's target (a fraction of the starting value)")


def stops(table: pd.DataFrame) -> pd.DataFrame:
    """Every (run, seed) that ended before its budget — diverged, converged or stopped early — with its status and the
    message that says when and why (columns run, seed, status, message)."""
    ends = table.sort_values("epoch").groupby(["run", "seed"], sort=False).tail(1)
    early = ends[ends.status != "max_epochs"]
    return early[["run", "seed", "status", "message"]].reset_index(drop=True)


def _statuses(run: pd.DataFrame) -> str:
    """How many seeds of a run ended with each status, e.g. "8 max_epochs, 2 diverged"."""
    counts = run.groupby("seed").status.first().value_counts()
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile with linear interpolation (NumPy's default), where +inf (never reached) is a
    value like any other: between a finite value and +inf the answer is +inf."""
    ordered = np.sort(np.asarray(values, dtype=float))
    position = q * (len(ordered) - 1)
    low, high = ordered[int(np.floor(position))], ordered[int(np.ceil(position))]
    if not np.isfinite(high) or low == high:
        return float(high)
    return float(low + (position - np.floor(position)) * (high - low))


def _final_median(run: pd.DataFrame, column: str) -> float:
    """The median over seeds of ``column``'s last value (NaN where the run has none: an averaged iterate's
    column in a run that does not average)."""
    if column not in run.columns:
        return float("nan")
    return float(run.groupby("seed")[column].last().median())


def _seed_summary(history: pd.DataFrame, metric: str, target: float) -> tuple[float, float, float]:
    reached = history[history[metric] <= target]
    if reached.empty:
        return float(history[metric].iloc[-1]), np.inf, np.inf
    return float(history[metric].iloc[-1]), float(reached.epoch.iloc[0]), float(reached.time.iloc[0])
