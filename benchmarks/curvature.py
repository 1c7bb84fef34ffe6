"""What curvature beside a run costs: a run with and without ``curvature_every=1``, and one curvature row's parts.

Run:  python benchmarks/curvature.py [--epochs 5] [--repeats 3] [--out benchmarks/RESULTS-curvature.md]

Two problems: logistic regression on LIBSVM w8a (N = 49,749, 300 features, ℓ2 = 1e-4; native engine, B = 16) and a
ReLU network with one hidden layer of 64 on scikit-learn's digits (N = 1,797, 4,810 parameters; JAX engine, B = 32).
For each: the seconds of a run of ``--epochs`` epochs without curvature and with a curvature row every epoch (so
epochs + 1 rows), and, at θ⁰, the seconds of the sharpness (Lanczos, cold start), of Hutchinson's trace (32 probes)
and of the batch sharpness (32 batches). The fastest of ``--repeats``, compiled programs warm.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import sgdlab as sl
from run import cpu
from sgdlab.theory.curvature import batch_sharpness, hessian_trace, sharpness

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm"


def problems() -> dict:
    w8a = sl.data.load(str(DATA / "w8a"))
    digits = load_digits()
    X = (digits.data - digits.data.mean(0)) / (digits.data.std(0) + 1e-12)
    return {"logistic w8a": (sl.logistic_regression(w8a.X, w8a.y == w8a.y.max(), l2=1e-4), sl.shuffled_cyclic(16),
                             "0.5/L_max"),
            "MLP digits": (sl.mlp(X, digits.target, hidden=(64,)), sl.shuffled_cyclic(32), 0.05)}


def fastest(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def measured(name: str, problem, sampler, step, epochs: int, repeats: int) -> dict:
    if isinstance(step, str):
        step = float(step.split("/")[0]) / problem.lipschitz_max()

    def run(every):
        return lambda: sl.minimize(problem, sampler, step=step, epochs=epochs, curvature_every=every)

    run(None)(), run(1)()   # compile
    theta, batch = problem.params0, sampler.batch_size
    return {"problem": name, "engine": run(None)().engine, "plain run s": fastest(run(None), repeats),
            "with curvature s": fastest(run(1), repeats),
            "sharpness s": fastest(lambda: sharpness(problem, theta), repeats),
            "trace s": fastest(lambda: hessian_trace(problem, theta), repeats),
            "batch sharpness s": fastest(lambda: batch_sharpness(problem, theta, batch), repeats)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/RESULTS-curvature.md")
    args = parser.parse_args()
    rows = [measured(name, *spec, args.epochs, args.repeats) for name, spec in problems().items()]
    header = list(rows[0])
    lines = [f"Curvature cost, {args.epochs} epochs (curvature rows at epochs 0…{args.epochs}); {cpu()}. Run "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the fastest of {args.repeats}.", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(f"{value:.3g}" if isinstance(value, float) else str(value)
                                       for value in row.values()) + " |")
    per_row = [(row["with curvature s"] - row["plain run s"]) / (args.epochs + 1) for row in rows]
    lines += ["", "Seconds a curvature row adds: " + ", ".join(f"{row['problem']} {np.round(cost, 3)}"
                                                             for row, cost in zip(rows, per_row, strict=True))]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
