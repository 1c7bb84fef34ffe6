"""Curve fitting: noisy samples of a smooth function, fitted by SGD on polynomial and RBF features.

Run:  python examples/curve_fit.py [FOLDER]  (writes curve_fit.png there; by default into a new temporary folder)

Curve fitting is least squares on features φⱼ(x), so the closed-form fit is known and the plot can
show how far shuffled SGD got in a few epochs.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import sgdlab as sl


def main(folder: str | None = None):
    path = Path(folder or tempfile.mkdtemp(prefix="sgdlab-curve-fit-")) / "curve_fit.png"
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-1, 1, size=80))
    y = np.sin(3 * x) + 0.3 * x + 0.1 * rng.normal(size=80)
    grid = np.linspace(-1, 1, 400)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(x, y, s=12, color="gray", label="data")
    for name, basis in {"polynomial(5)": sl.polynomial(5),
                        "gaussian_rbf(9 centers)": sl.gaussian_rbf(np.linspace(-1, 1, 9), 0.25)}.items():
        problem = sl.curve_fit(x, y, basis=basis)
        result = sl.minimize(problem, sampler=sl.shuffled_cyclic(8), step=0.5 / problem.lipschitz(), epochs=300)
        print(f"{name}: {result.message}")
        ax.plot(grid, problem.predict(result.params, grid), label=f"{name}, SGD")
        ax.plot(grid, problem.predict(problem.solution(), grid), linestyle=":", color="black")
    ax.set(xlabel="x", ylabel="y", title="least squares on basis features (dotted: closed form)")
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
