"""The curvature of a comparison's runs against epochs, beside the line where each run's step becomes unstable.

Gradient descent with a constant α is stable on a quadratic exactly while its sharpness λ_max(∇²F) is
below 2/α (2(1 + β)/α with heavy ball, (2 + 2β)/((1 + 2β)α) with Nesterov momentum); on a network,
full-batch gradient descent's sharpness rises to that line and hovers at it, the edge of stability
(Cohen et al. 2021), and for SGD it is the batch sharpness that does (Andreyev and Beneventano 2024).
Each run's median over seeds is drawn with its quartiles as a band and its stability line dashed in
its colour; L, where the problem knows it, is a grey line (a convex quadratic's sharpness is L at
every θ).
"""

from __future__ import annotations

import pandas as pd

from sgdlab.experiments.plots import legend_below, quartiles, run_colours

#: The curvature columns drawn, each on its own panel when the table has it.
PANELS = {"sharpness": "sharpness λ_max(∇²F(θ))", "batch_sharpness": "batch sharpness E[gᵀH_B g]/E[‖g‖²]"}


def curvature_figure(table: pd.DataFrame, edges: dict[str, float | None], L: float | None = None):
    """A matplotlib Figure of the sharpness (and the batch sharpness, when some run has it) against epochs: per run
    the median over seeds and the quartiles, its stability line ``edges[run]`` dashed in its colour, and ``L`` grey
    (see the module docstring)."""
    import matplotlib.pyplot as plt

    panels = [column for column in PANELS if column in table.columns and table[column].notna().any()]
    figure, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.2), squeeze=False)
    colours = run_colours(table)
    for ax, column in zip(axes[0], panels, strict=True):
        for name, run in table.groupby("run", sort=False):
            measured = run[run[column].notna()]
            if measured.empty:
                continue
            bands = quartiles(measured, column, "epoch")
            ax.plot(bands["x"], bands["median"], label=name, linewidth=1.6, color=colours[name], marker=".")
            ax.fill_between(bands["x"], bands["q25"], bands["q75"], color=colours[name], alpha=0.2, linewidth=0)
            if edges.get(name) is not None:
                ax.axhline(edges[name], color=colours[name], linestyle="--", linewidth=1.1)
        if L is not None:
            ax.axhline(L, color="0.45", linestyle=":", linewidth=1.3, label=f"L = {L:.3g}")
        ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel=PANELS[column], title=f"{PANELS[column]}; dashed: each run's stability line")
        ax.grid(True, which="major", alpha=0.3)
    legend_below(figure, axes[0][0])
    return figure
