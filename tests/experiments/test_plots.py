"""Convergence plots survive what runs produce: a diverged run's astronomically large values."""

import matplotlib
import numpy as np
import pandas as pd

from sgdlab.experiments.plots import CEILING, convergence_figure

matplotlib.use("Agg")


def test_a_diverged_run_is_drawn_at_the_ceiling():
    table = pd.DataFrame({"run": ["a"] * 3 + ["b"] * 3, "seed": 0, "epoch": [0, 1, 2] * 2,
                          "iteration": [0, 1, 2] * 2, "time": [0.0, 0.1, 0.2] * 2,
                          "gap": [1.0, 0.5, 0.25, 1.0, 1e150, 5e290]})
    figure = convergence_figure(table, "gap")
    figure.canvas.draw()   # ticks and layout on a log axis from 0.25 to 1e100
    drawn = figure.axes[0].lines[1].get_ydata()
    np.testing.assert_array_equal(drawn, [1.0, CEILING, CEILING])
