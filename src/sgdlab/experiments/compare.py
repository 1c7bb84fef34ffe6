"""compare: many runs of one problem side by side, over seeds, in few compiled programs.

``compare(problem, runs={name: dict(sampler=..., step=...)}, seeds=10, epochs=20)`` runs every
named setting with seeds 0..seeds−1. Runs that share a sampler and a kind of schedule (so differ
only in seed or step size) execute together: one program, the epoch ``jax.vmap``-ed over the
runs. Each run keeps its own bookkeeping, so its history equals ``minimize``'s for the same
arguments. The result is a :class:`Comparison` whose ``table`` is tidy: one row per
(run, seed, recorded epoch) with run, seed, epoch, iteration, loss, grad_norm, gap, dist, time
(the run's share of its program's wall time: the program's seconds divided by its runs), the
run's settings (sampler, batch_size, step, alpha0, alpha_L) and its status and message.

Steps may be numbers, schedules, or text relative to the problem's constants: "0.5/L", "1/L_B"
(the run's minibatch constant; L_N = L for gradient descent) or "1/L_max"; a dict
``{"schedule": "inverse_time", "alpha0": "1/L_B", "decay": 0.01}`` builds a schedule. The default
step is "1/L_B".

With ``out=DIR`` each finished run is saved as DIR/runs/<key>.parquet, the key a hash of the
problem's data and the run's settings and seed, and the whole table as DIR/table.parquet plus
DIR/experiment.json (settings, the problem's constants, versions, device), all written atomically
(to a temporary name, then renamed). Running the same comparison again reuses saved runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from sgdlab._helpers import validation

from sgdlab.engines import compiled as engine

from sgdlab.run import api as optimize

from sgdlab import schedules, theory
from sgdlab._helpers.files import atomic_write
from sgdlab.run.identity import function_digest, problem_fingerprint
from sgdlab import samplers as _samplers
from sgdlab.problems.base import FiniteSum

RUN_KEYS = ("sampler", "step", "optimizer")
DEFAULT_STEP = "1/L_B"
_STEP_TEXT = re.compile(r"^\s*(?P<c>\S+?)\s*/\s*(?P<constant>L_B|L_max|L)\s*$")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One named setting of a comparison: a sampler and a step schedule (with its α₀, None when an
    optimizer sets the step)."""

    name: str
    sampler: _samplers.Sampler
    schedule: schedules.Schedule | None
    step_text: str
    optimizer: object = None
    alpha0: float | None = None


def parse_step(step, problem: FiniteSum, sampler: _samplers.Sampler) -> tuple[schedules.Schedule, str]:
    """Read a step: a number, "c/L", "c/L_B", "c/L_max", a schedule or callable, or a dict naming a
    schedule whose α₀ may be such text. Returns the schedule and how the step was written."""
    if isinstance(step, dict):
        return _schedule_from_dict(step, problem, sampler)
    if isinstance(step, str):
        return _relative_step(step, problem, sampler), step.strip()
    schedule = schedules.as_schedule(step)
    return schedule, step if isinstance(step, str) else schedule.describe()


def _relative_step(text: str, problem: FiniteSum, sampler: _samplers.Sampler) -> schedules.Constant:
    """α = c / K for text "c/K", K one of L, L_B, L_max."""
    match = _STEP_TEXT.match(text)
    try:
        c = float(match["c"]) if match else None
    except ValueError:
        c = None
    if c is None:
        validation.fail("step", "a number, or text 'c/L', 'c/L_B' or 'c/L_max' with c a positive number",
                      validation.shown(text))
    return schedules.constant(validation.positive_float("step", c) / _constant(match["constant"], problem, sampler))


def _constant(name: str, problem: FiniteSum, sampler: _samplers.Sampler) -> float:
    """L, L_max or the run's L_B (B = N for gradient descent)."""
    if name == "L":
        return float(theory.lipschitz(problem))
    if name == "L_max":
        return theory.lipschitz_max(problem)
    batch = problem.n if sampler.is_full_batch else min(sampler.batch_size, problem.n)
    return theory.minibatch_lipschitz(problem, batch)


SCHEDULES = {"constant": schedules.constant, "inverse_time": schedules.inverse_time,
             "inverse_sqrt": schedules.inverse_sqrt, "step_decay": schedules.step_decay, "cosine": schedules.cosine}


