"""compare: many runs of one problem side by side, over seeds, in few compiled programs.

``compare(problem, runs={name: dict(sampler=..., step=...)}, seeds=10, epochs=20)`` runs every
named setting with seeds 0..seeds−1. Runs that share a sampler and a kind of schedule (so differ
only in seed or step size) execute together, as the lanes of one program of the run loop
(:func:`sgdlab.run.loop.run_lanes`): the epoch ``jax.vmap``-ed over the runs, or the native loop's
runs side by side on the cores. Each run keeps its own log, so its history equals ``minimize``'s for
the same arguments. The result is a :class:`Comparison` whose ``table`` is tidy: one row per (run,
seed, recorded epoch) with run, seed, epoch, iteration, loss, grad_norm, gap, dist, time (the run's
share of its program's wall time: the program's seconds divided by its runs), the run's settings
(sampler, method, batch_size, step, alpha0, alpha_L) and its status and message.

Steps may be numbers, schedules, or text relative to the problem's constants
(:mod:`sgdlab.experiments.steps`); the default step is "1/L_B".

With ``out=DIR`` each finished run is saved as DIR/runs/<key>.parquet, the key a hash of the run's
identity and budget (:func:`sgdlab.run.identity.run_key`), and the whole table as DIR/table.parquet
plus DIR/experiment.json (settings, the data's source, the problem's constants, each run's engine,
versions, device) (:mod:`sgdlab.experiments.store`). Running the same comparison again reuses the saved
runs that verify; a folder holds one experiment, written by one process at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from sgdlab._helpers import validation
from sgdlab.experiments import groups
from sgdlab.experiments.predictions import COLUMNS, flags, predictions
from sgdlab.experiments.run_specs import RunSpec, describe_problem, predicted_schedule, run_specs, runs_info
from sgdlab.experiments.store import ResultStore, experiment_fingerprint
from sgdlab.experiments.summary import GOAL, checked_goal, goal_value, summarize
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.run.history import RunLog
from sgdlab.run.identity import run_key
from sgdlab.run.loop import run_lanes
from sgdlab.run.options import MINIMIZE, RunOptions, validated
from sgdlab.run.stopping import Patience
from sgdlab.samplers import Sampler

#: ``on_epoch(label, epoch, epochs)``: called after every epoch of every program.
OnEpoch = Callable[[str, int, int], None]


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        return list(range(validation.integer("seeds", seeds)))
    try:
        values = [validation.integer("seeds", s, low=0, high=2**31 - 1) for s in seeds]  # type: ignore[union-attr]
    except TypeError:
        validation.fail("seeds", "a number of seeds >= 1 or a list of seeds", validation.shown(seeds), error=TypeError)
    if not values or len(set(values)) != len(values):
        validation.fail("seeds", "a non-empty list of distinct seeds", validation.shown(seeds))
    return values


@dataclasses.dataclass
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (run, seed, recorded epoch): the history columns, the run's settings, status and message.
    problem : dict
        The problem's constants (:func:`describe_problem`).
    runs : dict
        Per run: its sampler, step, α₀, α·L and step check in words.
    reused : int
        How many (run, seed) pairs were read back from ``out`` instead of computed.
    recomputed : int
        How many saved (run, seed) files in ``out`` did not verify (cut, altered or another run's)
        and were computed again.
    goal : float
        The summary's target as a fraction of its metric's value at the start (the report's too).
    predictions : pandas.DataFrame
        What the theory predicts for each run (:mod:`sgdlab.experiments.predictions`): its theorem's
        bound and, on least squares, its exact expected curve (columns run, epoch, quantity, curve,
        value, theorem).
    paths : dict
        (run, seed) → θ at each history row, when ``compare(..., record_params=True)`` kept them.
    objective : FiniteSum or None
        The problem the runs minimized (for :meth:`plot_paths`).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> comparison = sl.compare(sl.least_squares(X, X @ np.ones(3)), seeds=3, epochs=4,
    ...                         runs={"GD": dict(sampler="full_batch", step="1/L"),
    ...                               "SGD": dict(sampler=sl.with_replacement(1), step="0.5/L_max")})
    >>> summary = comparison.summary()
    >>> summary.run.tolist(), summary.seeds.tolist(), summary.attrs["metric"]
    (['GD', 'SGD'], [3, 3], 'gap')
    >>> comparison.runs["GD"]["step_check"].startswith("α·L = 1 < 2")
    True
    """

    table: pd.DataFrame
    problem: dict
    runs: dict
    reused: int = 0
    predictions: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=COLUMNS))
    paths: dict = dataclasses.field(default_factory=dict)
    objective: FiniteSum | None = dataclasses.field(default=None, repr=False)
    recomputed: int = 0
    goal: float = GOAL

    def summary(self, metric: str | None = None, target: float | None = None,
                goal: float | None = None) -> pd.DataFrame:
        """Per run, across seeds: the final value of ``metric`` and the epochs and time to ``target``
        (by default ``goal``, else the comparison's, times the metric's value at the start); see
        :func:`sgdlab.experiments.summary.summarize`."""
        return summarize(self.table, metric, target, self.goal if goal is None else goal)

    def plot(self, metric: str = "gap", x: str = "epoch", bounds: bool = True) -> Any:
        """A matplotlib Figure of ``metric`` (gap, grad_norm, dist, loss; avg_gap, … at the averaged iterate)
        against ``x`` (epoch, iteration, grad_evals or time): log scale, the
        median across seeds as a line and the quartiles as a band; with ``bounds``, each run's theorem's
        bound dashed in its colour and its exact expected curve as a thin black line, where known; the
        summary's target (``goal`` × the start) dotted."""
        from sgdlab.experiments.plots import convergence_figure

        return convergence_figure(self.table, metric, x, predictions=self.predictions if bounds else None,
                                  target=goal_value(self.table, metric, self.goal))

    def plot_paths(self, seed: int = 0, runs: list[str] | None = None, since: int = 0, ax: Any = None) -> Any:
        """A matplotlib Figure of the level sets of F and each run's path for ``seed`` (kept by
        ``compare(..., record_params=True)``), from history row ``since`` on (all runs when ``runs`` is
        None): in the plane of θ when it has two entries, else on the top two eigenvectors of the
        Hessian at θ*; drawn in ``ax`` when given."""
        from sgdlab.experiments.plots import paths_figure

        if not self.paths or self.objective is None:
            validation.fail("comparison", "one run with record_params=True (its paths are kept)", "no paths",
                            context="plot_paths")
        return paths_figure(self.objective, self.paths, seed, runs, since, ax)

    def flags(self) -> pd.DataFrame:
        """Per run and bounded quantity, the epochs whose mean over seeds exceeds the bound by more than
        three standard errors, and whether the bound says anything of the run (see
        :func:`sgdlab.experiments.predictions.flags`)."""
        return flags(self.table, self.predictions, self.problem.get("kappa"))


