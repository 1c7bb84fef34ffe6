"""study: the same runs on several problems, one comparison each, read as one table.

``study(problems={"w8a": p1, "a9a": p2}, runs={name: dict(sampler=..., step=...)}, seeds=10, epochs=20)``
runs the comparison of :func:`sgdlab.compare` on every problem with the same runs and seeds — every problem's run
groups together, as one set of tasks for an ``executor`` — and returns a :class:`Study`: its
``table`` stacks the comparisons' tables under a first column ``problem``, ``summary()`` stacks their summaries
the same way, and ``overview()`` / ``plot()`` give one number per (run, problem) — the median over seeds of the
final value of a metric relative to its value at the start — as a table and as a heat map.

Steps given as text ("0.5/L_max") are read against each problem's own constants, so one ``runs`` dict means
the same rule on every problem. With ``out=DIR`` each problem's comparison is kept in DIR/problems/<name>/ (its
finished runs reused by a later call, as :func:`sgdlab.compare` does), and the study's record and stacked table
beside them (:mod:`sgdlab.experiments.study_folder`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import Executor
from typing import Any

import pandas as pd

from sgdlab._helpers import validation
from sgdlab.experiments import groups
from sgdlab.experiments.compare import Comparison, OnEpoch, Session, plan, run_group
from sgdlab.experiments.config import PROBLEM_NAME
from sgdlab.experiments.study_folder import StudyFolder, problem_folder
from sgdlab.experiments.summary import overview, overview_label, stacked
from sgdlab.problems.finite_sum import FiniteSum


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
        return stacked({name: comparison.table for name, comparison in self.comparisons.items()})

    def summary(self, metric: str | None = None, target: float | None = None,
                goal: float | None = None) -> pd.DataFrame:
        """Every comparison's :meth:`~sgdlab.experiments.compare.Comparison.summary`, stacked under a column
        ``problem`` (a target, when given, applies to every problem)."""
        return stacked({name: comparison.summary(metric, target, goal)
                         for name, comparison in self.comparisons.items()})

    def overview(self, metric: str | None = None) -> pd.DataFrame:
        """Runs × problems: the median over seeds of final / initial ``metric``
        (:func:`sgdlab.experiments.summary.overview`; gap when every problem knows p*, else grad_norm)."""
        return overview(self.table, metric)

    def plot(self, metric: str | None = None) -> Any:
        """A matplotlib Figure: :meth:`overview` as a heat map on a log colour scale, each cell labelled."""
        from sgdlab.experiments.plots import overview_figure

        grid = self.overview(metric)
        return overview_figure(grid, overview_label(grid.attrs["metric"]))


def study(problems: dict[str, FiniteSum], runs: dict, seeds: Any = 10, epochs: int = 20, out: Any = None,
          executor: Executor | None = None, on_epoch: OnEpoch | None = None, title: str | None = None,
          **options: Any) -> Study:
    """Run ``runs`` on every problem of ``problems``; see the module docstring.

    Parameters
    ----------
    problems : dict of str to FiniteSum
        The problems by name (letters, digits, ``.``, ``_``, ``-``: a name also names a folder).
    runs, seeds, epochs
        As in :func:`sgdlab.compare`, the same for every problem.
    out : path, optional
        A results folder (:mod:`sgdlab.experiments.study_folder`): DIR/problems/<name>/ holds each problem's
        comparison, DIR/table.parquet the stacked table, DIR/study.json the study; a later call reuses the
        finished runs, and ``sgdlab report DIR`` draws its report.
    title : str, optional
        The study's title (its report's heading); each problem's comparison is titled "<title>: <name>".
    executor : concurrent.futures.Executor, optional
        Runs every problem's run groups as its tasks, all submitted at once (:mod:`sgdlab.experiments.groups`);
        each finished group is saved at once.
    on_epoch : callable, optional
        ``on_epoch(label, epoch, epochs)`` as in :func:`sgdlab.compare`, each label starting with the problem's name.
    **options
        Passed to every comparison (record_every, tol, engine, predict, goal, overwrite, …; see
        :func:`sgdlab.compare`); ``overwrite`` also lets the study take over a folder holding a comparison.

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
    problems, executor = _checked_problems(problems), groups.checked_executor(executor)
    sessions = {name: plan(problem, runs, seeds=seeds, epochs=epochs, title=name if title is None else
                           f"{title}: {name}", out=None if out is None else problem_folder(out, name), **options)
                for name, problem in problems.items()}
    return run_study(sessions, out, executor, on_epoch, title, options.get("overwrite", False))


def run_study(sessions: dict[str, Session], out: Any = None, executor: Executor | None = None,
              on_epoch: OnEpoch | None = None, title: str | None = None, overwrite: bool = False) -> Study:
    """Run planned comparisons (:func:`sgdlab.experiments.compare.plan`, each with its folder in
    ``out``/problems/<name> when ``out`` is given) as one study: every problem's groups submitted at once, each
    saved as it comes back; with ``out``, the study's record and stacked table (:mod:`study_folder`)."""
    first = next(iter(sessions.values()))
    about = {"settings": {**first.settings, "title": title or "study of " + ", ".join(sessions)},
             "problems": list(sessions)}
    with contextlib.ExitStack() as held:
        folder = None if out is None else held.enter_context(StudyFolder(out, overwrite, about))
        for session in sessions.values():
            held.enter_context(session.opened())
        owned = [(name, task) for name, session in sessions.items() for task in session.tasks(f"{name}: ")]
        def facts():   # what each comparison's record says of its problem, computed while the groups run
            for session in sessions.values():
                session.problem_facts()

        for index, histories in groups.computed([task for _, task in owned], on_epoch, executor, run_group, facts):
            sessions[owned[index][0]].keep(histories)
        result = Study({name: session.finished() for name, session in sessions.items()})
        if folder is not None:
            folder.finish(result.table, {name: session.fingerprint for name, session in sessions.items()})
    for name, session in sessions.items():
        session.warn_recomputed(result.comparisons[name])
    return result


def _checked_problems(problems) -> dict[str, FiniteSum]:
    if not isinstance(problems, dict) or not problems:
        validation.fail("problems", "a non-empty dict of name to finite-sum problem", validation.shown(problems),
                        error=TypeError)
    for name, problem in problems.items():
        if not isinstance(name, str) or not PROBLEM_NAME.fullmatch(name):
            validation.fail("problems", "names of letters, digits, '.', '_' and '-' (each names a folder)",
                            validation.shown(name))
        if not isinstance(problem, FiniteSum):
            validation.fail("problems", "finite-sum problems such as sl.least_squares(X, y)",
                            f"{validation.shown(problem)} for {name!r}", error=TypeError)
    return problems
