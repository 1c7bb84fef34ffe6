"""A study of 450 runs on three LIBSVM sets, in this process, on 2 local worker processes and on a local Dask
cluster of 2 worker processes.

Run:  python benchmarks/study.py [--epochs 10] [--seeds 5] [--engines auto,jax] [--repeats 2]
                                 [--out benchmarks/RESULTS-study.md]

Logistic regression (ℓ2 = 1e-4) on mushrooms, w8a and a9a; six orders (with and without replacement, cyclic,
shuffled cyclic, shuffle once, flip-flop) at B = 16 and five steps c/L_max each: 30 settings × seeds × 3 problems
(450 runs at 5 seeds). The runs of one order share a program (six groups a problem, one task each; all 18 are
submitted at once). Wall time of the whole study, the pools started beforehand (their start-up reported apart),
with the default engine (native here) and with the JAX engine; every table is checked equal to the serial one.
"""

import argparse
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

import sgdlab as sl

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm"
ORDERS = {"with": sl.with_replacement(16), "without": sl.without_replacement(16), "cyclic": sl.cyclic(16),
          "RR": sl.shuffled_cyclic(16), "once": sl.shuffle_once(16), "flip-flop": sl.flip_flop(16)}
FACTORS = (0.05, 0.1, 0.2, 0.5, 1.0)


def problems():
    loaded = {name: sl.data.load(str(DATA / name)) for name in ("mushrooms", "w8a", "a9a")}
    return {name: sl.logistic_regression(d.X, d.y == d.y.max(), l2=1e-4) for name, d in loaded.items()}


def runs():
    return {f"{name} {c}": dict(sampler=sampler, step=f"{c}/L_max") for name, sampler in ORDERS.items()
            for c in FACTORS}


def timed(study_problems, seeds, epochs, engine, executor=None):
    start = time.perf_counter()
    table = sl.study(study_problems, runs(), seeds=seeds, epochs=epochs, predict=False, engine=engine,
                     executor=executor).table
    return time.perf_counter() - start, table.drop(columns="time")


def measured(study_problems, seeds, epochs, engine):
    """(where, seconds, pool start-up seconds) of the study in this process, on 2 spawned processes and on a local
    Dask cluster of 2 single-threaded worker processes; every table checked equal to this process's."""
    from distributed import Client, LocalCluster

    timed(study_problems, 1, 1, engine)   # compile once here (the workers' programs come from the disk cache)
    serial, reference = timed(study_problems, seeds, epochs, engine)
    rows = [("this process", serial, 0.0)]
    started = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        start_up = time.perf_counter() - started
        seconds, table = timed(study_problems, seeds, epochs, engine, pool)
    pd.testing.assert_frame_equal(table, reference)
    rows.append(("2 local processes", seconds, start_up))
    started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        start_up = time.perf_counter() - started
        seconds, table = timed(study_problems, seeds, epochs, engine, client.get_executor())
    pd.testing.assert_frame_equal(table, reference)
    rows.append(("Dask, 2 worker processes", seconds, start_up))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--engines", default="auto,jax", help="comma-separated: auto (native here), jax")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/RESULTS-study.md")
    args = parser.parse_args()
    study_problems = problems()
    count = len(runs()) * args.seeds * len(study_problems)
    lines = [f"{count} runs ({len(runs())} settings × {args.seeds} seeds × {len(study_problems)} problems), "
             f"{args.epochs} epochs, wall seconds (median of {args.repeats} repeats; ratio: range over repeats, "
             "each repeat's time over its own serial time)", "",
             "| engine | where | study s | ratio to this process | s per run | pool start-up s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for engine in args.engines.split(","):
        repeats = [measured(study_problems, args.seeds, args.epochs, engine) for _ in range(args.repeats)]
        for index, (name, _, _) in enumerate(repeats[0]):
            seconds = [rows[index][1] for rows in repeats]
            ratios = [rows[index][1] / rows[0][1] for rows in repeats]
            start_up = max(rows[index][2] for rows in repeats)
            median = statistics.median(seconds)
            lines.append(f"| {engine} | {name} | {median:.1f} | {min(ratios):.2f}–{max(ratios):.2f} "
                         f"| {median / count:.3f} | {start_up:.1f} |")
    table_text = "\n".join(lines)
    print(table_text)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    Path(args.out).write_text(f"# A study on one process, two processes and Dask\n\n{stamp}\n\n{table_text}\n")


if __name__ == "__main__":
    main()