def compare(problem: FiniteSum, runs: dict, seeds: int | Iterable[int] = 10, epochs: int = 20, out: Any = None,
            record_every: float = 1, tol: float | None = None, title: str | None = None,
            on_epoch: OnEpoch | None = None,
            engine: str = "auto", predict: bool = True, record_params: bool = False, overwrite: bool = False,
            source: dict | None = None, goal: float = GOAL, heldout: dict[str, FiniteSum] | None = None,
            stop: Patience | None = None, executor: Executor | None = None,
            curvature_every: int | None = None) -> Comparison:
    """Run every setting in ``runs`` with every seed; see the module docstring.

    Parameters
    ----------
    problem : FiniteSum
        What every run minimizes.
    runs : dict
        ``{name: dict(sampler=..., step=..., method=...)}`` (or ``optimizer=`` in place of ``step``); the
        step defaults to "1/L_B", the method to plain SGD (:mod:`sgdlab.methods`).
    seeds : int or list of int, default 10
        A number of seeds (0, 1, …) or the seeds themselves.
    epochs, record_every, tol, engine, heldout, stop, curvature_every
        As in :func:`sgdlab.minimize`; the engine is chosen per group of runs sharing a sampler. Held-out
        problems add their columns (test_loss, test_accuracy, …) to the table; a ``stop`` rule ends each run
        on its own (its rows end there). With record_every = 1/m, a run whose epochs have fewer than m steps
        (gradient descent has one) records after every step.
    out : path, optional
        A results folder: finished runs are saved there and reused by a later call of the same
        experiment (a saved run that does not verify is recomputed, with a warning); one process at a
        time, one experiment per folder.
    overwrite : bool, default False
        Let this experiment take over an ``out`` that holds another one (else refused).
    goal : float, default 1e-3
        The summary's target (its epochs and seconds to it, in the report too) as a fraction of its
        metric's value at the start.
    source : dict, optional
        What the problem was built from (data file and its hash, target, preprocessing), recorded in
        ``out``/experiment.json so the experiment can be rerun.
    title : str, optional
        Names the comparison in its saved settings (the report's heading).
    on_epoch : callable, optional
        ``on_epoch(label, epoch, epochs)`` after every epoch of every program (a progress bar).
    record_params : bool, default False
        Keep every run's θ at each recorded epoch (``Comparison.paths``, :meth:`Comparison.plot_paths`); for
        a comparison in memory (``out=None``: the paths are not saved).
    executor : concurrent.futures.Executor, optional
        Run each group of runs sharing a program as a task of this executor (processes, a Dask cluster):
        :mod:`sgdlab.experiments.groups`. Each finished group is saved to ``out`` at once.
    predict : bool, default True
        Compute what the theory predicts beside the runs (``Comparison.predictions``: each run's bound and,
        on least squares, its exact expected curve).

    Returns
    -------
    Comparison
        The tidy ``table``, the problem's constants, each run's settings and step check.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> problem = sl.least_squares(X, X @ np.ones(3))
    >>> comparison = sl.compare(problem, runs={"GD": dict(sampler=sl.full_batch()),
    ...                                        "RR": dict(sampler=sl.shuffled_cyclic(10))}, seeds=2, epochs=5)
    >>> sorted(comparison.table.run.unique()), len(comparison.table)
    (['GD', 'RR'], 24)
    """
    executor = groups.checked_executor(executor)
    session = plan(problem, runs, seeds, epochs, out, record_every, tol, title, engine, predict, record_params,
                   overwrite, source, goal, heldout, stop, curvature_every)
    with session.opened():
        for _, result in groups.computed(session.tasks(), on_epoch, executor, run_group, session.problem_facts):
            session.keep(result)
        comparison = session.finished()
    session.warn_recomputed(comparison)
    return comparison


