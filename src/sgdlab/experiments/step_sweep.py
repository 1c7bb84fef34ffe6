"""The stability edge: how large a constant step each sampler takes before its runs blow up.

:func:`step_sweep` runs every sampler at about thirty constant steps α, given as α·L over [0.05, 4]
(log-spaced), over seeds: one comparison, whose runs of one sampler are the lanes of one compiled
program. A run *diverged* when its final F − p* (F where p* is unknown) is not finite or exceeds its
starting value. A sampler's measured *edge* is where half its seeds first diverge: the geometric mean
of the largest α·L below that and the smallest at or above it. Gradient descent's edge on a
quadratic is the theorem's α·L = 2; a stochastic sampler's lies lower, near its minibatch constant's
2/L_B (α·L = 2L/L_B), which :meth:`StepSweep.plot` marks beside the measured edges.
"""

from __future__ import annotations

import dataclasses
import html
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdlab import theory
from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab.experiments.compare import OnEpoch, compare
from sgdlab.experiments.page import figure_png, html_page, html_table
from sgdlab.experiments.run_tables import run_name
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.run.steps import StepSizeWarning
from sgdlab.samplers import Sampler

#: α·L of the default sweep: 31 values, log-spaced over [0.05, 4].
DEFAULT_RATIOS = tuple(float(ratio) for ratio in np.geomspace(0.05, 4.0, 31))


