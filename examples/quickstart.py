"""Quickstart: least squares on scikit-learn's diabetes data, every sampling scheme side by side.

Run:  python examples/quickstart.py

Each scheme gets the same budget of 30 epochs (30 × N per-example gradients). Gradient descent uses
α = 1/L; single-example schemes use α = 1/L_max (L_max = maxᵢ ‖xᵢ‖², the largest per-example
curvature); batches of 32 use α = 0.5/L. The table shows how far each run got: F − p*, ‖θ − θ*‖.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

import sgdlab as sl


def main():
    features, target = load_diabetes(return_X_y=True)
    X = np.column_stack([StandardScaler().fit_transform(features), np.ones(len(target))])  # with intercept
    problem = sl.least_squares(X, target)
    L, L_max = problem.lipschitz(), problem.row_max_squared_norm
    print(f"least squares on diabetes: N = {problem.n}, p = {problem.n_features}, L = {L:.3g}, "
          f"L_max = {L_max:.3g}, p* = {problem.optimal_value():.6g}\n")

    schemes = {
        "gradient descent": (sl.full_batch(), 1 / L),
        "SGD, with replacement, B=1": (sl.with_replacement(1), 1 / L_max),
        "SGD, with replacement, B=32": (sl.with_replacement(32), 0.5 / L),
        "minibatch without replacement, B=32": (sl.without_replacement(32), 0.5 / L),
        "cyclic, B=1": (sl.cyclic(1), 1 / L_max),
        "shuffled cyclic, B=1": (sl.shuffled_cyclic(1), 1 / L_max),
        "shuffled cyclic, B=32": (sl.shuffled_cyclic(32), 0.5 / L),
        "shuffle once, B=32": (sl.shuffle_once(32), 0.5 / L),
    }
    rows = []
    for name, (sampler, alpha) in schemes.items():
        result = sl.minimize(problem, sampler=sampler, step=alpha, epochs=30, seed=0)
        final = result.history.iloc[-1]
        rows.append({"scheme": name, "alpha": alpha, "iterations": result.iterations, "F - p*": final.gap,
                     "|theta - theta*|": final.dist, "status": result.status})
    with pd.option_context("display.width", 120, "display.float_format", "{:.4g}".format):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