def plan(problem: FiniteSum, runs: dict, seeds: int | Iterable[int] = 10, epochs: int = 20, out: Any = None,
         record_every: float = 1, tol: float | None = None, title: str | None = None, engine: str = "auto",
         predict: bool = True, record_params: bool = False, overwrite: bool = False, source: dict | None = None,
         goal: float = GOAL, heldout: dict[str, FiniteSum] | None = None, stop: Patience | None = None,
         curvature_every: int | None = None) -> Session:
    """A comparison checked and ready to run (:class:`Session`); the arguments are :func:`compare`'s."""
    if not isinstance(problem, FiniteSum):
        validation.fail("problem", "a finite-sum problem such as sl.least_squares(X, y) (compare runs over epochs)",
                        validation.shown(problem), error=TypeError)
    specs = run_specs(problem, runs)
    seed_list = _seeds(seeds)
    if record_params is True and out is not None:
        validation.fail("record_params", "False with out= (the paths are kept in memory, not saved)", "True")
    keywords = {"epochs": epochs, "tol": tol, "record_every": record_every, "engine": engine,
                "record_params": record_params, "heldout": heldout, "stop": stop, "curvature_every": curvature_every}
    groups_planned = [(group, _lanes(problem, group, seed_list, keywords)) for group in _groups(specs)]
    settings = dict(seeds=seed_list, epochs=epochs, record_every=record_every, tol=tol, title=title,
                    goal=checked_goal(goal), curvature_every=curvature_every)
    return Session(problem, specs, seed_list, groups_planned, settings, source, out, overwrite, predict, goal)