@dataclasses.dataclass
class StepSweep:
    """The outcome of :func:`step_sweep`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (sampler, ratio, seed): sampler (its label), ratio (α·L), seed, final_gap (F − p* at
        the end; NaN where p* is unknown) and diverged.
    edges : dict
        Sampler label → its measured edge in α·L (inf when no ratio swept made half its seeds diverge).
    limits : dict
        Sampler label → α·L at α = 2/L_B, the stochastic counterpart of gradient descent's 2/L.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> sweep = sl.step_sweep(sl.least_squares(X, X @ np.ones(3)), [sl.full_batch()], ratios=[1.0, 3.0], seeds=1)
    >>> sweep.edges_table().to_dict("records")
    [{'sampler': 'GD', 'measured edge (α·L)': 1.7320508075688772, 'α·L at α = 2/L_B': 2.0}]
    """

    table: pd.DataFrame
    edges: dict[str, float]
    limits: dict[str, float]

    def plot(self) -> Any:
        """A matplotlib Figure: the median final F − p* of the seeds that did not diverge and the fraction
        that did, against α·L, with α·L = 2, each sampler's α = 2/L_B (dashed) and its edge (a marker)."""
        import matplotlib.pyplot as plt

        figure, (gaps, diverged) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
        for label, rows in self.table.groupby("sampler", sort=False):
            median = rows[~rows.diverged].groupby("ratio").final_gap.median()
            median = median[median > 0]
            line, = gaps.plot(median.index, median.to_numpy(), marker=".", label=label)
            fraction = rows.groupby("ratio").diverged.mean()
            diverged.plot(fraction.index, fraction.to_numpy(), marker=".", color=line.get_color(), label=label)
            for ax in (gaps, diverged):
                ax.axvline(self.limits[label], color=line.get_color(), linestyle="--", linewidth=0.9)
            if np.isfinite(self.edges[label]):
                diverged.plot([self.edges[label]], [0.5], marker="D", color=line.get_color(), linestyle="none")
        for ax, ylabel in ((gaps, "final F − p* (median, seeds that did not diverge)"),
                           (diverged, "fraction of seeds diverged")):
            ax.axvline(2.0, color="black", linestyle=":", linewidth=1.0, label="α·L = 2")
            ax.set(xscale="log", xlabel="α·L", ylabel=ylabel)
            ax.grid(True, alpha=0.3)
        gaps.set_yscale("log")
        diverged.legend(fontsize="small", title="dashed: α = 2/L_B; ◆: measured edge", title_fontsize="small")
        return figure

    def edges_table(self) -> pd.DataFrame:
        """Per sampler: its measured edge and the theory's α·L at α = 2/L_B."""
        return pd.DataFrame({"sampler": list(self.edges), "measured edge (α·L)": list(self.edges.values()),
                             "α·L at α = 2/L_B": [self.limits[label] for label in self.edges]})

    def save(self, folder: Any, title: str) -> Path:
        """Write the table (sweep.parquet) and a report (report.html: the edges and the figure) into
        ``folder``, each file atomically; return the report's path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "sweep.parquet", lambda path: self.table.to_parquet(path, index=False))
        figure = self.plot()
        image = f"<img alt='final gap and divergence against α·L' src='data:image/png;base64,{figure_png(figure)}'>"
        plt.close(figure)
        note = ("<p class='note'>Each sampler ran at constant steps α = ratio/L over seeds. A run diverged when its "
                "final F − p* was not finite or above its start; a sampler's edge is where half its seeds first "
                "diverge. Gradient descent's theorem puts its edge at α·L = 2; the dashed lines mark each "
                "sampler's α = 2/L_B.</p>")
        page = html_page(title, [f"<h1>{html.escape(title)}</h1>", note, html_table(self.edges_table()), image])
        report = folder / "report.html"
        atomic_write(report, lambda path: path.write_text(page, encoding="utf-8"))
        return report


def step_sweep(problem: FiniteSum, samplers: Sequence[Sampler], ratios: Iterable[float] = DEFAULT_RATIOS,
               seeds: int | Iterable[int] = 5, epochs: int = 20, on_epoch: OnEpoch | None = None,
               engine: str = "auto") -> StepSweep:
    """Run each sampler at constant steps α = ratio/L over seeds and measure where its runs diverge.

    Parameters
    ----------
    problem : FiniteSum
        A problem whose L is known.
    samplers : sequence of Sampler
        The samplers to sweep.
    ratios : iterable of float, default DEFAULT_RATIOS
        The values of α·L (31 log-spaced over [0.05, 4]).
    seeds : int or iterable of int, default 5
        As in :func:`sgdlab.compare`.
    epochs : int, default 20
        Each run's budget.
    on_epoch, engine
        As in :func:`sgdlab.compare`.

    Returns
    -------
    StepSweep
        The table (sampler, ratio, seed, final_gap, diverged), the measured edges and the 2/L_B lines.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> problem = sl.least_squares(X, X @ np.ones(3))
    >>> sweep = sl.step_sweep(problem, [sl.full_batch()], ratios=[1.0, 1.9, 2.1, 3.0], seeds=1, epochs=30)
    >>> sweep.table.groupby("ratio").diverged.mean().tolist()
    [0.0, 0.0, 1.0, 1.0]
    >>> round(sweep.edges["GD"], 3)   # √(1.9 · 2.1), where half the seeds first diverge
    1.997
    """
    L = problem.lipschitz() if isinstance(problem, FiniteSum) else None
    if L is None:
        validation.fail("problem", "a finite sum whose L is known (the steps are ratios of 1/L)",
                        validation.shown(problem), error=TypeError)
    ratios = _ratios(ratios)
    labels = {_label(sampler): sampler for sampler in samplers}
    if not labels:
        validation.fail("samplers", "a non-empty list of samplers", "[]")
    runs = {f"{label} α·L={ratio:.6g}": dict(sampler=sampler, step=ratio / L)
            for label, sampler in labels.items() for ratio in ratios}
    with warnings.catch_warnings():   # the sweep crosses 2/L on purpose: no StepSizeWarning a run
        warnings.simplefilter("ignore", StepSizeWarning)
        table = compare(problem, runs, seeds=seeds, epochs=epochs, record_every=epochs, on_epoch=on_epoch,
                        engine=engine, predict=False).table
    rows = _final_rows(table, labels, ratios)
    limits = {label: 2 * L / _minibatch_constant(problem, sampler) for label, sampler in labels.items()}
    return StepSweep(rows, {label: _edge(rows[rows.sampler == label]) for label in labels}, limits)


def _ratios(ratios: Any) -> list[float]:
    """The swept α·L, checked (a non-empty list of positive numbers), sorted, each once."""
    if isinstance(ratios, str) or not isinstance(ratios, Iterable):
        validation.fail("ratios", "a non-empty list of positive numbers α·L", validation.shown(ratios),
                        error=TypeError)
    checked = sorted({validation.positive_float("ratios", ratio) for ratio in ratios})
    if not checked:
        validation.fail("ratios", "a non-empty list of positive numbers α·L", "an empty list")
    return checked


def _label(sampler: Sampler) -> str:
    """'GD' for gradient descent, else e.g. 'with_replacement B=1'."""
    return run_name(sampler.name, getattr(sampler, "batch_size", None))


def _minibatch_constant(problem: FiniteSum, sampler: Sampler) -> float:
    if sampler.is_full_batch:
        return float(problem.lipschitz())   # type: ignore[arg-type]
    return theory.minibatch_lipschitz(problem, getattr(sampler, "batch_size", problem.n), sampler)


def _final_rows(table: pd.DataFrame, labels: dict[str, Sampler], ratios: list[float]) -> pd.DataFrame:
    """(sampler, ratio, seed, final_gap, diverged) from the comparison's first and last rows of each run."""
    column = "gap" if table["gap"].notna().any() else "loss"
    first = table.groupby(["run", "seed"], sort=False).first()
    last = table.groupby(["run", "seed"], sort=False).last()
    final, start = last[column].to_numpy(), first[column].to_numpy()
    with np.errstate(invalid="ignore"):
        diverged = (last.status.to_numpy() == "diverged") | ~np.isfinite(final) | (final > start)
    names = {f"{label} α·L={ratio:.6g}": (label, ratio) for label in labels for ratio in ratios}
    run_names = last.index.get_level_values("run")
    return pd.DataFrame({"sampler": [names[name][0] for name in run_names],
                         "ratio": [names[name][1] for name in run_names],
                         "seed": last.index.get_level_values("seed"),
                         "final_gap": last["gap"].to_numpy(), "diverged": diverged})


def _edge(rows: pd.DataFrame) -> float:
    """The geometric mean of the largest ratio where under half the seeds diverged and the smallest one
    where half or more did (that ratio itself when it is the first swept; inf when none)."""
    fraction = rows.groupby("ratio").diverged.mean()
    unstable = fraction.index[fraction.to_numpy() >= 0.5]
    if unstable.empty:
        return float("inf")
    first = unstable[0]
    stable = fraction.index[fraction.index < first]
    return float(first if stable.empty else np.sqrt(stable[-1] * first))
