"""Convergence plots: a diverged run's astronomically large values, one hue per sampler, the target line."""

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import rgb_to_hsv, to_rgb

from sgdlab.experiments.plots import CEILING, convergence_figure, run_colours

matplotlib.use("Agg")


def test_a_diverged_run_is_drawn_at_the_ceiling():
    table = pd.DataFrame({"run": ["a"] * 3 + ["b"] * 3, "seed": 0, "epoch": [0, 1, 2] * 2,
                          "iteration": [0, 1, 2] * 2, "time": [0.0, 0.1, 0.2] * 2,
                          "gap": [1.0, 0.5, 0.25, 1.0, 1e150, 5e290]})
    figure = convergence_figure(table, "gap")
    figure.canvas.draw()   # ticks and layout on a log axis from 0.25 to 1e100
    drawn = figure.axes[0].lines[1].get_ydata()
    np.testing.assert_array_equal(drawn, [1.0, CEILING, CEILING])


def test_one_samplers_runs_share_a_hue_and_the_target_is_drawn():
    runs = [("GD", "full_batch"), ("RR B=1", "shuffled_cyclic"), ("RR B=8", "shuffled_cyclic"),
            ("RR B=64", "shuffled_cyclic"), ("SGD B=1", "with_replacement")]
    table = pd.DataFrame([{"run": name, "sampler": sampler, "seed": 0, "epoch": epoch, "iteration": epoch,
                           "time": 0.1 * epoch, "gap": 2.0 ** -epoch} for name, sampler in runs for epoch in range(3)])
    colours = run_colours(table)
    hsv = {name: rgb_to_hsv(colours[name]) for name, _ in runs}
    shuffled = [hsv[name] for name in ("RR B=1", "RR B=8", "RR B=64")]
    assert max(h for h, _, _ in shuffled) - min(h for h, _, _ in shuffled) < 0.02          # one hue
    assert shuffled[0][2] < shuffled[1][2] < shuffled[2][2]                                # dark to light
    assert min(abs(hsv["GD"][0] - shuffled[0][0]), abs(hsv["SGD B=1"][0] - shuffled[0][0])) > 0.05
    assert colours["GD"] == to_rgb("C0") and colours["SGD B=1"] == to_rgb("C2")           # a lone run keeps its hue
    figure = convergence_figure(table, "gap", target=1e-3)
    target = [line for line in figure.axes[0].lines if line.get_label() == "target 0.001"]
    assert len(target) == 1 and set(target[0].get_ydata()) == {1e-3}