class Session:
    """One comparison from plan to table: :meth:`opened` (its results folder, when it has one, read for the runs
    it already holds), :meth:`tasks` (the groups still to run), :meth:`keep` (each group's histories, saved as it
    comes back), :meth:`finished` (the :class:`Comparison`). A study runs several sessions' tasks together."""

    def __init__(self, problem: FiniteSum, specs: list[RunSpec], seeds: list[int], planned: list, settings: dict,
                 source: dict | None, out: Any, overwrite: bool, predict: bool, goal: float):
        self.problem, self.specs, self.seeds, self.planned = problem, specs, seeds, planned
        self.settings, self.source, self.out, self.overwrite = settings, source, out, overwrite
        self.predict, self.goal = predict, goal
        self.keys = {lane: run_key(options) for _, lanes in planned for lane, options in lanes.items()}
        self.store: ResultStore | None = None
        self.histories: dict[tuple[str, int], dict] = {}
        self.paths: dict[tuple[str, int], list] = {}
        self.todo: list[tuple[list[RunSpec], dict]] = []
        self.facts: tuple[pd.DataFrame, dict, dict] | None = None

    @contextlib.contextmanager
    def opened(self) -> Iterator[Session]:
        """The results folder held for this comparison (nothing to hold without ``out``), its verified runs read."""
        if self.out is None:
            self._read_saved()
            yield self
            return
        about = {"settings": self.settings, "source": self.source}
        with ResultStore(self.out, self.fingerprint, self.overwrite, about) as self.store:
            self._read_saved()
            yield self

    @property
    def fingerprint(self) -> str:
        """The comparison's identity (:func:`sgdlab.experiments.store.experiment_fingerprint`)."""
        return experiment_fingerprint(self.keys)

    def _read_saved(self) -> None:
        """Take each run the folder holds and verifies; the rest of each group is what remains to run."""
        for group, lanes in self.planned:
            if self.store is not None:
                saved = {lane: self.store.load(self.keys[lane], lane[0]) for lane in lanes}
                self.histories.update({lane: columns for lane, columns in saved.items() if columns is not None})
            todo = {lane: options for lane, options in lanes.items() if lane not in self.histories}
            if todo:
                self.todo.append((group, todo))

    def tasks(self, prefix: str = "") -> list[groups.Task]:
        """The groups still to run, as tasks for :func:`sgdlab.experiments.groups.computed`, each labelled by its
        sampler and first run (after ``prefix``)."""
        return [groups.Task(f"{prefix}{_group_label(group)}", self.problem, group, lanes) for group, lanes in self.todo]

    def keep(self, result: tuple[dict, dict]) -> None:
        """A finished task's histories and paths, each history saved to the folder at once."""
        fresh, paths = result
        for lane, columns in fresh.items():
            if self.store is not None:
                self.store.save(self.keys[lane], pd.DataFrame(columns))
            self.histories[lane] = columns
        self.paths.update(paths)

    def problem_facts(self) -> tuple[pd.DataFrame, dict, dict]:
        """What the comparison's record says of its problem — the theory's predictions, the problem's constants,
        each run's settings and step check — computed once, where the problem is (a study's worker computes them
        when it plans a problem it built: :mod:`sgdlab.experiments.worker_problems`)."""
        if self.facts is None:
            problem, specs, epochs = self.problem, self.specs, self.settings["epochs"]
            predicted = (predictions(problem, [(spec.name, spec.sampler, predicted_schedule(spec)) for spec in specs],
                                     epochs) if self.predict else pd.DataFrame(columns=COLUMNS))
            engines = {name: options.engine for _, lanes in self.planned for (name, _), options in lanes.items()}
            self.facts = (predicted, describe_problem(problem), runs_info(problem, specs, engines, epochs))
        return self.facts

    def finished(self) -> Comparison:
        """The comparison of every run (its table and predictions written to the folder)."""
        table = _stacked([self.histories[spec.name, seed] for spec in self.specs for seed in self.seeds])
        predicted, described, info = self.problem_facts()
        computed = sum(len(lanes) for _, lanes in self.todo)
        objective = self.problem if isinstance(self.problem, FiniteSum) else None   # None: built by the workers
        comparison = Comparison(table, described, info, len(self.histories) - computed, predicted, self.paths,
                                objective, goal=self.goal)
        if self.store is not None:
            self.store.finish(table, predicted, {"settings": self.settings, "source": self.source,
                                                 "problem": comparison.problem, "runs": comparison.runs},
                              set(self.keys.values()))
            comparison.recomputed = self.store.rejected
        return comparison

    def warn_recomputed(self, comparison: Comparison) -> None:
        """Say how many saved runs did not verify and were computed again (none: nothing said)."""
        if comparison.recomputed:
            warnings.warn(f"{comparison.recomputed} saved run(s) in {Path(self.out) / 'runs'} did not verify (cut, "
                          "altered or another run's file) and were recomputed", stacklevel=3)


def _group_label(group: list[RunSpec]) -> str:
    """A group's name for progress and errors: its sampler and its first run (and how many others)."""
    more = f" and {len(group) - 1} more" if len(group) > 1 else ""
    return f"{group[0].sampler!r}: {group[0].name}{more}"


