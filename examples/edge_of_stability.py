"""The edge of stability: full-batch gradient descent on a small network, its sharpness beside 2/α.

Run:  python examples/edge_of_stability.py [FOLDER]  (writes edge_of_stability.png there; by default into a new
temporary folder)

Cohen et al. (2021, "Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability") found that
gradient descent with a constant step α on a network trained with the squared loss first sharpens — the
sharpness λ_max(∇²F) rises as the loss falls — until it reaches 2/α, the value beyond which a quadratic would
diverge; it then hovers at 2/α while the loss keeps falling, no longer monotonically. The network and data are
chosen so that this shows within a few thousand steps on a CPU: a tanh network 64 → 32 → 32 → 10 (LeCun's
initialization, W ~ N(0, 1/fan_in), b = 0, seed 0) fitted to one-hot labels with ½‖f(x) − y‖² on 300 digits of
scikit-learn's 8 × 8 set (features standardized). Its sharpness at θ⁰ is about 5.9, and falls to about 4.5 in
the first steps; at α = 0.2, 0.25 and 0.3 (2/α = 10, 8 and 6.7) it then rises, and at the two larger steps it
reaches 2/α and stays there (within 1% over the run's second half), while at α = 0.2 it is still sharpening
after 3,000 steps. ``sl.minimize(..., curvature_every=50)`` records the sharpness every 50 steps (Lanczos on
Hessian-vector products, warm-started from the previous row).
"""

import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import sgdlab as sl

STEPS = (0.2, 0.25, 0.3)
WIDTHS = (64, 32, 32, 10)


def tanh_network(examples: int = 300, seed: int = 0) -> sl.FiniteSum:
    """½‖f(x) − y‖² of a tanh network with widths WIDTHS on ``examples`` standardized digits (one-hot y)."""
    digits = load_digits()
    rows = np.random.default_rng(seed).choice(len(digits.data), examples, replace=False)
    X = digits.data[rows]
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    Y = np.eye(10)[digits.target[rows]]
    keys = jax.random.split(jax.random.key(seed), len(WIDTHS) - 1)
    params0 = [{"W": np.asarray(jax.random.normal(key, (fan_in, fan_out))) / np.sqrt(fan_in), "b": np.zeros(fan_out)}
               for key, fan_in, fan_out in zip(keys, WIDTHS[:-1], WIDTHS[1:], strict=True)]

    def loss(params, example):
        x, y = example
        for layer in params[:-1]:
            x = jnp.tanh(x @ layer["W"] + layer["b"])
        return 0.5 * jnp.sum((x @ params[-1]["W"] + params[-1]["b"] - y) ** 2)

    return sl.finite_sum(loss, (X, Y), params0)


def runs(problem: sl.FiniteSum, steps=STEPS, epochs: int = 3000, every: int = 50) -> dict:
    """Gradient descent at each step α for ``epochs`` steps, its sharpness every ``every`` steps."""
    return {alpha: sl.minimize(problem, sl.full_batch(), step=alpha, epochs=epochs, curvature_every=every)
            for alpha in steps}


def hovering(result, alpha: float) -> float:
    """The fraction of the second half's curvature rows whose sharpness is within ±10% of 2/α."""
    rows = result.history[result.history.sharpness.notna()]
    late = rows[rows.epoch >= rows.epoch.max() / 2]
    return float(np.mean(np.abs(late.sharpness * alpha / 2 - 1) <= 0.1))


def main(folder: str | None = None):
    problem = tanh_network()
    print(f"sharpness at θ⁰: {sl.theory.curvature(problem, problem.params0).sharpness:.3g}")
    results = runs(problem)
    figure, (sharp, loss) = plt.subplots(1, 2, figsize=(13, 5))
    for index, (alpha, result) in enumerate(results.items()):
        colour = f"C{index}"
        rows = result.history[result.history.sharpness.notna()]
        sharp.plot(rows.epoch, rows.sharpness, color=colour, label=f"α = {alpha:g}")
        sharp.axhline(2 / alpha, color=colour, linestyle="--", linewidth=1)
        loss.plot(result.history.epoch, result.history.loss, color=colour, linewidth=0.8, label=f"α = {alpha:g}")
        final_loss = result.history.loss.iloc[-1]
        print(f"α = {alpha:g}: 2/α = {2 / alpha:.3g}, final sharpness {rows.sharpness.iloc[-1]:.3g}, within ±10% of "
              f"2/α on {hovering(result, alpha):.0%} of the second half's rows, final loss {final_loss:.3g}")
    sharp.set(xlabel="step", ylabel="sharpness λ_max(∇²F(θ))", title="sharpness; dashed: 2/α")
    loss.set(xlabel="step", ylabel="F(θ)", yscale="log", title="training loss (full batch)")
    for ax in (sharp, loss):
        ax.legend()
        ax.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(folder or tempfile.mkdtemp(prefix="sgdlab-eos-")) / "edge_of_stability.png"
    figure.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
