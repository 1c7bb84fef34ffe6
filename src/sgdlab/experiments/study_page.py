"""The HTML page of a study (:mod:`sgdlab.experiments.study_folder`): the overview first — a heat map and a table of
runs × problems, the median over seeds of each run's final / initial gap (‖∇F‖ when a problem has no p*) — then
the problems side by side (N, parameters, L, μ, κ, p*, data), then a section per problem with its runs and their
step checks (a text step is read against each problem's constants), its summary across seeds and its curves
against epochs, each linking to the problem's full report (theory beside the runs, time, held-out data).
"""

from __future__ import annotations

import html

import pandas as pd

from sgdlab.experiments.comparison_page import (
    environment_rows,
    figures,
    problem_rows,
    runs_table,
    source_rows,
    summary_section,
)
from sgdlab.experiments.page import figure_png, html_page, html_table, key_values
from sgdlab.experiments.predictions import COLUMNS
from sgdlab.experiments.summary import GOAL, overview, overview_label, stacked

#: The curves drawn for each problem (its full report has them all).
STUDY_METRICS = ("gap", "grad_norm")


def render_study(record: dict, comparisons: dict[str, tuple[pd.DataFrame, dict, pd.DataFrame | None]]) -> str:
    """The study's HTML from its record and each problem's (table, experiment record, predictions)."""
    settings = record.get("settings", {})
    title = settings.get("title") or "sgdlab study"
    table = stacked({name: frame for name, (frame, _, _) in comparisons.items()})
    first = next(iter(comparisons.values()))[1]
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Created {html.escape(record.get('created', ''))}. {table.run.nunique()} runs on "
        f"{len(comparisons)} problems, each repeated over {table.seed.nunique()} seeds; lines are medians across "
        "seeds, bands the quartiles.</p>",
        "<h2>Overview</h2>", *_overview_section(table),
        "<h2>Problems</h2>", _problems_table(comparisons),
        *(part for name, comparison in comparisons.items()
          for part in _problem_section(name, *comparison, settings.get("goal", GOAL))),
        "<h2>Environment</h2>", key_values(environment_rows(first.get("environment", {}))),
    ]
    return html_page(title, sections)


def _overview_section(table: pd.DataFrame) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sgdlab.experiments.plots import overview_figure

    grid = overview(table)
    label = overview_label(grid.attrs["metric"])
    figure = overview_figure(grid, label)
    image = f"<img alt='{html.escape(label)}, runs × problems' src='data:image/png;base64,{figure_png(figure)}'>"
    plt.close(figure)
    note = (f"<p class='note'>Each cell: {html.escape(label)}, for that run on that problem (1: no progress; 10⁻³: "
            "a thousandfold reduction; blank: no value, e.g. a run that diverged).</p>")
    return [note, image, html_table(grid.rename_axis(columns=None).reset_index())]


def _problems_table(comparisons: dict) -> str:
    """A row per problem: its name, kind and constants, and its data."""
    rows = []
    for name, (_, experiment, _) in comparisons.items():
        described = {label: html.escape(value) for label, value in problem_rows(experiment["problem"])}
        source = dict(source_rows(experiment.get("source")))
        rows.append({"problem": f"<a href='#problem-{html.escape(name)}'>{html.escape(name)}</a>",
                     "kind": described.pop("problem"), **described, "data": html.escape(source.get("data", "—"))})
    return html_table(pd.DataFrame(rows).fillna("—"), escape=False)


def _problem_section(name: str, table: pd.DataFrame, experiment: dict, predicted: pd.DataFrame | None,
                     goal: float) -> list[str]:
    """A problem's runs with their step checks, its summary and its curves against epochs, with a link to its
    full report."""
    predicted = pd.DataFrame(columns=COLUMNS) if predicted is None else predicted
    link = f"problems/{html.escape(name)}/report.html"
    return [f"<h2 id='problem-{html.escape(name)}'>Problem {html.escape(name)}</h2>",
            f"<p class='note'>The full report of this problem: <a href='{link}'>{link}</a>.</p>",
            "<h3>Runs and the theorem for each</h3>", runs_table(table, experiment["runs"]),
            "<h3>Summary across seeds</h3>", summary_section(table, goal),
            "<h3>Convergence against epochs</h3>", figures(table, "epoch", predicted, goal, STUDY_METRICS)]
