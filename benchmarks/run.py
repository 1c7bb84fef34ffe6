"""Side-by-side timings: sgdlab against its peers, scikit-learn, PyTorch, a NumPy loop and the memory floor.

Run:  pip install -e '.[bench]' && python benchmarks/run.py [--quick] [--cases b1,b64,...] [--repeats 5]
      (lightning, for the case peers_w8a: bash benchmarks/install_lightning.sh .venv/bin/python)
      python benchmarks/run.py --device gpu   (the JAX engine's cases on a GPU, to RESULTS-gpu.md)

Every case builds its data once, warms each system up (sgdlab's compilation is timed apart and
reported), then times the same work several times and keeps the fastest run. sgdlab's epochs are timed
twice: thinned (no history row) and with the default history (F and ‖∇F‖ over all the data,
computed inside the same compiled call). The targets apply to the thinned time.

The peer cases (peers_*: a hand-written jitted JAX scan, torch.compile of a functional step,
scikit-learn-contrib lightning, Vowpal Wabbit; benchmarks/peers.py) time sgdlab through ``sl.minimize`` with
its history at the start and the end only, an epoch as (T(1 + m epochs) − T(1 epoch)) / m, and measure
sgdlab and the peer side by side in each of --repeats rounds: their ratio is the median of the rounds'
ratios, given with its range. peers_mlp_one_core repeats the JAX comparison in a child process pinned
to one core. The table is printed and written with the machine's details to benchmarks/RESULTS.md
(--out to change); absolute times on a shared machine are noisy (2× swings), ratios less so.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import peers

import sgdlab as sl
from sgdlab.engines import compiled
from sgdlab.engines.base import Carry
from sgdlab.run.loop import Programs
from sgdlab.run.options import MINIMIZE, validated


@dataclasses.dataclass
class Row:
    case: str
    system: str
    seconds: float
    note: str = ""


@dataclasses.dataclass
class Target:
    case: str
    claim: str
    ratio: float
    goal: float | None   # None: a ratio reported without a target
    higher_is_better: bool
    spread: tuple[float, float, int] | None = None   # (lowest, highest, repeats) when the ratio is a median

    @classmethod
    def median(cls, case: str, claim: str, ratios: list[float], goal: float | None, higher_is_better: bool):
        """The target met by the median of ratios measured side by side, with their range."""
        return cls(case, claim, float(np.median(ratios)), goal, higher_is_better, (min(ratios), max(ratios),
                                                                                     len(ratios)))

    @property
    def measured(self) -> str:
        if self.spread is None:
            return f"{self.ratio:.3g}"
        low, high, count = self.spread
        return f"{self.ratio:.3g} ({low:.3g}–{high:.3g} over {count})"

    @property
    def met(self) -> str:
        if self.goal is None:
            return "(reported)"
        return "yes" if (self.ratio >= self.goal if self.higher_is_better else self.ratio <= self.goal) else "no"

    @property
    def goal_text(self) -> str:
        return "—" if self.goal is None else f"{'≥' if self.higher_is_better else '≤'} {self.goal:g}"


def best_time(run, repeats: int) -> float:
    """The fastest wall time of ``run()`` after one warm-up call, over at least ``repeats`` calls and,
    for quick work, more (until 0.5 s has been spent, at most 50 calls). The fastest run is the one
    least disturbed by other work on a shared machine; medians moved by 2× between runs here."""
    run()
    times: list[float] = []
    while len(times) < repeats or (sum(times) < 0.5 and len(times) < 50):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def least_squares_data(n: int, p: int, dtype=np.float64, seed: int = 0):
    """Gaussian X (N × p) and y = Xθ + noise, in ``dtype``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32 if dtype == np.float32 else np.float64).astype(dtype, copy=False)
    return X, (X @ rng.normal(size=p).astype(dtype) + 0.1 * rng.standard_normal(n)).astype(dtype)


def sgdlab_epoch(problem, sampler, step: float, repeats: int, engine_name: str = "auto",
                 **keywords) -> tuple[float, float, float, str]:
    """(thinned epoch, epoch with history, compile seconds, engine) of one sgdlab epoch, through the
    programs ``minimize`` would build (on the engine it would choose, or the one named), with ``keywords``
    such as ``method=`` or ``average=``. The epoch timed is the second (a method's table starts in the first)."""
    options = validated(problem, MINIMIZE, sampler, step, {"epochs": 2, "engine": engine_name, **keywords})
    schedule = compiled.program_schedule(options.schedule)
    programs = Programs(options, options.params0, schedule)
    program = programs.first
    compile_seconds = programs.seconds + program.prepare(False)
    # the second epoch: its first iteration is the first epoch's step count (SAGA's table starts at iteration 0)
    start = Carry(options.params0, program.initial_state(options.params0), options.budget.epoch_steps or 0, 0,
                  program.initial_sampler_state(options.params0, 0))

    def epoch(record: bool):
        def run():
            carry, _ = program.epoch(start, 0, 1, schedule, record)
            jax_block(carry.params)
        return run

    return best_time(epoch(False), repeats), best_time(epoch(True), repeats), compile_seconds, options.engine


def timed_epochs(problem, sampler, step: float, repeats: int, epochs: int, record: bool = True, **keywords) -> float:
    """Seconds of ``epochs`` epochs through the programs ``minimize`` builds, every loop unit run as the run loop
    runs it (``record_every=0.25``: four units an epoch), each recording its history row when ``record``."""
    options = validated(problem, MINIMIZE, sampler, step, {"epochs": epochs, **keywords})
    schedule = compiled.program_schedule(options.schedule)
    programs = Programs(options, options.params0, schedule)
    budget = options.budget

    def run():
        carry = Carry(options.params0, programs.first.initial_state(options.params0), 0)
        for unit in range(1, budget.units + 1):
            carry, _ = programs.for_unit(unit).epoch(carry, 0, budget.epoch_of(unit), schedule, record,
                                                     budget.steps(unit))
        jax_block(carry.params)

    for program in programs.by_length.values():
        program.prepare(False)
    return best_time(run, repeats)


def sgdlab_row(case: str, problem, sampler, step, repeats: int, engine_name: str = "auto", **keywords) -> Row:
    """The row of sgdlab's thinned epoch, with its engine, the history's cost and compilation in the note."""
    thinned, recorded, compiled, chosen = sgdlab_epoch(problem, sampler, step, repeats, engine_name, **keywords)
    system = "sgdlab" if engine_name == "auto" else f"sgdlab, engine={engine_name!r}"
    described = ", ".join(value.describe() for value in keywords.values())
    system += f" ({described})" if described else ""
    return Row(case, system, thinned, f"{chosen} engine; with history {recorded:.4g} s; compile {compiled:.2f} s")


def least_squares_problem(size, dtype=np.float64):
    """Data (X, y) of the given (N, p) and its least-squares problem."""
    X, y = least_squares_data(*size, dtype=dtype)
    return X, y, sl.least_squares(X, y)


def jax_block(tree) -> None:
    import jax

    jax.block_until_ready(tree)