def _lanes(problem: FiniteSum, group: list[RunSpec], seeds: list[int], keywords: dict) -> dict:
    """The options of every (run name, seed) of a group: each setting validated once, then given each seed."""
    lanes = {}
    for spec in group:
        options = validated(problem, MINIMIZE, spec.sampler, spec.schedule,
                            {**keywords, **_recording(problem, spec.sampler, keywords["record_every"]),
                             "optimizer": spec.optimizer, "method": spec.method, "average": spec.average})
        lanes.update({(spec.name, seed): options.with_seed(seed) for seed in seeds})
    return lanes


def _recording(problem: FiniteSum, sampler: Sampler, record_every: Any) -> dict:
    """A run's recording in a comparison: rows every record_every epochs, or 1/m of one; a run whose epochs
    have fewer than m steps (gradient descent has one) records after every step instead."""
    if isinstance(record_every, int | float) and 0 < record_every < 1:
        sampler.validate(problem.n)
        if round(1 / record_every) > sampler.steps_per_epoch(problem.n):
            return {"record_every": 1, "record_steps": 1}
    return {}


def run_group(problem: FiniteSum, lanes: dict[tuple[str, int], RunOptions], group: list[RunSpec],
              on_unit: Callable[[int], None] | None) -> tuple[dict[tuple[str, int], dict], dict]:
    """Run the lanes of one group as one program (``on_unit(epoch)`` after each epoch); each lane's history as
    columns (see :func:`_run_columns`), and the lanes' paths when kept. Gradient descent draws nothing, so its
    seeds' runs are one run: each of its settings runs once (with its first seed) and stands for the others."""
    first = next(iter(lanes.values()))
    seeds_alike = first.sampler.is_full_batch
    first_seed = dict(reversed(lanes))
    stands_for = {lane: (lane[0], first_seed[lane[0]]) if seeds_alike else lane for lane in lanes}
    computed = list(dict.fromkeys(stands_for.values()))
    logs = dict(zip(computed, run_lanes([lanes[lane] for lane in computed], on_unit=on_unit), strict=True))
    specs, L = {spec.name: spec for spec in group}, problem.lipschitz()
    paths = {lane: logs[stands_for[lane]].path for lane in lanes if logs[stands_for[lane]].path is not None}
    return {(name, seed): _run_columns(specs[name], seed, logs[stands_for[name, seed]], L)
            for name, seed in lanes}, paths


def _stacked(histories: list[dict]) -> pd.DataFrame:
    """The runs' histories (column name → array) one under the other, as one table built column by
    column: one DataFrame for the comparison, not one a run (pd.concat of hundreds of small tables
    spends most of its time planning the concatenation). A column some runs lack (an averaged run's avg_…) is
    NaN in theirs."""
    names = list(dict.fromkeys(name for history in histories for name in history))   # e.g. avg_… of averaged runs
    return pd.DataFrame({name: np.concatenate([history[name] if name in history else
                                               np.full(len(history["loss"]), np.nan) for history in histories])
                         for name in names})


def _groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """Runs that can share one program: same sampler, same kind of schedule."""
    groups: dict = {}
    for spec in specs:
        groups.setdefault((spec.sampler, jax.tree.structure(spec.schedule), spec.optimizer, spec.method, spec.average),
                          []).append(spec)
    return list(groups.values())


def _run_columns(spec: RunSpec, seed: int, log: RunLog, L: float | None) -> dict:
    """One run's history with its name, seed, settings (α₀·L where L is known), status and message,
    as columns (name → array of one entry an epoch recorded)."""
    history = log.columns()
    status, message, _, _ = log.outcome(history)
    alpha0 = np.nan if spec.alpha0 is None else spec.alpha0
    method = spec.method.describe() + ("" if spec.average is None else f" + {spec.average.describe()}")
    constants = {"sampler": spec.sampler.name, "method": method,
                 "batch_size": getattr(spec.sampler, "batch_size", np.nan), "step": spec.step_text, "alpha0": alpha0,
                 "alpha_L": np.nan if L is None else alpha0 * L,
                 "status": status, "message": message}
    rows = len(history["loss"])
    return {"run": _repeated(spec.name, rows), "seed": np.full(rows, seed), **history,
            **{name: _repeated(value, rows) for name, value in constants.items()}}


def _repeated(value: Any, rows: int) -> np.ndarray:
    """A column holding ``value`` ``rows`` times (text as Python objects: cheap to build, then converted once)."""
    return np.full(rows, value, dtype=object if isinstance(value, str) else None)