def _schedule_from_dict(spec: dict, problem, sampler) -> tuple[schedules.Schedule, str]:
    spec = dict(spec)
    kind = spec.pop("schedule", None)
    if kind not in SCHEDULES:
        validation.fail("step", f"a dict with 'schedule' one of {', '.join(SCHEDULES)}", validation.shown(kind))
    first = "alpha" if kind == "constant" else "alpha0"
    if first in spec and not isinstance(spec[first], (int, float)):
        spec[first] = parse_step(spec[first], problem, sampler)[0].alpha
    try:
        schedule = SCHEDULES[kind](**spec)
    except TypeError as error:
        validation.fail("step", f"the arguments of {kind}", str(error).split("() ", 1)[-1])
    return schedule, schedule.describe()


def run_specs(problem: FiniteSum, runs: dict) -> list[RunSpec]:
    """Validate ``runs`` = {name: {"sampler": ..., "step": ...}}."""
    if not isinstance(runs, dict) or not runs:
        validation.fail("runs", "a non-empty dict {name: dict(sampler=..., step=...)}", validation.shown(runs),
                     error=TypeError)
    specs = []
    for name, settings in runs.items():
        if not isinstance(settings, dict):
            validation.fail(f"runs[{name!r}]", "a dict with keys sampler and step", validation.shown(settings),
                         error=TypeError)
        unknown = set(settings) - set(RUN_KEYS)
        if unknown:
            validation.fail(f"runs[{name!r}]", f"a dict with keys among {', '.join(RUN_KEYS)}",
                         f"unknown keys {sorted(unknown)}")
        sampler = optimize._sampler(settings.get("sampler"))
        sampler.validate(problem.n)
        optimizer = settings.get("optimizer")
        if optimizer is None:
            schedule, text = parse_step(settings.get("step", DEFAULT_STEP), problem, sampler)
        elif "step" in settings:
            validation.fail(f"runs[{name!r}]", "given a step or an optimizer, not both", "both")
        else:
            schedule, text = None, "optimizer"
        alpha0 = None if schedule is None else schedules.initial_alpha(schedule)
        specs.append(RunSpec(str(name), sampler, schedule, text, optimizer, alpha0))
    return specs


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(validation.integer("seeds", seeds)))
    try:
        values = [validation.integer("seeds", s, low=0, high=2**31 - 1) for s in seeds]
    except TypeError:
        validation.fail("seeds", "a number of seeds >= 1 or a list of seeds", validation.shown(seeds), error=TypeError)
    if not values or len(set(values)) != len(values):
        validation.fail("seeds", "a non-empty list of distinct seeds", validation.shown(seeds))
    return values


@dataclasses.dataclass
class Comparison:
    """The outcome of :func:`compare`: the tidy ``table``, the ``problem`` constants
    (:func:`describe_problem`), and per run its settings and step check (``runs``)."""

    table: pd.DataFrame
    problem: dict
    runs: dict
    #: How many (run, seed) pairs were read back from ``out`` instead of computed.
    reused: int = 0

    def summary(self, metric: str | None = None, target: float | None = None) -> pd.DataFrame:
        """Per run, across seeds: the final value of ``metric`` and the epochs and time to ``target``;
        see :func:`summarize`."""
        return summarize(self.table, metric, target)

    def plot(self, metric: str = "gap", x: str = "epoch"):
        """A matplotlib Figure of ``metric`` against ``x`` (epoch, iteration or time): log scale,
        the median across seeds as a line and the quartiles as a band."""
        from sgdlab.experiments.plots import convergence_figure

        return convergence_figure(self.table, metric, x)