def case_b1(size, repeats):
    """Least squares, B = 1, shuffled, one epoch: sgdlab, scikit-learn's SGDRegressor, a NumPy loop."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    n, p = size
    X, y, problem = least_squares_problem(size)
    alpha = 0.1 / problem.lipschitz_max()
    ours = sgdlab_row("b1", problem, sl.shuffled_cyclic(1), alpha, repeats)
    model = SGDRegressor(loss="squared_error", penalty=None, fit_intercept=False, learning_rate="constant", eta0=alpha,
                         max_iter=1, tol=None, shuffle=True, average=False, random_state=0)

    def sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)

    def numpy_loop():
        theta = np.zeros(p)
        for i in np.random.default_rng(0).permutation(n):
            theta -= alpha * (X[i] @ theta - y[i]) * X[i]

    rows = [ours, Row("b1", "scikit-learn SGDRegressor", best_time(sklearn, repeats)),
            Row("b1", "NumPy loop", best_time(numpy_loop, max(1, repeats // 3))),
            sgdlab_row("b1", problem, sl.shuffled_cyclic(1), alpha, repeats, engine_name="jax")]
    return rows, [Target("b1", "scikit-learn / sgdlab (B=1 epoch)", rows[1].seconds / ours.seconds, 1.5, True)]


def _torch_regression(X, y):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch.from_numpy(X), torch.from_numpy(y), torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)


def case_b64(size, repeats):
    """Least squares, B = 64, shuffled, one epoch: sgdlab, PyTorch eager (randperm), a DataLoader, the floor."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    n, _ = size
    X, y, problem = least_squares_problem(size)
    alpha = 0.5 / problem.lipschitz()
    ours = sgdlab_row("b64", problem, sl.shuffled_cyclic(64), alpha, repeats)
    Xt, yt, w = _torch_regression(X, y)
    optimizer = torch.optim.SGD([w], lr=alpha)

    def step(xb, yb):
        optimizer.zero_grad()
        (0.5 * ((xb @ w - yb) ** 2).mean()).backward()
        optimizer.step()

    def eager():
        order = torch.randperm(n)
        for start in range(0, n, 64):
            batch = order[start:start + 64]
            step(Xt[batch], yt[batch])

    loader = DataLoader(TensorDataset(Xt, yt), batch_size=64, shuffle=True)

    def dataloader():
        for xb, yb in loader:
            step(xb, yb)

    floor = best_time(lambda: X.sum(), repeats)
    rows = [ours, Row("b64", "PyTorch eager (randperm)", best_time(eager, max(1, repeats // 2))),
            Row("b64", "PyTorch DataLoader(shuffle=True)", best_time(dataloader, 1)),
            Row("b64", "floor: one pass over X (X.sum())", floor)]
    return rows, [Target("b64", "sgdlab / floor (B=64 epoch)", ours.seconds / floor, 2.0, False),
                  Target("b64", "PyTorch eager / sgdlab (B=64 epoch)", rows[1].seconds / ours.seconds, 10.0, True)]


def case_gd(size, repeats):
    """Least squares, one gradient-descent epoch (one full gradient step) against two passes over X."""
    X, _, problem = least_squares_problem(size)
    ours = sgdlab_row("gd", problem, sl.full_batch(), 1 / problem.lipschitz(), repeats)
    floor = best_time(lambda: X.sum(), repeats)
    rows = [ours, Row("gd", "floor: two passes over X", 2 * floor)]
    return rows, [Target("gd", "sgdlab / two passes over X (GD epoch)", ours.seconds / (2 * floor), 1.5, False)]


def case_mlp(size, repeats):
    """A ReLU network 64-128-10, B = 32, one shuffled epoch: sgdlab against the same network in PyTorch eager."""
    import torch

    n, _ = size
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(n, 64)), rng.integers(0, 10, size=n)
    network = sl.mlp(X, labels, hidden=(128,), seed=0)
    ours = sgdlab_row("mlp", network, sl.shuffled_cyclic(32), 0.05, repeats)
    torch.set_num_threads(os.cpu_count() or 1)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)

    def eager():
        order = torch.randperm(n)
        for start in range(0, n, 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[batch]), yt[batch]).backward()
            optimizer.step()

    rows = [ours, Row("mlp", "PyTorch eager", best_time(eager, max(1, repeats // 2)))]
    return rows, [Target("mlp", "PyTorch eager / sgdlab (MLP epoch)", rows[1].seconds / ours.seconds, 8.0, True)]


def case_sweep(size, repeats, engine: str = "auto"):
    """6 schemes × 4 steps × 10 seeds, 20 epochs, as one compare; scikit-learn's runs one by one (the
    schemes it has: shuffled and cyclic, B = 1). Per-run time of a warm compare (its programs compiled
    by a first call, whose time is in the note), as every other case excludes compilation."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    from sgdlab.experiments.compare import compare

    X, y, problem = least_squares_problem(size)
    base = 0.5 / problem.lipschitz_max()
    steps = [base * f for f in (0.25, 0.5, 1.0, 2.0)]
    schemes = {"gd": sl.full_batch(), "wr1": sl.with_replacement(1), "wor32": sl.without_replacement(32),
               "cyc1": sl.cyclic(1), "rr1": sl.shuffled_cyclic(1), "so32": sl.shuffle_once(32)}
    runs = {f"{name} α{i}": dict(sampler=sampler, step=alpha) for name, sampler in schemes.items()
            for i, alpha in enumerate(steps)}
    started = time.perf_counter()
    compare(problem, runs, seeds=10, epochs=20, record_every=20, engine=engine)   # compiles, then reuses the programs
    first_per_run = (time.perf_counter() - started) / (len(runs) * 10)
    sgdlab_per_run = best_time(lambda: compare(problem, runs, seeds=10, epochs=20, record_every=20, engine=engine),
                               max(1, repeats // 2)) / (len(runs) * 10)
    if engine != "auto":
        return [Row("sweep", f"sgdlab compare, engine={engine!r} (per run)", sgdlab_per_run,
                    f"{len(runs) * 10} runs; first call: {first_per_run:.4g} s a run")], []

    def sklearn_runs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for shuffle in (True, False):
                for alpha in steps:
                    for seed in range(10):
                        SGDRegressor(penalty=None, fit_intercept=False, learning_rate="constant", eta0=alpha,
                                     max_iter=20, tol=None, shuffle=shuffle, random_state=seed).fit(X, y)

    sklearn_per_run = best_time(sklearn_runs, max(1, repeats // 2)) / 80
    rows = [Row("sweep", "sgdlab compare (per run)", sgdlab_per_run,
                f"{len(runs) * 10} runs; first call, compilation included: {first_per_run:.4g} s a run"),
            Row("sweep", "scikit-learn one by one (per run)", sklearn_per_run, "80 runs")]
    return rows, [Target("sweep", "scikit-learn / sgdlab (per run)", sklearn_per_run / sgdlab_per_run, 5.0, True)]


def case_f32(size, repeats):
    """float32 least squares, B = 256, one shuffled epoch, against one pass over X."""
    X, _, problem = least_squares_problem(size, dtype=np.float32)
    ours = sgdlab_row("f32", problem, sl.shuffled_cyclic(256), 1e-3, repeats)
    floor = best_time(lambda: X.sum(), repeats)
    rows = [ours, Row("f32", "floor: one pass over X (X.sum())", floor)]
    return rows, [Target("f32", "sgdlab / floor (float32 B=256 epoch)", ours.seconds / floor, 3.0, False)]


def case_startup(size, repeats):
    """`sgdlab --help` wall time, and a fresh process's time to its first compiled epoch."""
    help_seconds = best_time(lambda: subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "--help"],
                                                    check=True,
                                                      capture_output=True), max(1, repeats // 2))
    n, p = size
    code = ("import time; t = time.perf_counter(); import numpy as np, sgdlab as sl; "
            # the lazy modules: JAX, Numba, pandas
            "sl.minimize, sl.least_squares; imported = time.perf_counter() - t; "
            f"X = np.random.default_rng(0).normal(size=({n}, {p})); y = X.sum(1); "
            "t0 = time.perf_counter(); sl.minimize(sl.least_squares(X, y), sampler=sl.shuffled_cyclic(64), step=1e-3, "
            "epochs=1); print(imported, time.perf_counter() - t0)")
    with tempfile.TemporaryDirectory() as cache_home:   # JAX's persistent cache: empty, then warm
        runs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                               env={**os.environ, "XDG_CACHE_HOME": cache_home}).stdout for _ in range(2)]
    (imported, cold), (_, warm) = ([float(value) for value in output.split()] for output in runs)
    rows = [Row("startup", "sgdlab --help", help_seconds),
            Row("startup", "import sgdlab and its engine (JAX, Numba, pandas)", imported),
            Row("startup", "first compiled epoch, empty compilation cache (imports excluded)", cold,
                "validating the data, L, θ*, compiling, one epoch with its history"),
            Row("startup", "first compiled epoch, programs in JAX's persistent cache", warm,
                "a later process on this machine")]
    return rows, [Target("startup", "sgdlab --help (seconds)", help_seconds, 0.3, False),
                  Target("startup", "first compiled epoch, empty cache (seconds)", cold, 1.0, False),
                  Target("startup", "first compiled epoch, warm cache (seconds)", warm, 1.0, False)]


def case_main_job(size, repeats):
    """The README's main job, ``sgdlab compare`` (diabetes, eight schemes × 10 seeds × 20 epochs, its report), as a
    new user meets it: with empty caches (Numba's and JAX's, in a scratch folder: nothing of this machine's), again
    in a new results folder with the caches that left, and again in the same folder (every run reused). ``size``:
    how many times each is measured (the best is kept)."""
    times: dict[str, list[float]] = {"empty": [], "warm": [], "reused": []}
    for _ in range(size):
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "cache"),
                   "NUMBA_CACHE_DIR": str(Path(scratch) / "numba")}
            first, second = Path(scratch) / "first", Path(scratch) / "second"
            for kind, folder in (("empty", first), ("warm", second), ("reused", second)):
                folder.mkdir(exist_ok=True)
                times[kind].append(_timed(functools.partial(
                    subprocess.run, [sys.executable, "-m", "sgdlab.experiments.cli", "compare"], check=True,
                    capture_output=True, env=env, cwd=folder)))
    spread = {kind: f"{min(values):.3g}–{max(values):.3g} s over {len(values)}" for kind, values in times.items()}
    rows = [Row("main_job", "sgdlab compare, empty caches", min(times["empty"]), spread["empty"]),
            Row("main_job", "sgdlab compare, caches warm, new folder", min(times["warm"]), spread["warm"]),
            Row("main_job", "sgdlab compare, every run reused", min(times["reused"]), spread["reused"])]
    return rows, [Target("main_job", "sgdlab compare, empty caches (seconds)", min(times["empty"]), 10.0, False),
                  Target("main_job", "sgdlab compare, every run reused (seconds)", min(times["reused"]), 2.0, False)]


