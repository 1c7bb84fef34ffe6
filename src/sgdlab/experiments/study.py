"""study: the same runs on several problems, one comparison each, read as one table.

``study(problems={"w8a": p1, "a9a": p2}, runs={name: dict(sampler=..., step=...)}, seeds=10, epochs=20)``
runs :func:`sgdlab.compare` on every problem with the same runs and seeds, and returns a :class:`Study`: its
``table`` stacks the comparisons' tables under a first column ``problem``, ``summary()`` stacks their summaries
the same way, and ``overview()`` / ``plot()`` give one number per (run, problem) — the median over seeds of the
final value of a metric relative to its value at the start — as a table and as a heat map.

Steps given as text ("0.5/L_max") are read against each problem's own constants, so one ``runs`` dict means
the same rule on every problem. With ``out=DIR`` each problem's comparison is kept in DIR/problems/<name>/ (its
finished runs reused by a later call, as :func:`sgdlab.compare` does) and the stacked table in
DIR/table.parquet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pandas as pd

from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab.experiments import groups
from sgdlab.experiments.compare import Comparison, OnEpoch, plan, run_group
from sgdlab.problems.base import FiniteSum

#: A problem's name: it names its folder in ``out``.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclasses.dataclass
class Study:
    """The outcome of :func:`study`: one :class:`~sgdlab.experiments.compare.Comparison` per problem.

    Attributes
    ----------
    comparisons : dict of str to Comparison
        Each problem's comparison, by the problem's name, in the order given.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> result = sl.study({"a": sl.least_squares(X, X @ np.ones(3)), "b": sl.least_squares(X, X[:, 0])},
    ...                   {"GD": dict(sampler="full_batch", step="1/L")}, seeds=1, epochs=2)
    >>> list(result.comparisons), len(result.table)
    (['a', 'b'], 6)
    """

    comparisons: dict[str, Comparison]

    @property
    def table(self) -> pd.DataFrame:
        """Every comparison's table, stacked, with the problem's name as the first column."""
        return _stacked({name: comparison.table for name, comparison in self.comparisons.items()})

    def summary(self, metric: str | None = None, target: float | None = None,
                goal: float | None = None) -> pd.DataFrame:
        """Every comparison's :meth:`~sgdlab.experiments.compare.Comparison.summary`, stacked under a column
        ``problem`` (a target, when given, applies to every problem)."""
        return _stacked({name: comparison.summary(metric, target, goal)
                         for name, comparison in self.comparisons.items()})

    def overview(self, metric: str | None = None) -> pd.DataFrame:
        """Runs × problems: the median over seeds of final / initial ``metric``, each seed's last row against its
        first (1 is no progress, 10⁻³ a thousandfold reduction). ``metric`` defaults to gap when every problem
        knows p*, else grad_norm."""
        table = self.table
        metric = metric or ("gap" if table.groupby("problem").gap.apply(lambda v: v.notna().any()).all()
                            else "grad_norm")
        if metric not in table.columns:
            validation.fail("metric", "a column of the table such as gap, grad_norm, dist or loss",
                            validation.shown(metric))
        seeds = table.groupby(["problem", "run", "seed"], sort=False)[metric]
        relative = (seeds.last() / seeds.first()).groupby(["run", "problem"], sort=False).median()
        grid = relative.unstack("problem").reindex(index=table.run.unique(), columns=list(self.comparisons))
        grid.attrs["metric"] = metric
        return grid

    def plot(self, metric: str | None = None) -> Any:
        """A matplotlib Figure: :meth:`overview` as a heat map on a log colour scale, each cell labelled."""
        from sgdlab.experiments.plots import overview_figure

        grid = self.overview(metric)
        return overview_figure(grid, f"final {grid.attrs['metric']} / initial (median over seeds)")


def study(problems: dict[str, FiniteSum], runs: dict, seeds: Any = 10, epochs: int = 20, out: Any = None,
          executor: Executor | None = None, on_epoch: OnEpoch | None = None, **options: Any) -> Study:
    """Run ``runs`` on every problem of ``problems``; see the module docstring.

    Parameters
    ----------
    problems : dict of str to FiniteSum
        The problems by name (letters, digits, ``.``, ``_``, ``-``: a name also names a folder).
    runs, seeds, epochs
        As in :func:`sgdlab.compare`, the same for every problem.
    out : path, optional
        A results folder: DIR/problems/<name>/ holds each problem's comparison, DIR/table.parquet the stacked
        table; a later call reuses the finished runs.
    executor : concurrent.futures.Executor, optional
        Runs every problem's run groups as its tasks, all submitted at once (:mod:`sgdlab.experiments.groups`);
        each finished group is saved at once.
    on_epoch : callable, optional
        ``on_epoch(label, epoch, epochs)`` as in :func:`sgdlab.compare`, each label starting with the problem's name.
    **options
        Passed to every comparison (record_every, tol, engine, predict, goal, overwrite, …; see
        :func:`sgdlab.compare`).

    Returns
    -------
    Study
        Its ``table`` and ``summary()`` with a column ``problem``, ``overview()`` and ``plot()`` runs × problems.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> rng = np.random.default_rng(0)
    >>> X, Z = rng.normal(size=(60, 3)), rng.normal(size=(40, 5))
    >>> problems = {"small": sl.least_squares(X, X @ np.ones(3)), "wide": sl.least_squares(Z, Z @ np.ones(5))}
    >>> runs = {"GD": dict(sampler="full_batch", step="1/L"), "RR": dict(sampler=sl.shuffled_cyclic(4))}
    >>> result = sl.study(problems, runs, seeds=2, epochs=3)
    >>> result.table.columns[0], sorted(result.table.problem.unique()), result.overview().shape
    ('problem', ['small', 'wide'], (2, 2))
    """
    problems = _checked_problems(problems)
    folder = None if out is None else Path(out)
    sessions = {name: plan(problem, runs, seeds=seeds, epochs=epochs,
                           out=None if folder is None else folder / "problems" / name, **options)
                for name, problem in problems.items()}
    with contextlib.ExitStack() as held:
        for session in sessions.values():
            held.enter_context(session.opened())
        owners = [name for name, session in sessions.items() for _ in session.tasks()]
        tasks = [task for name, session in sessions.items() for task in session.tasks(f"{name}: ")]
        for index, histories in groups.computed(tasks, on_epoch, executor, run_group):
            sessions[owners[index]].keep(histories)
        result = Study({name: session.finished() for name, session in sessions.items()})
    for name, session in sessions.items():
        session.warn_recomputed(result.comparisons[name])
    if folder is not None:
        atomic_write(folder / "table.parquet", lambda path: result.table.to_parquet(path, index=False))
    return result


def _checked_problems(problems) -> dict[str, FiniteSum]:
    if not isinstance(problems, dict) or not problems:
        validation.fail("problems", "a non-empty dict of name to finite-sum problem", validation.shown(problems),
                        error=TypeError)
    for name, problem in problems.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            validation.fail("problems", "names of letters, digits, '.', '_' and '-' (each names a folder)",
                            validation.shown(name))
        if not isinstance(problem, FiniteSum):
            validation.fail("problems", "finite-sum problems such as sl.least_squares(X, y)",
                            f"{validation.shown(problem)} for {name!r}", error=TypeError)
    return problems


def _stacked(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The tables one under another, with their names in a first column ``problem``."""
    return pd.concat([table.assign(problem=name)[["problem", *table.columns]] for name, table in tables.items()],
                     ignore_index=True)