def compare(problem: FiniteSum, runs: dict, seeds=10, epochs: int = 20, out=None, record_every: int = 1,
            tol: float | None = None, title: str | None = None, on_epoch=None, engine: str = "auto") -> Comparison:
    """Run every setting in ``runs`` with every seed; see the module docstring.

    ``engine`` is that of :func:`sgdlab.minimize` ("auto", "jax" or "native"), chosen per group of
    runs sharing a sampler; the native loop runs a group's lanes one after the other.

    ``title`` names the comparison in its saved settings (the report's heading);
    ``on_epoch(label, epoch, epochs)``, if given, is called after every epoch of every program.
    """
    if not isinstance(problem, FiniteSum):
        validation.fail("problem", "a finite-sum problem such as sl.least_squares(X, y) (compare runs over epochs)",
                     validation.shown(problem), error=TypeError)
    specs = run_specs(problem, runs)
    seed_list = _seeds(seeds)
    store = ResultStore(out) if out is not None else None
    fingerprint = problem_fingerprint(problem)
    histories, computed = {}, 0
    for group in _groups(specs):
        lanes = [(spec, seed) for spec in group for seed in seed_list]
        keys = {(spec.name, seed): run_key(fingerprint, spec, seed, epochs, record_every, tol) for spec, seed in lanes}
        todo = [(spec, seed) for spec, seed in lanes if store is None or not store.has(keys[spec.name, seed])]
        fresh = _run_lanes(problem, todo, epochs, record_every, tol, on_epoch, engine) if todo else []
        for (spec, seed), columns in zip(todo, fresh, strict=True):
            if store is not None:
                store.save(keys[spec.name, seed], pd.DataFrame(columns))
            histories[spec.name, seed] = columns
        for spec, seed in lanes:
            if (spec.name, seed) not in histories:
                histories[spec.name, seed] = store.load(keys[spec.name, seed], spec.name)
        computed += len(todo)
    table = _stacked([histories[spec.name, seed] for spec in specs for seed in seed_list])
    reused = len(histories) - computed
    comparison = Comparison(table, describe_problem(problem), _runs_info(problem, specs), reused)
    if store is not None:
        store.finish(comparison, dict(seeds=seed_list, epochs=epochs, record_every=record_every, tol=tol, title=title))
    return comparison


def _stacked(histories: list[dict]) -> pd.DataFrame:
    """The runs' histories (column name → array) one under the other, as one table built column by
    column: one DataFrame for the comparison, not one a run (pd.concat of hundreds of small tables
    spends most of its time planning the concatenation)."""
    return pd.DataFrame({name: np.concatenate([history[name] for history in histories]) for name in histories[0]})


def _groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """Runs that can share one program: same sampler, same kind of schedule."""
    groups: dict = {}
    for spec in specs:
        groups.setdefault((spec.sampler, jax.tree.structure(spec.schedule), spec.optimizer), []).append(spec)
    return list(groups.values())


def _run_lanes(problem, lanes, epochs, record_every, tol, on_epoch, engine_name) -> list[dict]:
    """Run the lanes (spec, seed) of one group as one vmapped program (or natively, lane after lane);
    one history (column name → array, see _run_columns) per lane."""
    sampler = lanes[0][0].sampler
    validated = {}   # one check per setting (its schedule over every iteration), then one copy per seed
    for spec, _ in lanes:
        if spec.name not in validated:
            validated[spec.name] = optimize.validated(problem, optimize.MINIMIZE, sampler=sampler, step=spec.schedule,
                                                      epochs=epochs, tol=tol, record_every=record_every,
                                                      optimizer=spec.optimizer, engine=engine_name)
    settings = [dataclasses.replace(validated[spec.name], seed=validation.integer("seed", seed, low=0, high=2**31 - 1))
                for spec, seed in lanes]
    count = len(lanes)
    schedule = engine.stacked_schedules([s.schedule for s in settings])
    params = engine.stacked_params(settings[0].params0, count)
    optimizer = lanes[0][0].optimizer
    opt_state = engine.initial_state(optimizer, params, count)
    program = optimize.program_for(settings[0], engine.compiled_run(
        problem, sampler, params, schedule, optimize.solution_of(problem), lanes=count, optimizer=optimizer))
    for record in optimize.record_variants(settings[0]):
        program.prepare(record)
    start = program.evaluate(settings[0].params0)   # every lane starts from the same θ⁰
    logs = [optimize.RunLog(s, start) for s in settings]
    seeds = np.array([s.seed for s in settings])
    iterations, elapsed, epoch = 0, 0.0, 0
    label = repr(sampler)
    while epoch < epochs and not all(log.done for log in logs):
        epoch += 1
        tic = time.perf_counter()
        params, opt_state, iterations, metrics = program.epoch(params, opt_state, iterations, seeds, epoch - 1,
                                                               schedule, logs[0].measured(epoch))
        elapsed += time.perf_counter() - tic
        for i, log in enumerate(logs):
            if not log.done:
                log.observe(epoch, iterations, metrics.lane(i), elapsed / count)
        if on_epoch is not None:
            on_epoch(label, epoch, epochs)
    L = problem.lipschitz()
    return [_run_columns(spec, seed, log, L) for (spec, seed), log in zip(lanes, logs, strict=True)]


