"""Convergence figures from a comparison's tidy table (used by Comparison.plot and the report), and a study's
overview as a heat map.

For each run, the metric is summarized across seeds at each recorded epoch: the median as a line,
the quartiles as a band. The y axis is logarithmic; values ≤ 0 (a gap that rounding made
negative, a run that reached the optimum exactly) are left out of the picture. Beside them, where
the theory gives them (:mod:`sgdlab.experiments.predictions`), each run's bound is drawn dashed in
the run's colour and its exact expected curve as a thin black line: on F − p* they are E[F] − p*,
on ‖θ − θ*‖ the square roots of E‖θ − θ*‖² (which bounds E‖θ − θ*‖).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sgdlab._helpers import validation

#: Values above this are drawn at it (a diverged run's F reaches 1e300, where a log axis cannot place ticks).
CEILING = 1e100
#: The most parameters whose Hessian the paths' plane is computed from.
MAX_HESSIAN = 2000
AXES = {"epoch": "epoch", "iteration": "iteration", "grad_evals": "gradient evaluations / N",
        "time": "seconds (compilation excluded)"}
LABELS = {"gap": "F − p*", "grad_norm": "‖∇F(θ)‖", "dist": "‖θ − θ*‖", "loss": "F(θ)", "violation": "violation",
          "avg_gap": "F(θ̄) − p*", "avg_dist": "‖θ̄ − θ*‖", "avg_grad_norm": "‖∇F(θ̄)‖", "avg_loss": "F(θ̄)"}


#: The predicted quantity drawn on each metric's plot, and how it becomes the metric.
#: (On ‖∇F‖ the bound is on min_{k<K} ‖∇F(θᵏ)‖, gradient descent's non-convex guarantee.)
PREDICTED: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {"gap": ("gap", np.asarray),
                                                                        "dist": ("dist_sq", np.sqrt),
                                                                        "grad_norm": ("min_grad_sq", np.sqrt)}


def convergence_figure(table: pd.DataFrame, metric: str = "gap", x: str = "epoch", ax=None,
                       predictions: pd.DataFrame | None = None, target: float | None = None):
    """A matplotlib Figure of ``metric`` (gap, grad_norm, dist, loss, violation, or avg_… at the averaged
    iterate) against ``x`` (epoch, iteration, grad_evals — per-example gradients over N, the fair axis for
    variance reduction — or time): per run the median across seeds and the band between quartiles (the runs
    of one sampler in shades of one colour, see :func:`run_colours`), and, given ``predictions`` and x an
    epoch or iteration, each run's bound (dashed) and exact expected curve (thin black) where known; a
    dotted grey line at ``target`` when given."""
    import matplotlib.pyplot as plt

    if metric not in LABELS or metric not in table.columns:
        validation.fail("metric", f"one of {', '.join(m for m in LABELS if m in table.columns)}",
                        validation.shown(metric))
    if x not in AXES:
        validation.fail("x", f"one of {', '.join(AXES)}", validation.shown(x))
    own = ax is None
    if ax is None:
        figure, ax = plt.subplots(figsize=(7.5, 5.2))
    else:
        figure = ax.figure
    colours = run_colours(table)
    for name, run in table.groupby("run", sort=False):
        bands = quartiles(run, metric, x)
        ax.plot(bands["x"], bands["median"], label=name, linewidth=1.6, color=colours[name])
        ax.fill_between(bands["x"], bands["q25"], bands["q75"], color=colours[name], alpha=0.2, linewidth=0)
        if predictions is not None and metric in PREDICTED and x != "time":
            _draw_predictions(ax, predictions[predictions.run == name], run, metric, x, colours[name])
    if target is not None and target > 0:
        ax.axhline(target, color="0.35", linestyle=":", linewidth=1.2, label=f"target {target:.3g}")
    ax.set_yscale("log")
    ax.set(xlabel=AXES[x], ylabel=LABELS[metric],
           title=f"{LABELS[metric]} against {x}: median and quartiles over seeds")
    ax.grid(True, which="major", alpha=0.3)
    if own:
        legend_below(figure, ax)
    else:
        ax.legend(fontsize="small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    return figure


#: Legend columns under a figure, and the inches its rows, the tick labels and the x label take.
LEGEND_COLUMNS, LEGEND_ROW_INCHES, X_AXIS_INCHES = 3, 0.22, 0.62


def legend_below(figure, ax) -> None:
    """The legend of ``ax``'s lines in rows under the figure, and margins fixed from the rows it takes: the layout
    a tight_layout pass would find, without measuring every text (a tenth of a second a figure)."""
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(labels) // LEGEND_COLUMNS)
    width, height = figure.get_size_inches()
    bottom = (X_AXIS_INCHES + rows * LEGEND_ROW_INCHES + 0.1) / height
    figure.subplots_adjust(left=1.0 / width, right=1 - 0.2 / width, top=1 - 0.4 / height, bottom=bottom,
                           wspace=1.0 / width * len(figure.axes))
    figure.legend(handles, labels, fontsize="small", ncol=LEGEND_COLUMNS, loc="lower center",
                  bbox_to_anchor=(0.5, 0.1 / height), frameon=False)


def generalization_figure(table: pd.DataFrame, heldout: str = "test", x: str = "epoch"):
    """A matplotlib Figure of the training curves (solid) beside the held-out set ``heldout``'s (dashed), against
    ``x``: the loss F on the left and, for a classifier, the accuracy on the right; per run the median across
    seeds, with the quartiles of the held-out curve as a band."""
    import matplotlib.pyplot as plt

    if f"{heldout}_loss" not in table.columns:
        validation.fail("heldout", "the name of a held-out set in the table", validation.shown(heldout))
    panels = [("loss", f"{heldout}_loss", "loss")]
    if f"{heldout}_accuracy" in table.columns:
        panels.append(("accuracy", f"{heldout}_accuracy", "accuracy"))
    figure, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.2), squeeze=False)
    colours = run_colours(table)
    for ax, (train, test, label) in zip(axes[0], panels, strict=True):
        lowest = 1.0
        for name, run in table.groupby("run", sort=False):
            for column, style in ((train, "-"), (test, "--")):
                bands = quartiles(run, column, x)
                ax.plot(bands["x"], bands["median"], style, linewidth=1.6, color=colours[name],
                        label=name if style == "-" else None)
                lowest = min(lowest, float(np.min(bands["q25"].to_numpy()[1:], initial=1.0)))
                if column == test:
                    ax.fill_between(bands["x"], bands["q25"], bands["q75"], color=colours[name], alpha=0.15,
                                    linewidth=0)
        ax.set(xlabel=AXES[x], ylabel=label, yscale="log" if label == "loss" else "linear",
               title=f"{label}: training (solid) and {heldout} (dashed)")
        if label == "accuracy":   # the start's accuracy (chance) left below: the later differences are what matter
            ax.set_ylim(max(0.0, lowest - 0.1 * (1.0 - lowest)), 1.0 + 0.02 * (1.0 - lowest))
        ax.grid(True, which="major", alpha=0.3)
    legend_below(figure, axes[0][0])
    return figure


def overview_figure(grid: pd.DataFrame, label: str):
    """A matplotlib Figure of a runs × problems grid of positive numbers (a study's overview) as a heat map on a
    log colour scale, each cell printed; a missing or non-positive cell is left blank."""
    import matplotlib.colors
    import matplotlib.pyplot as plt

    values = grid.to_numpy(dtype=float)
    shown = np.ma.masked_invalid(np.where(values > 0, values, np.nan))
    figure, ax = plt.subplots(figsize=(1.6 * grid.shape[1] + 3.0, 0.55 * grid.shape[0] + 1.8))
    finite = shown.compressed()
    norm = matplotlib.colors.LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 10)) if finite.size \
        else None
    image = ax.imshow(shown, cmap="viridis_r", norm=norm, aspect="auto")
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(column, row, f"{value:.2g}", ha="center", va="center", fontsize=9,
                    color="white" if norm is not None and value > 0 and norm(value) > 0.5 else "black")
    ax.set(xticks=range(grid.shape[1]), xticklabels=grid.columns, yticks=range(grid.shape[0]),
           yticklabels=grid.index, xlabel="problem", ylabel="run")
    figure.colorbar(image, ax=ax, label=label)
    figure.tight_layout()
    return figure


def run_colours(table: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """A colour per run: each sampler (and method: SAGA beside plain SGD) its own hue (matplotlib's cycle, in
    order of first appearance), its runs (batch sizes, steps) shades of it from dark to light in order of
    appearance (without a sampler column, a hue per run)."""
    from matplotlib.colors import to_rgb

    runs = table.drop_duplicates("run")
    family = runs.get("sampler", runs.run).astype(str)
    if "method" in runs.columns:
        family = family + " " + runs.method.astype(str)
    runs = pd.DataFrame({"run": runs.run, "sampler": family})
    hues = {sampler: np.array(to_rgb(f"C{index % 10}")) for index, sampler in enumerate(runs.sampler.unique())}
    colours = {}
    for sampler, names in runs.groupby("sampler", sort=False).run:
        shades = [hues[sampler]] if len(names) == 1 else _shades(hues[sampler], len(names))
        colours.update({name: tuple(shade) for name, shade in zip(names, shades, strict=True)})
    return colours


def _shades(colour: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` shades of ``colour`` from dark (60% of it) to light (half way to white)."""
    dark, light = colour * 0.6, colour + 0.5 * (1.0 - colour)
    return [dark + position * (light - dark) for position in np.linspace(0.0, 1.0, count)]


def _draw_predictions(ax, predicted: pd.DataFrame, run: pd.DataFrame, metric: str, x: str, colour) -> None:
    """One run's bound (dashed, its colour) and exact expected curve (thin black) on ``metric``'s plot."""
    quantity, transform = PREDICTED[metric]
    positions = run.groupby("epoch")[x].median()
    for curve, style in (("bound", dict(color=colour, linestyle="--", linewidth=1.2)),
                         ("expected", dict(color="black", linewidth=0.8))):
        rows = predicted[(predicted.curve == curve) & (predicted.quantity == quantity)].set_index("epoch")
        rows = rows[rows.index.isin(positions.index) & (rows.value > 0)]
        if not rows.empty:
            ax.plot(positions.loc[rows.index], transform(rows.value.to_numpy(dtype=float)), **style)


def quartiles(run: pd.DataFrame, metric: str, x: str) -> pd.DataFrame:
    """Per recorded epoch of one run: x (median over seeds), and the metric's median and quartiles (values
    of a diverged run above CEILING drawn at it)."""
    positive = run.assign(value=run[metric].where(run[metric] > 0).clip(upper=CEILING))
    grouped = positive.groupby("epoch")
    bands = pd.DataFrame({"x": grouped[x].median(), "median": grouped["value"].median(),
                          "q25": grouped["value"].quantile(0.25), "q75": grouped["value"].quantile(0.75)})
    return bands.replace([np.inf, -np.inf], np.nan).dropna(subset=["median"])


def batch_size_figure(summary: pd.DataFrame, b_simple: float | None, knee: int | None):
    """Epochs and seconds to the target against the batch size (log-log; median over seeds), with the
    noise scale B_simple and the throughput knee marked."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, column, label in zip(axes, ("epochs to target", "seconds to target"), ("epochs", "seconds"), strict=True):
        reached = summary[np.isfinite(summary[column]) & (summary[column] > 0)]
        ax.plot(reached.batch_size, reached[column], marker="o", color="C0")
        ax.set(xscale="log", xlabel="batch size B", ylabel=f"{label} to target (median)",
               xlim=(0.7 * summary.batch_size.min(), 1.4 * summary.batch_size.max()))
        if reached.empty:
            ax.text(0.5, 0.5, "no batch size reached the target", transform=ax.transAxes, ha="center")
        else:
            ax.set_yscale("log")
        if b_simple is not None and np.isfinite(b_simple):
            ax.axvline(b_simple, color="C1", linestyle="--", label=f"B_simple = {b_simple:.3g}")
        if knee is not None:
            ax.axvline(knee, color="C2", linestyle=":", label=f"throughput knee B = {knee}")
        ax.legend(fontsize=8)
    return figure


def paths_figure(problem: Any, paths: dict, seed: int = 0, runs: list[str] | None = None, since: int = 0, ax=None):
    """Level sets of F and each run's path θ⁰, θ¹, … (its history rows, from row ``since``) for one seed:
    in the plane of θ itself when θ has two entries, else projected on the top two eigenvectors of the
    Hessian at θ* (at the mean of the paths' ends when θ* is not known), with F drawn on that plane
    through the centre."""
    import matplotlib.pyplot as plt

    since = validation.integer("since", since, low=0)
    chosen = {run: path[since:] for (run, path_seed), path in paths.items() if path_seed == seed
              and (runs is None or run in runs) and len(path) > since}
    if not chosen:
        validation.fail("seed, runs and since", f"a seed whose paths were kept ({sorted({s for _, s in paths})}), "
                        f"runs among {sorted({run for run, _ in paths})} and rows before their ends",
                        f"seed={seed!r}, runs={runs!r}, since={since!r}")
    if problem.on_disk:
        validation.fail("problem", "data in memory (F is drawn on a grid of the plane)", "data on disk",
                        context="plot_paths")
    plane = _PathPlane(problem, chosen)
    if ax is None:
        figure, ax = plt.subplots(figsize=(6.5, 5.5))
    else:
        figure = ax.figure
    plane.draw_level_sets(ax)
    colours = {run: f"C{index}" for index, run in enumerate(dict.fromkeys(run for run, _ in paths))}
    for run, xy in plane.coordinates.items():
        ax.plot(xy[:, 0], xy[:, 1], marker=".", markersize=3, linewidth=1.0, color=colours[run], label=run)
    ax.plot([0.0], [0.0], marker="*", color="black", markersize=10, linestyle="none", label=plane.centre_name)
    if plane.size == 2:
        ax.set(xlabel=f"θ₁ − {plane.centre_name}₁", ylabel=f"θ₂ − {plane.centre_name}₂", aspect="equal")
    else:
        ax.set(xlabel=f"along the Hessian's top eigenvector (from {plane.centre_name})", ylabel="along its second")
    ax.set_title(f"paths of seed {seed} on the level sets of F" + (f", from history row {since}" if since else ""))
    ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


class _PathPlane:
    """The plane the paths are drawn in: its centre (θ*, or the mean of the paths' ends), two orthonormal
    directions, and each path's coordinates on them."""

    def __init__(self, problem: Any, paths: dict):
        from jax.flatten_util import ravel_pytree

        flat0, self.unravel = ravel_pytree(problem.params0)
        self.problem, self.size = problem, flat0.size
        points = {run: np.array([np.asarray(ravel_pytree(theta)[0]) for theta in path]) for run, path in paths.items()}
        solution = problem.solution()
        self.centre_name = "θ*" if solution is not None else "centre"
        self.centre = (np.asarray(ravel_pytree(solution)[0]) if solution is not None
                       else np.mean([path[-1] for path in points.values()], axis=0))
        self.basis = self._directions()
        self.coordinates = {run: (path - self.centre) @ self.basis.T for run, path in points.items()}

    def _directions(self) -> np.ndarray:
        """Two orthonormal rows: the coordinates when θ has two entries, else the top two eigenvectors of
        ∇²F at the centre."""
        import jax
        import jax.numpy as jnp

        if self.size == 2:
            return np.eye(2)
        if self.size > MAX_HESSIAN:
            validation.fail("problem", f"parameters of at most {MAX_HESSIAN} entries (the plane of the paths comes "
                            "from the Hessian)", f"{self.size} entries", context="plot_paths")
        hessian = np.asarray(jax.hessian(self._flat_loss)(jnp.asarray(self.centre)))
        _, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
        return vectors[:, ::-1][:, :2].T

    def _flat_loss(self, flat):
        return self.problem.data_loss(self.unravel(flat), self.problem.data)

    def draw_level_sets(self, ax, points: int = 80, levels: int = 14) -> None:
        """Contours of F − min over the grid, at geometrically spaced levels, on a grid covering the paths."""
        import jax
        import jax.numpy as jnp

        everything = np.concatenate(list(self.coordinates.values()))
        low, high = everything.min(axis=0), everything.max(axis=0)
        margin = 0.1 * np.maximum(high - low, 1e-12)
        a, b = np.meshgrid(*(np.linspace(low[i] - margin[i], high[i] + margin[i], points) for i in range(2)))
        grid = self.centre + np.stack([a.ravel(), b.ravel()], axis=1) @ self.basis
        losses = np.asarray(jax.vmap(self._flat_loss)(jnp.asarray(grid)))
        values = losses.reshape(a.shape) - losses.min()
        heights = np.geomspace(max(values[values > 0].min(), 1e-12 * values.max()), values.max(), levels)
        ax.contour(a, b, np.maximum(values, heights[0]), levels=heights, colors="0.75", linewidths=0.7)
