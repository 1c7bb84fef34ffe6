"""What the sgdlab command prints: a progress bar over run groups, a comparison's summary and early stops, tables
(rich), and the count of runs computed and reused."""

from __future__ import annotations

import math

import click


def print_counts(comparisons: list, out: str) -> None:
    """How many runs were computed, recomputed (their saved file did not verify) and reused from ``out``."""
    total = sum(run_count(comparison) for comparison in comparisons)
    reused = sum(comparison.reused for comparison in comparisons)
    recomputed = sum(comparison.recomputed for comparison in comparisons)
    click.echo(counts_line(total, reused, recomputed, out))


def run_count(comparison) -> int:
    """How many (run, seed) pairs a comparison's table holds."""
    return len(comparison.table.groupby(["run", "seed"]))


def counts_line(total: int, reused: int, recomputed: int, out: str) -> str:
    """"<computed> runs computed (…), <reused> reused from <out>"."""
    said = f" ({recomputed} of them recomputed: their saved file did not verify)" if recomputed else ""
    return f"{total - reused} runs computed{said}, {reused} reused from {out}"


class Progress:
    """One bar over every run group announced (``on_epoch(label, 0, epochs)``, see :mod:`sgdlab.experiments.groups`):
    the epochs done out of all the groups' epochs, and how many groups have finished."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
                            TimeElapsedColumn(), transient=False)
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self.bar.__enter__()
        self.task = self.bar.add_task("run groups", total=None)
        return self.advance

    def advance(self, label: str, epoch: int, epochs: int) -> None:
        self.totals[label], self.done[label] = epochs, epoch
        finished = sum(self.done[name] == total for name, total in self.totals.items())
        self.bar.update(self.task, total=sum(self.totals.values()), completed=sum(self.done.values()),
                        description=f"{finished}/{len(self.totals)} run groups")

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def print_summary(comparison, title: str) -> None:
    """A comparison's summary table (:func:`summary_rows`), then its early stops (:func:`stop_lines`)."""
    print_rows(summary_rows(comparison, title))
    for line in stop_lines(comparison.table):
        click.echo(line)


def summary_rows(comparison, title: str) -> dict:
    """A comparison's summary as the terminal shows it, in plain text: {"title", "columns", "rows"} (each run's
    step, final metric with its quartiles over seeds, passes, seeds that reached the target and when, status)."""
    import numpy as np

    from sgdlab.experiments.summary import heldout_score

    summary = comparison.summary()
    metric = summary.attrs["metric"]
    averaged = summary[f"final averaged {metric}"].notna().any()
    passes = not np.allclose(summary["gradient passes"], comparison.table.epoch.max())
    score = heldout_score(comparison.table)
    scores = [] if score is None else [f"final {score}", f"best {score}", f"epoch of best {score}"]
    columns = ["run", "α·L", f"median {metric}", "q25–q75", *([f"θ̄ {metric}"] if averaged else []),
               *(["passes"] if passes else []), "reached", "epochs to target",
               *([] if score is None else [score.replace("_accuracy", " acc").replace("_", " "), "best", "at epoch"]),
               "status"]
    rows = [[str(row["run"]), formatted(row["α·L"]), formatted(row[f"final {metric}"]),
             f"{formatted(row[f'final {metric} q25'])}–{formatted(row[f'final {metric} q75'])}",
             *([formatted(row[f"final averaged {metric}"])] if averaged else []),
             *([formatted(row["gradient passes"])] if passes else []),
             str(row["reached"]), formatted(row["epochs to target"]),
             *(formatted(row[column]) for column in scores),
             str(row["status"])] for _, row in summary.iterrows()]
    return {"title": f"{title}: final {metric} across seeds; target {metric} ≤ {summary.attrs['target']:.3g}",
            "columns": columns, "rows": rows}


def print_rows(table: dict, width: int | None = None) -> None:
    """A :func:`summary_rows` table as a rich table (the run and the status left, numbers right) on a console
    ``width`` columns wide (default: the terminal's, or 130). A run's name is printed whole on one line. Each
    column before the status gets the width of its longest cell and its header on one line when all of them fit,
    else of its longest cell and header word (the headers wrap); in a narrower terminal the other cells wrap too
    (a number folds onto a second line rather than losing digits)."""
    from rich.table import Table

    shown, where = Table(title=table["title"]), console(width)
    widths = _fixed_widths(table, where.width) or [None] * len(table["columns"])
    for column, column_width in zip(table["columns"], widths, strict=True):
        if column == "run":
            longest = max((len(row[0]) for row in table["rows"]), default=0)
            shown.add_column(column, no_wrap=True, min_width=longest, width=column_width)
        elif column == "status":
            shown.add_column(column, overflow="fold")
        else:
            shown.add_column(column, justify="right", overflow="fold", width=column_width)
    for row in table["rows"]:
        shown.add_row(*row)
    where.print(shown)


#: Headers up to this long stay on one line when every column's cells fit (longer ones wrap by word first).
SHORT_HEADER = 8


def _fixed_widths(table: dict, width: int) -> list[int | None] | None:
    """The widths of a :func:`summary_rows` table's columns (the status's None: the rest of the line) that fit in
    ``width`` characters beside the status's longest word, 3 a column for its border and padding: each column's
    longest cell and its header on one line if all fit, else with short headers (SHORT_HEADER) on one line and the
    others by their longest word, else every header by its longest word; None if none fits."""
    status = max([len(word) for row in table["rows"] for word in row[-1].split()], default=6)
    for longest_header in (math.inf, SHORT_HEADER, 0):
        widths = [max(_header_width(column, longest_header), *(len(row[index]) for row in table["rows"]))
                  for index, column in enumerate(table["columns"][:-1])]
        if sum(widths) + status + 3 * (len(widths) + 1) + 1 <= width:
            return [*widths, None]
    return None


def _header_width(header: str, longest: float) -> int:
    """The header's width: whole when at most ``longest`` characters, else its longest word (it wraps by word)."""
    return len(header) if len(header) <= longest else max(len(word) for word in header.split())


#: The most early stops printed in the terminal (the report lists them all).
PRINTED_STOPS = 12


def stop_lines(table) -> list[str]:
    """The message of every run and seed that diverged or converged before its budget (the first PRINTED_STOPS), and
    how many more there are."""
    from sgdlab.experiments.summary import stops

    early = stops(table)
    lines = [f"{row.run}, seed {row.seed}: {row.message}" for row in early.head(PRINTED_STOPS).itertuples(index=False)]
    if len(early) > PRINTED_STOPS:
        lines.append(f"… and {len(early) - PRINTED_STOPS} more runs that stopped early (listed in the report).")
    return lines


def print_table(frame, title: str) -> None:
    """A DataFrame as a rich table, text left and numbers right."""
    from rich.table import Table

    table = Table(title=title)
    from pandas.api.types import is_numeric_dtype

    for column in frame.columns:
        table.add_column(str(column), justify="right" if is_numeric_dtype(frame[column]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(formatted(value) for value in row))
    console().print(table)


def console(width: int | None = None):
    """A rich console ``width`` columns wide; by default the terminal's, or 130 when the output is not a terminal."""
    from rich.console import Console

    if width is not None:
        return Console(width=width)
    console = Console()
    return console if console.is_terminal else Console(width=130)


def formatted(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if value != value else ("∞" if value == float("inf") else f"{value:.3g}")
