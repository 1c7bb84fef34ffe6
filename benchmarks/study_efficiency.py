"""Parallel efficiency of a study on Dask at equal threads, and what a task costs the scheduler.

Run:  python benchmarks/study_efficiency.py [--engines auto,jax] [--repeats 2] [--tiny 1000]
                                            [--out benchmarks/RESULTS-study-efficiency.md]

Every process is held to one thread: pinned to one core (``sched_setaffinity``, which sgdlab's native lanes read
for their thread count) with NUMBA_NUM_THREADS=1, OMP_NUM_THREADS=1 and XLA's CPU client limited to one
intra-op thread. T₁ is the study in one such process; T₂ the same study on a Dask cluster of 2 such worker
processes (each with its nanny), pinned to cores 0 and 1, the client submitting from this process. Parallel
efficiency is T₁ / (2·T₂): 1 when two workers halve the time.

1. **Efficiency**: logistic regression (ℓ2 = 1e-4) on mushrooms, w8a and a9a, six orders at B = 16 and five
   steps each, 5 seeds, 10 epochs (450 runs in 18 groups, one task each).
2. **Overhead**: ``--tiny`` least-squares problems of 20 × 3, ten batch sizes each (10 × tiny run groups of one
   run): what distributing costs a group, (T₂ − T₁/2) / groups, the executor's tasks they travel in (tiny groups
   of one problem share a task: ``groups.SHIPMENT_WORK``), and the bytes a group sends (its share of its task's
   payload, and of its problem's bytes).

The machine's ceiling is what the two cores give two independent copies of the one-process study run at once
(:func:`machine_ceiling`): the efficiency a perfect scheduler would reach at that moment.

Both are warmed up first by a one-epoch study of the same shapes (JAX's and Numba's programs compiled, the disk
cache filled); the timed study's problems are new objects, so that what a problem costs once (its constants, its
compiled programs) is paid in one process as on the workers. Every table is checked equal to the one-process
table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
DATA = BENCHMARKS.parents[1] / "shared" / "data" / "libsvm"
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def study_of(kind: str):
    """(problems, runs, seeds, epochs) of the named study."""
    import numpy as np

    import sgdlab as sl

    if kind == "efficiency":
        loaded = {name: sl.data.load(str(DATA / name)) for name in ("mushrooms", "w8a", "a9a")}
        problems = {name: sl.logistic_regression(d.X, d.y == d.y.max(), l2=1e-4) for name, d in loaded.items()}
        orders = {"with": sl.with_replacement(16), "without": sl.without_replacement(16), "cyclic": sl.cyclic(16),
                  "RR": sl.shuffled_cyclic(16), "once": sl.shuffle_once(16), "flip-flop": sl.flip_flop(16)}
        runs = {f"{name} {c}": dict(sampler=sampler, step=f"{c}/L_max") for name, sampler in orders.items()
                for c in (0.05, 0.1, 0.2, 0.5, 1.0)}
        return problems, runs, 5, 10
    count = int(kind.removeprefix("tiny"))
    rng = np.random.default_rng(0)
    problems = {}
    for index in range(count):
        X = rng.normal(size=(20, 3))
        problems[f"p{index}"] = sl.least_squares(X, X @ rng.normal(size=3))
    runs = {f"RR {b}": dict(sampler=sl.shuffled_cyclic(b), step="0.5/L_B") for b in range(1, 11)}
    return problems, runs, 1, 2


def timed_study(kind: str, engine: str, executor=None, table_path: str | None = None, around=None) -> float:
    """Seconds of the study (after a one-epoch warm-up of the same runs), timed inside the context ``around()``
    when given; its table saved to ``table_path``."""
    import contextlib

    import sgdlab as sl

    sl.study(*study_of(kind)[:2], seeds=1, epochs=1, predict=False, engine=engine, executor=executor)
    problems, runs, seeds, epochs = study_of(kind)   # new objects, as cold in one process as on the workers
    with (around or contextlib.nullcontext)():
        start = time.perf_counter()
        table = sl.study(problems, runs, seeds=seeds, epochs=epochs, predict=False, engine=engine,
                         executor=executor).table
        seconds = time.perf_counter() - start
    if table_path is not None:
        table.drop(columns="time").to_parquet(table_path)
    return seconds


def pinned(core: int):
    """A Popen ``preexec_fn`` that holds the child (and its children) to one core."""
    return lambda: os.sched_setaffinity(0, {core})


def _one_process_started(kind: str, engine: str, table_path: str | None, core: int) -> subprocess.Popen:
    """The study in a child process held to ``core`` and one thread; it prints its seconds last."""
    code = (f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import study_efficiency as s; "
            f"print(s.timed_study({kind!r}, {engine!r}, None, {table_path!r}))")
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **ONE_THREAD}, preexec_fn=pinned(core),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _seconds(process: subprocess.Popen) -> float:
    output = process.communicate()[0]
    if process.returncode:
        raise RuntimeError(f"the one-process study failed (exit {process.returncode})")
    return float(output.strip().splitlines()[-1])


def one_process(kind: str, engine: str, table_path: str | None) -> float:
    """T₁: the study in a child process held to core 0 and one thread."""
    return _seconds(_one_process_started(kind, engine, table_path, 0))


def machine_ceiling(kind: str, engine: str) -> float:
    """What two cores give two independent copies of the one-process study run at once (cores 0 and 1), as
    T₁ / the slower copy's seconds: the efficiency a perfect scheduler would reach on this machine at this moment
    (shared caches, memory bandwidth, and a host that may share the cores with others)."""
    alone = one_process(kind, engine, None)
    pair = [_one_process_started(kind, engine, None, core) for core in (0, 1)]
    return alone / max(_seconds(process) for process in pair)


class Cluster:
    """A scheduler and two single-threaded workers with their nannies, pinned to cores 0 and 1."""

    def __enter__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                            "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)]
        self.processes += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                             "--nthreads", "1", "--no-dashboard"], env={**os.environ, **ONE_THREAD},
                                            preexec_fn=pinned(core), start_new_session=True, **quiet)
                           for core in (0, 1)]
        return self

    def __exit__(self, *exc):
        import signal

        for process in self.processes[1:]:
            os.killpg(process.pid, signal.SIGKILL)
        self.processes[0].kill()
        for process in self.processes:
            process.wait()


class CountingSubmit:
    """Wraps an executor's ``submit`` (the executor keeps its type): counts the tasks and the bytes they carry."""

    def __init__(self, executor):
        self.tasks, self.payload = 0, 0
        self.submit = executor.submit
        executor.submit = self

    def __call__(self, function, *args, **kwargs):
        self.tasks += 1
        self.payload += sum(len(arg) for arg in args if isinstance(arg, bytes))
        return self.submit(function, *args, **kwargs)


