"""Where ``engine="auto"`` should run natively: one thinned epoch on each engine, per model, float type and B.

Run:  python benchmarks/engine_choice.py [--quick] [--repeats 3] [--out benchmarks/ENGINE-CHOICE.md]

For every case the table gives the native and the JAX engine's epoch (compilation excluded, the fastest of
the repeats), which of the two ``engine="auto"`` picks, and whether that is the faster one (within 10%, the
noise of this shared machine). The limits in sgdlab/engines/select.py come from these tables
(benchmarks/NOTES.md, "Engine choice", keeps their history).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import sgdlab as sl
from run import cpu, sgdlab_epoch
from sgdlab.engines import select
from sgdlab.engines.native.work import step_work

#: A pick is called wrong when the other engine is faster by more than this factor.
NOISE = 1.10


@dataclasses.dataclass
class Case:
    name: str
    build: object      # () -> problem
    batches: tuple[int, ...]


def _least_squares(n: int, p: int, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p)).astype(dtype)
    return sl.least_squares(X, (X @ rng.normal(size=p) + 0.1 * rng.standard_normal(n)).astype(dtype))


def _softmax(n: int, p: int, classes: int, dtype):
    rng = np.random.default_rng(0)
    return sl.softmax_regression(rng.standard_normal((n, p)).astype(dtype), rng.integers(0, classes, n))


def _network(n: int, p: int, hidden: int, classes: int, dtype):
    rng = np.random.default_rng(0)
    return sl.mlp(rng.standard_normal((n, p)).astype(dtype), rng.integers(0, classes, n), hidden=(hidden,), seed=0)


def cases(quick: bool) -> list[Case]:
    scale = 20 if quick else 1
    found = []
    for dtype in (np.float64, np.float32):
        kind = np.dtype(dtype).name
        found += [
            Case(f"least squares {200_000 // scale:,} × 100, {kind}",
                 lambda dtype=dtype: _least_squares(200_000 // scale, 100, dtype), (1, 64, 256, 1024, 4096, 16384)),
            Case(f"softmax {100_000 // scale:,} × 100, K = 10, {kind}",
                 lambda dtype=dtype: _softmax(100_000 // scale, 100, 10, dtype), (8, 32, 128, 512, 2048)),
            Case(f"network 64-128-10, {60_000 // scale:,} rows, {kind}",
                 lambda dtype=dtype: _network(60_000 // scale, 64, 128, 10, dtype), (1, 8, 32, 128, 512, 2048)),
            Case(f"network 784-256-10, {20_000 // scale:,} rows, {kind}",
                 lambda dtype=dtype: _network(20_000 // scale, 784, 256, 10, dtype), (1, 32, 128, 512)),
        ]
    return found


def measure(case: Case, repeats: int) -> list[str]:
    """The table rows of one case: B, the work of a step, both epochs (ms), auto's pick and whether it is right."""
    problem = case.build()
    smoothness = problem.lipschitz_max() if hasattr(problem, "lipschitz_max") else None
    step = 0.01 if smoothness is None else 0.1 / smoothness
    rows = []
    for batch in case.batches:
        sampler = sl.shuffled_cyclic(batch)
        native = sgdlab_epoch(problem, sampler, step, repeats, "native")[0]
        jax_epoch = sgdlab_epoch(problem, sampler, step, repeats, "jax")[0]
        picked = select.choose("auto", problem, sampler)
        faster = "native" if native < jax_epoch else "jax"
        mine, other = (native, jax_epoch) if picked == "native" else (jax_epoch, native)
        verdict = "yes" if picked == faster or mine <= NOISE * other else f"no ({mine / other:.2f}×)"
        work = step_work(problem, batch)
        rows.append(f"| {case.name} | {batch} | {work:,} | {1e3 * native:.3g} | {1e3 * jax_epoch:.3g} | {picked} | "
                    f"{verdict} |")
        print(rows[-1], flush=True)
    return rows


#: Gradient descent on dense least squares, N × p: the main job's size (442 × 10) up to a BLAS-sized one.
GRADIENT_DESCENT_SIZES = ((442, 10), (2_000, 20), (10_000, 50), (50_000, 100))


def measure_gradient_descent(quick: bool, repeats: int) -> list[str]:
    """The table rows of gradient descent: per N × p and rows every 1 or 10 epochs, an epoch's share of a whole
    ``minimize`` run (compilation excluded: a first run prepares it) on each engine, and auto's pick."""
    rows = []
    for n, p in GRADIENT_DESCENT_SIZES[:2] if quick else GRADIENT_DESCENT_SIZES:
        problem = _least_squares(n, p, np.float64)
        epochs = max(20, min(1000, int(1e8 / (n * p))))
        for every in (1, 10):
            def run(engine: str, every: int = every, epochs: int = epochs, problem=problem) -> float:
                started = time.perf_counter()
                sl.minimize(problem, sl.full_batch(), 1.0 / problem.lipschitz(), epochs=epochs, record_every=every,
                            engine=engine)
                return (time.perf_counter() - started) / epochs

            times = {}
            for engine in ("native", "jax"):
                run(engine)
                times[engine] = min(run(engine) for _ in range(repeats))
            picked = select.choose("auto", problem, sl.full_batch())
            other = "jax" if picked == "native" else "native"
            ratio = times[picked] / times[other]
            verdict = "yes" if ratio <= NOISE else f"no ({ratio:.2f}×)"
            rows.append(f"| gradient descent {n:,} × {p}, rows every {every} | {n} | {n * p:,} | "
                        f"{1e3 * times['native']:.3g} | {1e3 * times['jax']:.3g} | {picked} | {verdict} |")
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20× fewer rows: a smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("ENGINE-CHOICE.md")))
    args = parser.parse_args(argv)
    lines = ["# Engine choice: one thinned epoch on each engine", "",
             f"{cpu()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the fastest of "
             f"{args.repeats} repeats; ms.", "",
             "| case | B | work a step | native | JAX | auto picks | right |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for case in cases(args.quick):
        lines += measure(case, args.repeats)
    lines += ["", "Gradient descent: an epoch's share of a whole run (its history rows, every 1 or 10 epochs, "
              "included); ms.", "", "| case | B | work a step | native | JAX | auto picks | right |",
              "| --- | --- | --- | --- | --- | --- | --- |", *measure_gradient_descent(args.quick, args.repeats)]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
