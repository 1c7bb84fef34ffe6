"""Paths in the plane: what gradient descent, SGD and the cyclic schemes do to θ, seen on F's level sets.

Run:  python examples/paths.py [FOLDER]  (writes paths.png there; by default into a new temporary folder)

A two-parameter least-squares problem (N = 24 noisy points, condition number ≈ 9) is small enough to
draw. Four runs start from θ⁰ = 0 and keep θ at the end of every epoch (``record_params=True``):

* gradient descent at α = 1.9/L, just below the stability edge 2/L: the error along the Hessian's top
  eigenvector is multiplied by 1 − αL = −0.9 each step, so the path zig-zags across the valley;
* SGD with replacement at a constant step: the epoch ends settle into a noise ball around θ* whose mean
  squared radius the theory gives exactly (``sl.theory.expected_history``; printed beside the measured one);
* shuffled cyclic at the same step: each epoch uses every example once, so the epoch's noise cancels
  to first order and its ball is far smaller (its radius is O(α²) rather than O(α));
* cyclic at the same step: deterministic, it converges to a point of its own, off θ* by O(α).

The figure (paths.png) shows the whole paths, then the stochastic runs' epochs 30–60 close up.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import sgdlab as sl

EPOCHS = 60
SETTLED = 30          # epochs after which the runs are taken to be in their stationary regime


def main(folder: str | None = None):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(24, 2)) @ np.array([[3.0, 0.0], [1.0, 1.0]])
    y = X @ np.array([2.0, -3.0]) + rng.normal(size=24)
    problem = sl.least_squares(X, y)          # every run starts from θ⁰ = 0
    L, L_max = problem.lipschitz(), problem.row_max_squared_norm
    alpha = 0.25 / L_max
    print(f"N = {problem.n}, L = {L:.3g}, L_max = {L_max:.3g}, θ* = {np.round(problem.solution(), 3)}")

    runs = {
        "gradient descent, α = 1.9/L": dict(sampler=sl.full_batch(), step=1.9 / L),
        "SGD with replacement": dict(sampler=sl.with_replacement(1), step=alpha),
        "shuffled cyclic": dict(sampler=sl.shuffled_cyclic(1), step=alpha),
        "cyclic": dict(sampler=sl.cyclic(1), step=alpha),
    }
    comparison = sl.compare(problem, runs, seeds=20, epochs=EPOCHS, record_params=True)
    theta_star = problem.solution()

    print(f"\nmean ‖θ − θ*‖² over epochs {SETTLED}–{EPOCHS} and 20 seeds (stochastic runs at α = {alpha:.3g}):")
    for name, settings in list(runs.items())[1:]:
        measured = np.mean([np.sum((np.asarray(path[SETTLED:]) - theta_star) ** 2, axis=1).mean()
                            for (run, _), path in comparison.paths.items() if run == name])
        line = f"  {name:<22} {measured:.3e}"
        if name != "shuffled cyclic":     # N = 24 orders are too many to average exactly
            exact = sl.theory.expected_history(problem, settings["sampler"], alpha, EPOCHS)
            line += f"   exact expectation, same epochs: {exact.dist_sq[exact.epoch >= SETTLED].mean():.3e}"
        print(line)

    figure, (whole, settled) = plt.subplots(1, 2, figsize=(13, 5.5))
    comparison.plot_paths(seed=0, ax=whole)
    comparison.plot_paths(seed=0, runs=list(runs)[1:], since=SETTLED, ax=settled)   # the noise balls, close up
    path = Path(folder or tempfile.mkdtemp(prefix="sgdlab-paths-")) / "paths.png"
    figure.savefig(path, dpi=110)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