def case_ooc(size, repeats):
    """Least squares on a memory-mapped .npy file (a generic finite sum, streamed in blocks), shuffled
    B = 256, one epoch, against reading the file once. The file here is smaller than this machine's
    memory (the page cache holds it); a file larger than memory is left for a machine with the disk."""
    import jax.numpy as jnp

    n, p = size
    with tempfile.TemporaryDirectory(dir=os.environ.get("SGDLAB_BENCH_DIR")) as folder:
        path = Path(folder) / "X.npy"
        table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, p + 1))
        rng = np.random.default_rng(0)
        for start in range(0, n, 1_000_000):
            rows = rng.standard_normal((min(1_000_000, n - start), p + 1))
            table[start:start + len(rows)] = rows
        table.flush()
        del table
        data = np.load(path, mmap_mode="r")
        problem = sl.finite_sum(lambda theta, row: 0.5 * (jnp.dot(row[:-1], theta) - row[-1]) ** 2, data, np.zeros(p))
        ours = sgdlab_row("ooc", problem, sl.shuffled_cyclic(256), 1e-3, max(1, repeats // 5))
        read_once = best_time(lambda: sum(float(data[start:start + 1_000_000].sum()) for start in range(0, n,
                                                                                                        1_000_000)),
                              max(1, repeats // 5))
        note = f"file {path.stat().st_size / 2**30:.2f} GiB"
        rows = [ours, Row("ooc", "reading the file once (sum over blocks)", read_once, note)]
    return rows, [Target("ooc", "sgdlab / one read of the file (memory-mapped epoch)", ours.seconds / read_once, None,
                         False)]


def case_large(size, repeats):
    """Least squares on a memory-mapped .npy file larger than this machine's memory (``size`` = its
    multiple of the RAM, or rows for --quick), B = 256, one epoch each (a file this large comes from
    disk every time, so there are no repeats): shuffled chunks of 65,536 rows and cyclic against one
    read of the file; shuffled cyclic (uniform random rows) estimated from reading its first blocks."""
    import jax.numpy as jnp

    p = 100
    n = size if isinstance(size, int) else int(size * _memory_bytes() / (8 * (p + 1)))
    with tempfile.TemporaryDirectory(dir=os.environ.get("SGDLAB_BENCH_DIR")) as folder:
        path = Path(folder) / "Xy.npy"
        written = _timed(lambda: _write_regression_file(path, n, p))
        data = np.load(path, mmap_mode="r")
        read_once = _timed_from_disk(lambda: [float(data[i:i + 1_000_000].sum()) for i in range(0, n, 1_000_000)])
        problem = sl.finite_sum(lambda theta, row: 0.5 * (jnp.dot(row[:-1], theta) - row[-1]) ** 2, data, np.zeros(p))
        note = (f"file {path.stat().st_size / 2**30:.1f} GiB ({n:,} rows), RAM {_memory_bytes() / 2**30:.1f} GiB; "
                f"writing it took {written:.0f} s; page cache dropped before each timing: {_can_drop_caches()}")
        rows = [Row("large", "reading the file once (sum over blocks)", read_once, note)]
        rows += [Row("large", f"sgdlab, {sampler!r}", _streamed_epoch(problem, sampler), "one epoch, streamed")
                 for sampler in (sl.shuffled_chunks(256, chunk=65_536), sl.cyclic(256))]
        rows.append(_shuffled_estimate(problem))
    return rows, [Target("large", f"{row.system} / one read of the file", row.seconds / read_once, None, False)
                  for row in rows[1:]]


def _streamed_epoch(problem, sampler) -> float:
    """Seconds of one streamed epoch without history (its block program compiles in the first block)."""
    from sgdlab.engines import streamed

    schedule = compiled.program_schedule(sl.constant(1e-3))
    run = streamed.StreamedRun(problem, sampler, None)
    start = Carry(problem.params0, (), 0)
    return _timed_from_disk(lambda: jax_block(run.epoch(start, 0, 0, schedule, False)[0].params))


def _shuffled_estimate(problem, blocks: int = 4) -> Row:
    """A shuffled cyclic epoch's time estimated as (blocks an epoch) × (seconds to read one block's rows),
    the reads being nearly all of its time on a file larger than memory."""
    from sgdlab.engines import streamed

    sampler = sl.shuffled_cyclic(256)
    run = streamed.StreamedRun(problem, sampler, None)
    indices, mask = sampler.plan(problem.n, 0, 0)
    steps = streamed.BLOCK_ROWS // sampler.batch_size
    per_block = _timed_from_disk(lambda: [run.read_block(indices[j * steps:(j + 1) * steps],
                                                         mask[j * steps:(j + 1) * steps])
                                for j in range(blocks)]) / blocks
    return Row("large", f"sgdlab, {sampler!r}, estimated", per_block * -(-indices.shape[0] // steps),
               f"reading the rows of its first {blocks} blocks: {per_block:.2f} s a block")


def _timed_from_disk(work) -> float:
    """Seconds of ``work`` after asking the kernel to drop its page cache (as root; otherwise whatever of
    the file is cached stays so, and the note says which)."""
    os.sync()
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return _timed(work)


def _can_drop_caches() -> bool:
    return os.access("/proc/sys/vm/drop_caches", os.W_OK)


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _write_regression_file(path: Path, n: int, p: int, rows: int = 1_000_000) -> None:
    """An N × (p + 1) .npy file of rows (x, y), y = xᵀθ + noise, written a block of rows at a time."""
    table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, p + 1))
    rng = np.random.default_rng(0)
    theta = rng.normal(size=p)
    for start in range(0, n, rows):
        block = rng.standard_normal((min(rows, n - start), p + 1))
        block[:, -1] = block[:, :-1] @ theta + 0.1 * block[:, -1]
        table[start:start + len(block)] = block
    table.flush()
    del table


SHARED_LIBSVM = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm"


def libsvm(name: str, rows: int | None):
    """A LIBSVM file from ../shared/data (the first ``rows`` rows), as CSR with int32 indices
    (scikit-learn's SGD estimators reject the int64 ones its loader returns)."""
    from sklearn.datasets import load_svmlight_file

    X, y = load_svmlight_file(str(SHARED_LIBSVM / name))
    X, y = (X, y) if rows is None else (X[:rows], y[:rows])
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X, y


def sklearn_sgd_classifier_epoch(X, labels, l2: float, alpha: float, repeats: int) -> float:
    """One shuffled B = 1 epoch of scikit-learn's SGDClassifier (log loss, ℓ2 weight l2, constant step)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", penalty="l2", alpha=l2, fit_intercept=False, learning_rate="constant",
                          eta0=alpha, max_iter=1, tol=None, shuffle=True, random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, labels)

    return best_time(fit, repeats)


def case_w8a(rows, repeats):
    """Logistic regression on sparse w8a (ℓ2 weight L/√N), B = 1, shuffled, one epoch: sgdlab against
    scikit-learn's sparse SGDClassifier."""
    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y)
    l2 = problem.lipschitz() / np.sqrt(problem.n)
    problem = sl.logistic_regression(X, y, l2=l2)
    alpha = 0.5 / problem.lipschitz_max()
    ours = sgdlab_row("w8a", problem, sl.shuffled_cyclic(1), alpha, repeats)
    theirs = Row("w8a", "scikit-learn SGDClassifier (CSR)", sklearn_sgd_classifier_epoch(X, y, l2, alpha, repeats))
    return [ours, theirs], [Target("w8a", "scikit-learn / sgdlab (w8a logistic B=1 epoch)",
                                   theirs.seconds / ours.seconds, 1.5, True)]


def case_gd_sparse(rows, repeats):
    """Logistic regression on sparse w8a, one gradient-descent step an epoch: sgdlab's thinned epoch against a
    SciPy loop, θ ← θ − α Xᵀ(−y σ(−y Xθ))/N with Xᵀ kept as CSR."""
    import scipy.special

    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y)
    signs, n, transposed = np.where(y > 0, 1.0, -1.0), X.shape[0], X.T.tocsr()
    theta = np.zeros(X.shape[1])

    def scipy_step():
        nonlocal theta
        theta = theta - (transposed @ (-signs * scipy.special.expit(-signs * (X @ theta)))) / n

    ours = sgdlab_row("gd_sparse", problem, sl.full_batch(), 1.0, repeats)
    theirs = Row("gd_sparse", "SciPy loop (CSR X and Xᵀ)", best_time(scipy_step, repeats))
    return [ours, theirs], [Target("gd_sparse", "sgdlab / SciPy (w8a gradient-descent epoch)",
                                   ours.seconds / theirs.seconds, 1.2, False)]


def case_news20(rows, repeats):
    """Softmax regression on sparse news20 (20 classes), B = 1, shuffled, one epoch, beside
    scikit-learn's SGDClassifier, which trains 20 one-vs-rest binary models instead (no target)."""
    X, y = libsvm("news20.bz2", rows)
    problem = sl.softmax_regression(X, y, l2=1e-4)
    alpha = 0.5 / problem.lipschitz_max()
    ours = sgdlab_row("news20", problem, sl.shuffled_cyclic(1), alpha, max(1, repeats // 2))
    theirs = Row("news20", "scikit-learn SGDClassifier (CSR, one-vs-rest: 20 binary models)",
                 sklearn_sgd_classifier_epoch(X, y, 1e-4, alpha, max(1, repeats // 2)))
    return [ours, theirs], [Target("news20", "scikit-learn (one-vs-rest) / sgdlab (softmax B=1 epoch)",
                                   theirs.seconds / ours.seconds, None, True)]


def case_saga(rows, repeats):
    """SAGA on w8a logistic regression (ℓ2 weight 1/N), B = 1 with replacement, α = 1/(3 L_max): an epoch
    against plain SGD's on the same data and against copt's minimize_saga (the bench extra), and the seconds
    to F − p* ≤ 1e-8 (copt's: its epoch times the epochs sgdlab's run needed, the same algorithm)."""
    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y, l2=1.0 / X.shape[0])
    alpha, sampler = 1.0 / (3.0 * problem.lipschitz_max()), sl.with_replacement(1)
    plain = sgdlab_row("saga", problem, sampler, alpha, repeats)
    saga = sgdlab_row("saga", problem, sampler, alpha, repeats, method=sl.saga())
    rows_out, targets = [plain, saga], [Target("saga", "SAGA / plain SGD epoch (w8a, B=1)",
                                               saga.seconds / plain.seconds, 1.5, False)]
    epochs, seconds = _seconds_to_gap(problem, sampler, alpha, 1e-8)
    rows_out.append(Row("saga", "sgdlab SAGA: seconds to F − p* ≤ 1e-8", seconds, f"{epochs} epochs"))
    copt_epoch = _copt_saga_epoch(X, y, alpha, 1.0 / X.shape[0], repeats)
    if copt_epoch is not None:
        rows_out += [Row("saga", "copt minimize_saga (one epoch)", copt_epoch, "numba, sparse, lazy updates"),
                     Row("saga", "copt minimize_saga: seconds to F − p* ≤ 1e-8", copt_epoch * epochs,
                         f"its epoch × {epochs} epochs")]
        targets.append(Target("saga", "copt / sgdlab (SAGA epoch, w8a)", copt_epoch / saga.seconds, 1.0, True))
    lightning_epoch = _lightning_epoch("SAGAClassifier", X, y, alpha, 1.0 / X.shape[0], repeats)
    if lightning_epoch is not None:
        rows_out.append(Row("saga", "lightning SAGAClassifier (one epoch)", lightning_epoch, "Cython, sparse, lazy"))
        targets.append(Target("saga", "lightning / sgdlab (SAGA epoch, w8a)", lightning_epoch / saga.seconds, 1.0,
                              True))
    return rows_out, targets


def case_svrg(rows, repeats):
    """SVRG (a snapshot every epoch) and loopless SVRG on w8a logistic regression (ℓ2 weight 1/N), B = 1 with
    replacement, α = 1/(3 L_max): an epoch against sgdlab's SAGA and against lightning's SVRGClassifier (a full
    gradient, then N steps: the same epoch), and the seconds to F − p* ≤ 1e-8."""
    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y, l2=1.0 / X.shape[0])
    alpha, sampler = 1.0 / (3.0 * problem.lipschitz_max()), sl.with_replacement(1)
    saga = sgdlab_row("svrg", problem, sampler, alpha, repeats, method=sl.saga())
    svrg = sgdlab_row("svrg", problem, sampler, alpha, repeats, method=sl.svrg())
    loopless = sgdlab_row("svrg", problem, sampler, alpha, repeats, method=sl.loopless_svrg())
    rows_out = [saga, svrg, loopless]
    targets = [Target("svrg", "SVRG / SAGA epoch (w8a, B=1)", svrg.seconds / saga.seconds, 2.0, False),
               Target("svrg", "loopless SVRG / SAGA epoch (w8a, B=1)", loopless.seconds / saga.seconds, 2.0, False)]
    epochs, seconds = _seconds_to_gap(problem, sampler, alpha, 1e-8, sl.svrg())
    rows_out.append(Row("svrg", "sgdlab SVRG: seconds to F − p* ≤ 1e-8", seconds, f"{epochs} epochs"))
    lightning_epoch = _lightning_epoch("SVRGClassifier", X, y, alpha, 1.0 / X.shape[0], repeats)
    if lightning_epoch is not None:
        rows_out += [Row("svrg", "lightning SVRGClassifier (one epoch)", lightning_epoch, "Cython, sparse, lazy"),
                     Row("svrg", "lightning SVRGClassifier: seconds to F − p* ≤ 1e-8", lightning_epoch * epochs,
                         f"its epoch × {epochs} epochs")]
        targets.append(Target("svrg", "lightning / sgdlab (SVRG epoch, w8a)", lightning_epoch / svrg.seconds, 1.5,
                              True))
    return rows_out, targets


def case_tiny_epochs(size, repeats):
    """Many epochs of a tiny problem, as theory experiments run them: least squares N × p, B = 1 shuffled, 5,000
    epochs (``size`` = (N, p, epochs)), a history row every tenth of them (sgdlab through ``minimize``) against a
    hand-written jitted JAX scan over all epochs (F recorded at the same epochs) and a plain NumPy loop, each with
    its own seed."""
    import jax
    import jax.numpy as jnp

    n, p, epochs = size
    every = epochs // 10
    X, y, problem = least_squares_problem((n, p))
    alpha = 0.1 / problem.lipschitz_max()

    def ours():
        sl.minimize(problem, sl.shuffled_cyclic(1), alpha, epochs=epochs, record_every=every)

    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    @jax.jit
    def scan(theta, key):
        def epoch(theta, key):
            def step(theta, i):
                return theta - alpha * (Xj[i] @ theta - yj[i]) * Xj[i], None
            theta, _ = jax.lax.scan(step, theta, jax.random.permutation(key, n))
            return theta, None

        def block(theta, key):   # `every` epochs, then F
            theta, _ = jax.lax.scan(epoch, theta, jax.random.split(key, every))
            return theta, 0.5 * jnp.mean((Xj @ theta - yj) ** 2)
        return jax.lax.scan(block, theta, jax.random.split(key, epochs // every))

    def hand_scan():
        jax_block(scan(jnp.zeros(p), jax.random.key(0)))

    def numpy_loop():
        theta, rng = np.zeros(p), np.random.default_rng(0)
        for epoch in range(epochs):
            for i in rng.permutation(n):
                theta -= alpha * (X[i] @ theta - y[i]) * X[i]
            if (epoch + 1) % every == 0:
                float(0.5 * np.mean((X @ theta - y) ** 2))

    rows = [Row("tiny_epochs", f"sgdlab ({epochs} epochs, a row every {every})", best_time(ours, repeats)),
            Row("tiny_epochs", "hand-written jitted JAX scan over all epochs", best_time(hand_scan, repeats)),
            Row("tiny_epochs", "NumPy loop", best_time(numpy_loop, 1))]
    return rows, [Target("tiny_epochs", "hand JAX scan / sgdlab", rows[1].seconds / rows[0].seconds, 1.0, True),
                  Target("tiny_epochs", "NumPy loop / sgdlab", rows[2].seconds / rows[0].seconds, 10.0, True)]


def _lightning_epoch(name: str, X, y, alpha: float, l2: float, repeats: int) -> float | None:
    """One epoch of scikit-learn-contrib lightning's SAGAClassifier or SVRGClassifier ``name`` (log loss, ℓ2 weight
    ``l2``, step ``alpha``), by (T(11 epochs) − T(1))/10; None without lightning (its sdist builds only with numpy
    and Cython installed first and ``pip install --no-build-isolation sklearn-contrib-lightning``)."""
    try:
        from lightning import classification
    except ImportError:
        return None
    options = {"SAGAClassifier": dict(beta=0.0), "SVRGClassifier": dict(n_inner=1.0)}[name]

    def run(epochs: int) -> float:
        model = getattr(classification, name)(eta=alpha, alpha=l2, loss="log", max_iter=epochs, tol=0, random_state=0,
                                              **options)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        return time.perf_counter() - started

    return min((run(11) - run(1)) / 10 for _ in range(max(1, repeats // 2)))


def _seconds_to_gap(problem, sampler, alpha, gap: float, method=None, limit: int = 1000) -> tuple[int, float]:
    """(epochs, seconds, compilation excluded) of the first history row with F − p* ≤ ``gap`` (every 5 epochs) of
    the ``method``'s run (SAGA by default)."""
    result = sl.minimize(problem, sampler, alpha, epochs=limit, record_every=5, method=method or sl.saga())
    reached = result.history[result.history.gap <= gap]
    if reached.empty:
        return limit, float("inf")
    return int(reached.epoch.iloc[0]), float(reached.time.iloc[0])


def _copt_saga_epoch(X, y, alpha: float, l2: float, repeats: int) -> float | None:
    """One epoch of copt's minimize_saga (logistic loss, ℓ2 weight ``l2``), by (T(11 epochs) − T(1))/10 (each
    call compiles its loop again, a cost that varies by a second); None without copt."""
    try:
        import copt
    except ImportError:
        return None
    labels = (y > 0).astype(float)
    loss = copt.loss.LogLoss(X, labels)

    def run(epochs: int) -> float:
        started = time.perf_counter()
        copt.minimize_saga(loss.partial_deriv, X, labels, np.zeros(X.shape[1]), step_size=alpha, alpha=l2,
                           max_iter=epochs, tol=0, verbose=0)
        return time.perf_counter() - started

    run(1)   # compiles what it caches
    return min((run(11) - run(1)) / 10 for _ in range(max(1, repeats // 2)))


def case_methods(size, repeats):
    """Least squares 200,000 × 100: averaged SGD at B = 1 and heavy ball at B = 64 against plain SGD's epoch."""
    problem = least_squares_problem(size)[2]
    alpha = 0.25 / problem.lipschitz_max()
    rows, targets = [], []
    cases = [(1, {"average": sl.polyak_average()}, 1.3, "averaged / plain SGD epoch (B=1)"),
             (64, {"method": sl.heavy_ball(0.9)}, 1.2, "heavy ball / plain SGD epoch (B=64)")]
    for batch, keywords, goal, claim in cases:
        plain = sgdlab_row("methods", problem, sl.shuffled_cyclic(batch), alpha, repeats)
        method = sgdlab_row("methods", problem, sl.shuffled_cyclic(batch), alpha * (0.1 if batch == 64 else 1.0),
                            repeats, **keywords)
        rows += [plain, method]
        targets.append(Target("methods", claim, method.seconds / plain.seconds, goal, False))
    return rows, targets


def case_heldout(rows, repeats):
    """Held-out scores beside the training metrics, over 10 epochs each recording a row: the training rows' F and
    ‖∇F‖ against the test set's loss and accuracy too (20% held out), on digits (a ReLU network, B = 32) and w8a
    (logistic, B = 1); and four rows an epoch (record_every = 0.25) against no rows plus four evaluations."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    Xw, yw = libsvm("w8a", rows)
    cases = [("digits MLP 64-64-10, B=32", sl.mlp(X / 16, y, hidden=(64,), seed=0), sl.shuffled_cyclic(32), 0.1),
             ("w8a logistic, B=1", sl.logistic_regression(Xw, yw, l2=1e-4), sl.shuffled_cyclic(1), 0.5)]
    table, targets = [], []
    for name, whole, sampler, step in cases:
        (X_train, y_train), (X_test, y_test) = sl.data.split(whole.X, _labels(whole), seed=0)
        train = whole.with_data(X_train, y_train)
        heldout = {"test": train.with_data(X_test, y_test)}
        thinned, plain = (timed_epochs(train, sampler, step, repeats, 10, record) for record in (False, True))
        scored = timed_epochs(train, sampler, step, repeats, 10, heldout=heldout)
        quarters = timed_epochs(train, sampler, step, repeats, 10, record_every=0.25)
        evaluation = (plain - thinned) / 10
        table += [Row("heldout", f"sgdlab, {name}: 10 epochs, train rows recorded", plain,
                      f"no rows {thinned:.4g} s; one evaluation {evaluation:.3g} s"),
                  Row("heldout", f"sgdlab, {name}: 10 epochs, train and test recorded", scored),
                  Row("heldout", f"sgdlab, {name}: 10 epochs, 4 rows each", quarters,
                      f"no rows + 40 evaluations = {thinned + 40 * evaluation:.4g} s")]
        targets += [Target("heldout", f"train+test / train rows recorded ({name})", scored / plain, 1.3, False),
                    Target("heldout", f"4 rows an epoch / (no rows + 4 evaluations) ({name})",
                           quarters / (thinned + 40 * evaluation), 1.0, False)]
    return table, targets


def _labels(problem):
    """A built-in classifier's labels as given (the ±1 of logistic regression, a network's class indices)."""
    return np.asarray(problem.targets).reshape(-1) if hasattr(problem, "targets") else np.asarray(problem.y)


def public_epoch(problem, sampler, step: float, extra: int = 10, **keywords):
    """A measurement of the seconds an epoch costs through ``sl.minimize`` with the history at the start and the end
    only: (T(1 + extra epochs) − T(1 epoch)) / extra, so validation, compilation and the two history rows cancel."""
    def run(epochs: int) -> float:
        started = time.perf_counter()
        sl.minimize(problem, sampler, step, epochs=epochs, record_every=epochs, **keywords)
        return time.perf_counter() - started

    run(1 + extra)   # compiles, computes L and θ* once
    return lambda: peers.per_epoch(run, extra)



def fastest(run, calls: int = 3):
    """A measurement: the fastest of ``calls`` timed calls of ``run()``."""
    def measure() -> float:
        return min(_timed(run) for _ in range(calls))

    run()
    return measure


def paired_ratios(ours, theirs, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """(their seconds / ours, ours, theirs) from ``repeats`` rounds, each measuring both side by side, so a round's
    ratio sees the same load on this shared machine."""
    mine, others = [], []
    for _ in range(repeats):
        mine.append(ours())
        others.append(theirs())
    return [other / own for own, other in zip(mine, others, strict=True)], mine, others


def epoch_indices(n: int, batch: int, seed: int = 0) -> np.ndarray:
    """A shuffled epoch's indices, S × B (N a multiple of B here), drawn outside any timing."""
    return np.random.default_rng(seed).permutation(n).reshape(-1, batch)


#: The network's peers (benchmarks/peers.py) and the ratio to sgdlab each should reach.
NETWORK_PEERS = {"hand-written JAX lax.scan (given indices)": ("jax_network_scan", 2.0),
                 "torch.compile of a functional step": ("torch_compiled_network", 8.0)}


def case_peers_mlp(size, repeats, systems=tuple(NETWORK_PEERS)):
    """A ReLU network 64-128-10, B = 32, shuffled, float32 and float64: an epoch through ``minimize`` against a
    hand-written jitted JAX scan given the epoch's indices and ``torch.compile`` of a functional step."""
    n, p = size
    rng = np.random.default_rng(0)
    labels, indices = rng.integers(0, 10, size=n), epoch_indices(n, 32)
    rows, targets = [], []
    for dtype in (np.float32, np.float64):
        X, kind = rng.normal(size=(n, p)).astype(dtype), np.dtype(dtype).name
        ours = public_epoch(sl.mlp(X, labels, hidden=(128,), seed=0), sl.shuffled_cyclic(32), 0.05)
        for system in systems:
            builder, goal = NETWORK_PEERS[system]
            epoch = getattr(peers, builder)(X, labels, 128, 0.05)
            ratios, mine, theirs = paired_ratios(ours, fastest(lambda epoch=epoch: epoch(indices)), repeats)
            rows.append(Row("peers_mlp", f"{system}, {kind}", float(np.median(theirs)),
                            f"median of {repeats}; sgdlab through minimize: {np.median(mine):.4g} s"))
            targets.append(Target.median("peers_mlp", f"{system} / sgdlab (MLP epoch, {kind})", ratios, goal, True))
    return rows, targets


def case_peers_mlp_jax(size, repeats):
    """case_peers_mlp against the JAX scan alone (what the pinned child of case_peers_mlp_one_core runs)."""
    return case_peers_mlp(size, repeats, systems=tuple(NETWORK_PEERS)[:1])


def case_peers_mlp_one_core(size, repeats):
    """case_peers_mlp_jax in a child process pinned to the first core, as ``taskset -c 0`` would (target ≥ 1.2)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "pinned.json"
        quick = ["--quick"] if size == SIZES["peers_mlp"][1] else []
        subprocess.run([sys.executable, __file__, "--cases", "peers_mlp_jax", "--repeats", str(repeats), "--json",
                        str(out), *quick], check=True, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
        found = json.loads(out.read_text(encoding="utf-8"))
    case = "peers_mlp_one_core"
    rows = [Row(**(row | {"case": case, "note": f"{row['note']}; one core"})) for row in found["rows"]]
    targets = [Target(**(target | {"case": case, "goal": 1.2, "spread": tuple(target["spread"])}))
               for target in found["targets"]]
    return rows, targets


def case_peers_least_squares(size, repeats):
    """Least squares 200,000 × 100 through ``minimize`` (history at the start and the end): B = 1 against the
    hand-written JAX scan given the indices, B = 64 against one pass over X (and the scan)."""
    n, _ = size
    X, y, problem = least_squares_problem(size)
    alpha = 0.1 / problem.lipschitz_max()
    rows, targets = [], []
    for batch in (1, 64):
        ours = public_epoch(problem, sl.shuffled_cyclic(batch), alpha, extra=5)
        scan = peers.jax_least_squares_scan(X, y, alpha)
        indices = epoch_indices(n, batch)
        ratios, mine, theirs = paired_ratios(ours, fastest(lambda scan=scan, indices=indices: scan(indices)), repeats)
        rows.append(Row("peers_lsq", f"hand-written JAX lax.scan (given indices), B={batch}", float(np.median(theirs)),
                        f"median of {repeats}; sgdlab through minimize: {np.median(mine):.4g} s"))
        targets.append(Target.median("peers_lsq", f"JAX scan / sgdlab (B={batch} epoch)", ratios,
                                     4.0 if batch == 1 else None, True))
    floor_ratios, mine, floors = paired_ratios(ours, fastest(lambda: X.sum()), repeats)
    rows.append(Row("peers_lsq", "floor: one pass over X (X.sum())", float(np.median(floors))))
    targets.append(Target.median("peers_lsq", "sgdlab through minimize / one pass over X (B=64 epoch)",
                                 [1 / ratio for ratio in floor_ratios], 1.3, False))
    return rows, targets


def case_peers_w8a(rows, repeats):
    """Logistic regression on w8a (ℓ2 weight L/√N), B = 1, shuffled: an epoch through ``minimize`` against
    lightning's SGDClassifier and Vowpal Wabbit's --sgd from its cache file (the bench extra; skipped without)."""
    X, y = libsvm("w8a", rows)
    l2 = sl.logistic_regression(X, y).lipschitz() / np.sqrt(X.shape[0])
    problem = sl.logistic_regression(X, y, l2=l2)
    alpha = 0.5 / problem.lipschitz_max()
    ours = public_epoch(problem, sl.shuffled_cyclic(1), alpha)
    table, targets = [], []
    others = {"lightning SGDClassifier": (lambda: peers.lightning_epoch(X, y, l2, alpha, 1), 3.0),
              "Vowpal Wabbit --sgd (cache file)": (lambda: peers.vowpal_wabbit_epoch(X, y, alpha, 1), None)}
    for system, (theirs, goal) in others.items():
        if theirs() is None:
            table.append(Row("peers_w8a", system, float("nan"), "not installed (pip install -e '.[bench]')"))
            continue
        ratios, mine, seconds = paired_ratios(ours, theirs, repeats)
        table.append(Row("peers_w8a", system, float(np.median(seconds)),
                         f"median of {repeats}; sgdlab through minimize: {np.median(mine):.4g} s"))
        targets.append(Target.median("peers_w8a", f"{system} / sgdlab (w8a logistic B=1 epoch)", ratios, goal, True))
    return table, targets


def case_importance(rows, repeats):
    """Logistic regression on w8a (ℓ2 weight 1e-4), B = 1: an importance-sampling epoch (pᵢ ∝ Lᵢ, native: the
    weight folded into the step size, the plan drawn by an alias table) against a uniform one with replacement."""
    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y, l2=1e-4)
    uniform = dataclasses.replace(sgdlab_row("importance", problem, sl.with_replacement(1),
                                             0.5 / problem.lipschitz_max(), repeats),
                                  system="sgdlab, with_replacement(1)")
    weighted = dataclasses.replace(sgdlab_row("importance", problem, sl.importance(1),
                                              0.5 / float(np.mean(problem.lipschitz_each())), repeats),
                                   system="sgdlab, importance(1)")
    return [uniform, weighted], [Target("importance", "importance / uniform epoch (w8a logistic, B=1)",
                                        weighted.seconds / uniform.seconds, None, False)]


def case_grab(rows, repeats):
    """Logistic regression on w8a (ℓ2 weight 1e-4), B = 1: a GraB epoch (each step also balances the example's
    gradient: O(p) more a step) against random reshuffling's, on the engine "auto" picks (native for both) and on
    the JAX engine."""
    X, y = libsvm("w8a", rows)
    problem = sl.logistic_regression(X, y, l2=1e-4)
    alpha = 0.5 / problem.lipschitz_max()
    table, targets = [], []
    for engine_name in ("auto", "jax"):
        grab = sgdlab_row("grab", problem, sl.grab(1), alpha, repeats, engine_name=engine_name)
        shuffled = sgdlab_row("grab", problem, sl.shuffled_cyclic(1), alpha, repeats, engine_name=engine_name)
        table += [dataclasses.replace(row, system=f"{row.system}, {name}")
                  for row, name in ((grab, "grab(1)"), (shuffled, "shuffled_cyclic(1)"))]
        targets.append(Target("grab", f"GraB / RR epoch, engine={engine_name!r} (w8a logistic, B=1)",
                              grab.seconds / shuffled.seconds, 1.5 if engine_name == "auto" else None, False))
    return table, targets


def case_grab_batches(rows, repeats):
    """GraB against random reshuffling at B = 16 on CSR rows, native engine: w8a logistic (K = 1) and news20
    softmax (K = 20, p·K = 1.2 million weights), where herding's cost follows the rows' nonzeros, not p·K."""
    X, y = libsvm("w8a", rows)
    logistic = sl.logistic_regression(X, y > 0, l2=1e-4)
    X, y = libsvm("news20.bz2", rows)
    softmax = sl.softmax_regression(X, y, l2=1e-4)
    table, targets = [], []
    for name, problem in (("w8a logistic", logistic), ("news20 softmax", softmax)):
        alpha = 0.5 / problem.lipschitz_max()
        grab, shuffled = (sgdlab_row("grab_batches", problem, sampler, alpha, repeats)
                          for sampler in (sl.grab(16), sl.shuffled_cyclic(16)))
        table += [dataclasses.replace(row, system=f"{row.system}, {name}, {sampler}")
                  for row, sampler in ((grab, "grab(16)"), (shuffled, "shuffled_cyclic(16)"))]
        targets.append(Target("grab_batches", f"GraB / RR epoch ({name}, B=16)", grab.seconds / shuffled.seconds,
                              None, False))
    return table, targets


def case_grab_mlp(rows, repeats):
    """GraB on a ReLU network 64-128-10 (float64, ``rows`` examples): its epoch against random reshuffling's at B = 1
    and 32, each on the engine "auto" picks (#38 asks GraB on networks within 2× an RR epoch at B = 1)."""
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(rows, 64)), rng.integers(0, 10, size=rows)
    network = sl.mlp(X, labels, hidden=(128,), seed=0)
    table, targets = [], []
    for batch in (1, 32):
        grab, shuffled = (sgdlab_row("grab_mlp", network, sampler, 0.01, repeats)
                          for sampler in (sl.grab(batch), sl.shuffled_cyclic(batch)))
        table += [dataclasses.replace(row, system=f"{row.system}, {name}")
                  for row, name in ((grab, f"grab({batch})"), (shuffled, f"shuffled_cyclic({batch})"))]
        targets.append(Target("grab_mlp", f"GraB / RR epoch (network 64-128-10, B={batch})",
                              grab.seconds / shuffled.seconds, 2.0 if batch == 1 else None, False))
    return table, targets


def case_jax_mlp(size, repeats):
    """The network 64-128-10, B = 32, float32, one epoch on JAX's default device (what --device gpu times)."""
    n, p = size
    rng = np.random.default_rng(0)
    network = sl.mlp(rng.normal(size=(n, p)).astype(np.float32), rng.integers(0, 10, size=n), hidden=(128,), seed=0)
    return [sgdlab_row("jax_mlp", network, sl.shuffled_cyclic(32), 0.05, repeats, engine_name="jax")], []


def case_jax_least_squares(size, repeats):
    """Least squares 200,000 × 100, B = 64 and 1,024, one epoch each on JAX's default device."""
    problem = least_squares_problem(size)[2]
    alpha = 0.1 / problem.lipschitz_max()
    return [sgdlab_row("jax_lsq", problem, sl.shuffled_cyclic(batch), alpha, repeats, engine_name="jax")
            for batch in (64, 1024)], []


def case_jax_sweep(size, repeats):
    """case_sweep's 240 runs as one vmapped compare on JAX's default device (no scikit-learn beside)."""
    return case_sweep(size, repeats, engine="jax")


def case_jax_probe(size, repeats):
    """``sl.probe_batch_sizes`` on least squares: a step's seconds per B up to what fits in the device's memory."""
    probe = sl.probe_batch_sizes(least_squares_problem(size)[2])
    return [Row("jax_probe", f"one step, B={row.batch_size}", row.seconds_per_step,
                f"{row.samples_per_second:.3g} samples/s; {row.memory_bytes / 2**20:.1f} MiB"
                + ("; the knee" if row.knee else ""))
            for row in probe.itertuples() if row.fits], []


#: RESULTS.md keeps what follows this line (the hand-written analysis of missed targets) across runs.
ANALYSIS = "<!-- analysis: kept when the runner rewrites the table above -->"

CASES = {"b1": case_b1, "b64": case_b64, "gd": case_gd, "mlp": case_mlp, "sweep": case_sweep, "f32": case_f32,
         "startup": case_startup, "main_job": case_main_job, "w8a": case_w8a, "news20": case_news20, "ooc": case_ooc,
         "large": case_large,
         "saga": case_saga, "svrg": case_svrg, "tiny_epochs": case_tiny_epochs, "methods": case_methods,
         "heldout": case_heldout,
         "gd_sparse": case_gd_sparse, "peers_mlp": case_peers_mlp, "peers_mlp_one_core": case_peers_mlp_one_core,
         "peers_lsq": case_peers_least_squares, "peers_w8a": case_peers_w8a, "peers_mlp_jax": case_peers_mlp_jax,
         "jax_mlp": case_jax_mlp, "jax_lsq": case_jax_least_squares, "jax_sweep": case_jax_sweep,
         "jax_probe": case_jax_probe, "importance": case_importance, "grab": case_grab,
         "grab_batches": case_grab_batches, "grab_mlp": case_grab_mlp}
#: The JAX engine's cases that --device gpu runs on the GPU (absolute times, to RESULTS-gpu.md).
DEVICE_CASES = ["jax_mlp", "jax_lsq", "jax_sweep", "jax_probe"]
#: The cases a plain run runs; "large" (a file larger than memory: minutes, and disk space) only when named,
#: "peers_mlp_jax" is what the pinned child of "peers_mlp_one_core" runs.
DEFAULT_CASES = [case for case in CASES if case not in ("large", "peers_mlp_jax", *DEVICE_CASES)]
SIZES = {  # case -> (full size, --quick size)
    "b1": ((200_000, 100), (2_000, 20)), "b64": ((200_000, 100), (2_000, 20)), "gd": ((200_000, 100), (2_000, 20)),
    "mlp": ((60_000, 64), (1_000, 64)), "sweep": ((10_000, 50), (500, 10)), "f32": ((10_000_000, 100), (20_000, 20)),
    "startup": ((200_000, 100), (2_000, 20)), "main_job": (3, 1), "w8a": (None, 2_000), "news20": (None, 1_000),
    "ooc": ((5_000_000, 50), (20_000, 10)), "large": (1.15, 20_000), "saga": (None, 2_000),
    "svrg": (None, 2_000), "tiny_epochs": ((64, 4, 5_000), (64, 4, 200)),
    "methods": ((200_000, 100), (2_000, 20)), "heldout": (None, 2_000), "gd_sparse": (None, 2_000),
    "peers_mlp": ((60_000, 64), (1_024, 64)), "peers_mlp_one_core": ((60_000, 64), (1_024, 64)),
    "peers_mlp_jax": ((60_000, 64), (1_024, 64)), "peers_lsq": ((200_000, 100), (2_048, 20)),
    "peers_w8a": (None, 2_000), "jax_mlp": ((60_000, 64), (1_024, 64)), "jax_lsq": ((200_000, 100), (2_048, 20)),
    "jax_sweep": ((10_000, 50), (500, 10)), "jax_probe": ((200_000, 100), (2_048, 20)), "importance": (None, 2_000),
    "grab": (None, 2_000), "grab_batches": (None, 2_000), "grab_mlp": (20_000, 500),
}


#: The CPU features that decide how wide the compiled loops' vectors are (as /proc/cpuinfo names them).
VECTOR_FEATURES = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16")


def machine() -> str:
    import jax

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"sgdlab {sl.__version__}, JAX {jax.__version__} ({jax.devices()[0].platform}); {cpu()}")


def cpu() -> str:
    """The CPU as /proc/cpuinfo names it, the target LLVM (so Numba) compiles for, and its vector features."""
    import llvmlite.binding

    model, flags = platform.processor() or "unknown CPU", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    features = " ".join(feature for feature in VECTOR_FEATURES if feature in flags) or "unknown"
    return f"CPU {model}, LLVM target {llvmlite.binding.get_host_cpu_name()}, vector features: {features}"


def markdown(rows: list[Row], targets: list[Target], quick: bool) -> str:
    lines = [f"# Benchmarks{' (--quick: tiny sizes, not the targets)' if quick else ''}", "",
             f"Machine: {machine()}.",
             f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the fastest of repeated runs (peers_*: "
             "medians of side-by-side rounds, with their range).",
             "", "| case | system | seconds | note |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.case} | {r.system} | {r.seconds:.4g} | {r.note} |" for r in rows]
    lines += ["", "| case | ratio | measured | target | met |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {t.case} | {t.claim} | {t.measured} | {t.goal_text} | {t.met} |" for t in targets]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not the targets")
    parser.add_argument("--cases", default=None,
                        help="comma-separated, from " + ", ".join(CASES) + " (default: all but large, or with "
                             "--device gpu " + ", ".join(DEVICE_CASES) + ")")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: the JAX engine's cases on JAX's GPU, absolute times to RESULTS-gpu.md")
    parser.add_argument("--out", default=None, help="default: RESULTS.md, or RESULTS-gpu.md with --device gpu")
    parser.add_argument("--json", default=None, help="write the rows and ratios to this JSON file instead")
    args = parser.parse_args(argv)
    if args.device == "gpu" and not _gpus():
        print("JAX sees no GPU here (its devices: " + ", ".join(sorted(_platforms())) + "): --device gpu has "
              "nothing to run.")
        return 0
    cases = [c.strip() for c in (args.cases or ",".join(DEVICE_CASES if args.device == "gpu" else DEFAULT_CASES))
             .split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"--cases must be among {', '.join(CASES)}; got {', '.join(unknown)}")
    rows, targets = [], []
    for case in cases:
        size = SIZES[case][1 if args.quick else 0]
        print(f"running {case} at size {size} ...", flush=True)
        case_rows, case_targets = CASES[case](size, args.repeats)
        rows += case_rows
        targets += case_targets
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": [dataclasses.asdict(row) for row in rows],
                                               "targets": [dataclasses.asdict(target) for target in targets]}))
        return 0
    table = markdown(rows, targets, args.quick)
    print(table)
    out = Path(args.out or Path(__file__).with_name("RESULTS-gpu.md" if args.device == "gpu" else "RESULTS.md"))
    analysis = out.read_text(encoding="utf-8").partition(ANALYSIS)[2] if out.is_file() else ""
    out.write_text(table + (f"\n{ANALYSIS}{analysis}" if analysis else ""), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _platforms() -> set[str]:
    import jax

    return {device.platform for device in jax.devices()}


def _gpus() -> bool:
    """Whether JAX's devices include a GPU (CUDA or ROCm)."""
    return bool(_platforms() & {"gpu", "cuda", "rocm"})


if __name__ == "__main__":
    sys.exit(main())