def _run_columns(spec: RunSpec, seed: int, log: optimize.RunLog, L: float | None) -> dict:
    """One run's history with its name, seed, settings (α₀·L where L is known), status and message,
    as columns (name → array of one entry an epoch recorded)."""
    history = log.columns()
    status, message, _, _ = log.outcome(history)
    alpha0 = np.nan if spec.alpha0 is None else spec.alpha0
    constants = {"sampler": spec.sampler.name, "batch_size": getattr(spec.sampler, "batch_size", np.nan),
                 "step": spec.step_text, "alpha0": alpha0, "alpha_L": np.nan if L is None else alpha0 * L,
                 "status": status, "message": message}
    rows = len(history["loss"])
    return {"run": _repeated(spec.name, rows), "seed": np.full(rows, seed), **history,
            **{name: _repeated(value, rows) for name, value in constants.items()}}


def _repeated(value, rows: int) -> np.ndarray:
    """A column holding ``value`` ``rows`` times (text as Python objects: cheap to build, then converted once)."""
    return np.full(rows, value, dtype=object if isinstance(value, str) else None)


def _runs_info(problem: FiniteSum, specs: list[RunSpec]) -> dict:
    """Per run: its settings and the step check α₀·L against 2."""
    L = problem.lipschitz()
    info = {}
    for spec in specs:
        alpha0 = spec.alpha0
        check = theory.check_step(problem, alpha0) if L is not None and alpha0 is not None else None
        info[spec.name] = {"sampler": repr(spec.sampler), "step": spec.step_text, "alpha0": alpha0,
                           "alpha_L": None if check is None else check.ratio,
                           "step_check": check.verdict if check else ("set by the optimizer" if alpha0 is None
                                                                      else "L unknown")}
    return info


def describe_problem(problem: FiniteSum) -> dict:
    """What the report shows of a problem: its kind, N, the number of parameters, L, μ and κ where
    known, and p*."""
    L = problem.lipschitz()
    mu = problem.strong_convexity() if hasattr(problem, "strong_convexity") else None
    optimum = problem.optimal_value()
    return {"kind": type(problem).__name__, "n": problem.n,
            "parameters": int(sum(np.size(leaf) for leaf in jax.tree.leaves(problem.params0))),
            "L": L, "mu": mu, "kappa": (L / mu) if (L is not None and mu) else None,
            "p_star": None if optimum is None else float(optimum),
            "constraint": None if problem.constraint is None else repr(problem.constraint)}


def summarize(table: pd.DataFrame, metric: str | None = None, target: float | None = None) -> pd.DataFrame:
    """Per run, across seeds: the median and quartiles of the final ``metric``, of the epochs and of
    the time to reach ``target``, how many seeds reached it, their statuses, and α₀·L.

    ``metric`` defaults to gap when p* is known, else grad_norm; ``target`` defaults to 10⁻³ times
    the metric at the start (all runs start at the same θ⁰). A seed that never reaches the target
    counts as +inf, so a median is finite only when at least half the seeds got there.
    """
    metric = metric or ("gap" if table["gap"].notna().any() else "grad_norm")
    if metric not in table.columns:
        validation.fail("metric", "a column of the table such as gap, grad_norm, dist or loss", validation.shown(metric))
    if target is None:
        target = 1e-3 * float(table.loc[table.epoch == 0, metric].median())
    rows = []
    for name, run in table.groupby("run", sort=False):
        per_seed = [_seed_summary(history, metric, target) for _, history in run.groupby("seed")]
        final, epochs_to, time_to = (np.array([s[i] for s in per_seed]) for i in range(3))
        first = run.iloc[0]
        rows.append({"run": name, "sampler": first.sampler, "batch_size": first.batch_size, "step": first.step,
                     "alpha0": first.alpha0, "α·L": first.alpha_L, "α·L < 2": bool(first.alpha_L < 2)
                     if np.isfinite(first.alpha_L) else None, "seeds": len(per_seed),
                     "status": ", ".join(f"{n} {s}" for s, n in run.groupby("seed").status.first().value_counts().items()),
                     f"final {metric}": quantile(final, 0.5), f"final {metric} q25": quantile(final, 0.25),
                     f"final {metric} q75": quantile(final, 0.75),
                     "reached": f"{int(np.isfinite(epochs_to).sum())}/{len(per_seed)}",
                     "epochs to target": quantile(epochs_to, 0.5), "epochs q25": quantile(epochs_to, 0.25),
                     "epochs q75": quantile(epochs_to, 0.75), "seconds to target": quantile(time_to, 0.5)})
    summary = pd.DataFrame(rows)
    summary.attrs.update(metric=metric, target=target)
    return summary


def quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile with linear interpolation (NumPy's default), where +inf (never reached) is a
    value like any other: between a finite value and +inf the answer is +inf."""
    ordered = np.sort(np.asarray(values, dtype=float))
    position = q * (len(ordered) - 1)
    low, high = ordered[int(np.floor(position))], ordered[int(np.ceil(position))]
    if not np.isfinite(high) or low == high:
        return float(high)
    return float(low + (position - np.floor(position)) * (high - low))


def _seed_summary(history: pd.DataFrame, metric: str, target: float) -> tuple[float, float, float]:
    reached = history[history[metric] <= target]
    if reached.empty:
        return float(history[metric].iloc[-1]), np.inf, np.inf
    return float(history[metric].iloc[-1]), float(reached.epoch.iloc[0]), float(reached.time.iloc[0])


def run_key(fingerprint: str, spec: RunSpec, seed: int, epochs: int, record_every: int, tol) -> str:
    """A hash of everything that determines a run's history (its name excluded)."""
    leaves = [float(np.asarray(leaf)) for leaf in jax.tree.leaves(spec.schedule)]
    settings = {"problem": fingerprint, "sampler": repr(spec.sampler), "schedule": type(spec.schedule).__name__,
                "optimizer": None if spec.optimizer is None else function_digest(spec.optimizer.update),
                "schedule_values": leaves, "schedule_static": repr(jax.tree.structure(spec.schedule)),
                "seed": seed, "epochs": epochs, "record_every": record_every, "tol": tol}
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=16).hexdigest()


class ResultStore:
    """A folder of saved runs (runs/<key>.parquet) and the comparison's table and settings, every
    file written to a temporary name and renamed, so a killed run leaves no partial file."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        for stale in [*self.folder.glob(".*.tmp"), *self.runs.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)

    def has(self, key: str) -> bool:
        return (self.runs / f"{key}.parquet").is_file()

    def save(self, key: str, frame: pd.DataFrame) -> None:
        atomic_write(self.runs / f"{key}.parquet", lambda path: frame.to_parquet(path, index=False))

    def load(self, key: str, name: str) -> dict:
        """A saved run's history as columns (name → array), named ``name``."""
        frame = pd.read_parquet(self.runs / f"{key}.parquet")
        frame["run"] = name
        return {column: frame[column].to_numpy() for column in frame.columns}

    def finish(self, comparison: Comparison, settings: dict) -> None:
        """Write table.parquet and experiment.json for the whole comparison."""
        atomic_write(self.folder / "table.parquet", lambda path: comparison.table.to_parquet(path, index=False))
        document = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "problem": comparison.problem, "runs": comparison.runs, "settings": settings,
                    "environment": environment()}
        atomic_write(self.folder / "experiment.json",
                     lambda path: path.write_text(json.dumps(document, indent=2, default=_plain) + "\n"))


def _plain(value):
    """JSON for NumPy numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def environment() -> dict:
    """Versions and the device, for the report."""
    import importlib.metadata

    versions = {name: importlib.metadata.version(name) for name in ("sgdlab", "jax", "jaxlib", "numpy", "pandas")}
    device = jax.devices()[0]
    return {"versions": {"python": platform.python_version(), **versions},
            "device": f"{device.platform}: {device.device_kind} ({jax.device_count()} device(s))",
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"}