class CpuSeconds:
    """CPU seconds each process of the cluster and this client spend inside the ``with`` block, by role: the work
    (the workers) and what runs beside it on the same two cores (the scheduler, the nannies, the client)."""

    def __init__(self, cluster):
        import psutil

        nannies = [psutil.Process(process.pid) for process in cluster.processes[1:]]
        self.roles = {"scheduler": [psutil.Process(cluster.processes[0].pid)], "nannies": nannies,
                      "workers": [child for nanny in nannies for child in nanny.children()],
                      "client": [psutil.Process()]}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {role: sum(sum(p.cpu_times()[:2]) for p in processes) for role, processes in self.roles.items()}

    def __call__(self):
        import contextlib

        @contextlib.contextmanager
        def measured():
            before = self._now()
            yield
            self.spent = {role: seconds - before[role] for role, seconds in self._now().items()}

        return measured()


def two_workers(kind: str, engine: str, table_path: str) -> tuple[float, int, int, dict]:
    """(T₂, tasks, payload bytes sent, CPU seconds by role): the study from this process on the cluster's two
    workers."""
    import distributed

    with Cluster() as cluster, distributed.Client(cluster.address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        executor = client.get_executor()
        counted, cpu = CountingSubmit(executor), CpuSeconds(cluster)
        seconds = timed_study(kind, engine, executor, table_path, around=cpu)
        half = counted.tasks // 2   # the warm-up submitted as many tasks as the timed study
        return seconds, half, counted.payload // 2, cpu.spent


def problem_bytes(kind: str) -> int:
    """The pickled problems of the study, summed: what the problems' tasks carry to the workers, once each."""
    import cloudpickle

    return sum(len(cloudpickle.dumps(problem)) for problem in study_of(kind)[0].values())


def measure(kind: str, engine: str, repeats: int) -> dict:
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            serial = one_process(kind, engine, f"{folder}/one.parquet")
            seconds, tasks, payload, cpu = two_workers(kind, engine, f"{folder}/two.parquet")
            pd.testing.assert_frame_equal(pd.read_parquet(f"{folder}/two.parquet"),
                                          pd.read_parquet(f"{folder}/one.parquet"))
            ceiling = machine_ceiling(kind, engine) if kind == "efficiency" else float("nan")
            rows.append((serial, seconds, tasks, payload, cpu, ceiling))
    return {"T1": [row[0] for row in rows], "T2": [row[1] for row in rows], "tasks": rows[0][2],
            "payload": rows[0][3], "cpu": [row[4] for row in rows], "ceiling": [row[5] for row in rows]}


def efficiency_lines(engines: list[str], repeats: int) -> list[str]:
    lines = ["| engine | T₁, one process (s) | T₂, 2 Dask workers (s) | efficiency T₁/(2·T₂) | the machine's ceiling | "
             "CPU s in T₂: workers / scheduler / nannies / client |", "| --- | --- | --- | --- | --- | --- |"]
    for engine in engines:
        m = measure("efficiency", engine, repeats)
        efficiency = [t1 / (2 * t2) for t1, t2 in zip(m["T1"], m["T2"], strict=True)]
        cpu = {role: statistics.median(spent[role] for spent in m["cpu"]) for role in m["cpu"][0]}
        lines.append(f"| {engine} | {statistics.median(m['T1']):.1f} | {statistics.median(m['T2']):.1f} | "
                     f"{_range(efficiency)} (median {statistics.median(efficiency):.2f}) | {_range(m['ceiling'])} | "
                     f"{cpu['workers']:.1f} / {cpu['scheduler']:.1f} / {cpu['nannies']:.1f} / {cpu['client']:.1f} |")
    return lines


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def overhead_lines(engines: list[str], repeats: int, tiny: int) -> list[str]:
    kind = f"tiny{tiny}"
    shared = problem_bytes(kind)
    lines = ["| engine | groups (executor tasks) | T₁ (s) | T₂ (s) | overhead a group (T₂ − T₁/2)/groups | payload a "
             "group | problem bytes a group | CPU ms a group in T₂: workers / scheduler / nannies / client |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups = 10 * tiny
    for engine in engines:
        m = measure(kind, engine, repeats)
        overhead = [(t2 - t1 / 2) / groups * 1e3 for t1, t2 in zip(m["T1"], m["T2"], strict=True)]
        cpu = {role: statistics.median(spent[role] for spent in m["cpu"]) / groups * 1e3 for role in m["cpu"][0]}
        lines.append(f"| {engine} | {groups} ({m['tasks']}) | {statistics.median(m['T1']):.1f} | "
                     f"{statistics.median(m['T2']):.1f} | {min(overhead):.2f}–{max(overhead):.2f} ms | "
                     f"{m['payload'] / groups:.0f} B | {shared / groups:.0f} B | {cpu['workers']:.1f} / "
                     f"{cpu['scheduler']:.1f} / {cpu['nannies']:.1f} / {cpu['client']:.1f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="auto,jax")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tiny", type=int, default=1000, help="tiny problems of the overhead study (10 groups each)")
    parser.add_argument("--parts", default="efficiency,overhead")
    parser.add_argument("--out", default="benchmarks/RESULTS-study-efficiency.md")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCHMARKS))
    from run import cpu

    engines, parts = args.engines.split(","), args.parts.split(",")
    lines = [f"# A study on Dask at equal threads\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu()}; "
             f"every process pinned to one core and one thread; ranges over {args.repeats} repeats.", ""]
    if "efficiency" in parts:
        lines += ["450 runs (logistic on mushrooms, w8a, a9a; 18 tasks), 10 epochs:", "",
                  *efficiency_lines(engines, args.repeats), ""]
    if "overhead" in parts:
        lines += [f"{10 * args.tiny} run groups of one tiny run each (least squares 20 × 3, 2 epochs):", "",
                  *overhead_lines(engines, args.repeats, args.tiny), ""]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")
    print(json.dumps({"written": args.out}))


if __name__ == "__main__":
    main()
