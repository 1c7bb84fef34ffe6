"""The sgdlab command: ``compare`` (the main job), ``run EXPERIMENT.toml``, ``report FOLDER``,
``batch-size`` and ``step-sweep``.

Heavy modules (JAX, the engine, matplotlib) load inside the commands, so ``sgdlab --help`` answers
at once. Bad input ends with one line naming what was wrong and what is allowed, and exit code 2.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from pathlib import Path

import click

import sgdlab
from sgdlab.experiments import config

SCHEMES = click.Choice(config.SAMPLER_NAMES)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sgdlab.__version__, prog_name="sgdlab")
def cli():
    """Gradient descent and every sampling scheme of SGD, side by side, as the theory states them."""


def _problem_options(command):
    """The options that say which problem to build (shared by compare, batch-size and step-sweep), given to the
    command as one ``problem_table``: the TOML's [problem] without the options left unset."""
    options = [
        click.option("--problem", "kind", type=click.Choice(config.PROBLEM_KINDS), default="least_squares",
                     show_default=True, help="What to minimize."),
        click.option("--data", default=None, help="diabetes, breast_cancer, digits, synthetic, or a file "
                     "(.npy, .npz, .csv, .parquet, svmlight). Default: diabetes / breast_cancer / digits by problem."),
        click.option("--target", default=None, help="The target column of a CSV or Parquet file (default: the last)."),
        click.option("--standardize/--no-standardize", default=True, show_default=True,
                     help="Center and scale features."),
        click.option("--intercept/--no-intercept", default=True, show_default=True, help="Append a column of ones."),
        click.option("--l2", type=float, default=0.0, show_default=True, help="ℓ2 weight (logistic and softmax)."),
        click.option("--class-weight", type=click.Choice(["balanced"]), default=None,
                     help="Weigh each class's losses by N / (K · its count) (logistic and softmax)."),
        click.option("--hidden", default=None, help="The hidden layers' widths of --problem mlp, e.g. 64 or 128,64 "
                     "[default: 64]. A network's L_B is not known: give --step."),
    ]

    @functools.wraps(command)
    def with_problem(**given):
        problem = {key: given.pop(key) for key in PROBLEM_OPTIONS}
        if problem["hidden"] is not None:
            problem["hidden"] = _split(problem["hidden"], "--hidden", int)
        return command(problem_table={key: value for key, value in problem.items() if value is not None}, **given)

    for option in reversed(options):
        with_problem = option(with_problem)
    return with_problem


#: The options of :func:`_problem_options`, by their parameter names.
PROBLEM_OPTIONS = ("kind", "data", "target", "standardize", "intercept", "l2", "class_weight", "hidden")



_goal_option = click.option("--goal", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
                            help="The summary's target as a fraction of the starting F − p* (or ‖∇F‖). [default: 1e-3]")
_overwrite_option = click.option("--overwrite", is_flag=True, help="Let this experiment take over a results folder "
                                 "that holds another one (its table and report are replaced).")


@cli.command()
@_problem_options
@click.option("--schemes", default=None, help="Comma-separated samplers, e.g. full_batch,shuffled_cyclic. "
              "Default: GD, with replacement (B=1, 32), without replacement (32), cyclic (1), "
              "shuffled cyclic (1, 32), shuffle once (32).")
@click.option("--batch-sizes", default=None, help="Comma-separated batch sizes for --schemes (default 1,32).")
@click.option("--methods", default=None, help="Comma-separated methods for --schemes (default plain): "
              + config.METHOD_HELP + ". E.g. plain,heavy_ball:0.9,svrg,saga,polyak_average.")
@click.option("--step", default=None, help="A number, or c/L, c/L_B, c/L_max, e.g. 0.5/L, or polyak, "
              "stochastic_polyak. Default: 1/L for gradient descent, 0.5/L_B (the largest step of SGD's theorem) "
              "for the others.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--record-every", type=float, default=1, show_default=True,
              help="Epochs between history rows: a whole number, or 1/m of an epoch (0.5, 0.25, …) to see inside "
              "epochs.")
@click.option("--test-fraction", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
              help="Hold out this fraction of the rows (stratified for classifiers) and record test_loss (and "
              "test_accuracy) beside the training curves.")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Stop a run once test_loss (loss without --test-fraction) has not improved for this many epochs.")
@click.option("--out", default=None, help="Results folder (default: results/<problem>-<data>).")
@click.option("--title", default=None, help="The report's title.")
@_goal_option
@_overwrite_option
def compare(problem_table, schemes, batch_sizes, methods, step, epochs, seeds, record_every, test_fraction, patience,
            out, title, goal, overwrite):
    """Run sampling schemes side by side over seeds and write an HTML report."""
    runs = _runs(schemes, batch_sizes, methods)
    if step is not None:
        runs = {name: {**run, "step": step} for name, run in runs.items()}
    if test_fraction is not None:
        problem_table["test_fraction"] = test_fraction
    document = {"problem": problem_table,
                "compare": {"epochs": epochs, "seeds": seeds, "record_every": record_every, "out": out, "title": title,
                            "goal": goal, "patience": patience},
                "runs": runs}
    document["compare"] = {k: v for k, v in document["compare"].items() if v is not None}
    _execute(config.validated(document, where="sgdlab compare"), overwrite)


@cli.command("batch-size")
@_problem_options
@click.option("--sizes", default="1,4,16,64,256", show_default=True, help="Comma-separated, increasing batch sizes.")
@click.option("--sampler", type=SCHEMES, default="shuffled_cyclic", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--out", default=None, help="Results folder (default: results/batch-size-<problem>-<data>).")
@_overwrite_option
def batch_size(problem_table, sizes, sampler, epochs, seeds, out, overwrite):
    """Compare batch sizes per epoch and per second, with the noise scale B_simple and the throughput knee."""
    from sgdlab.experiments import batch_size as study
    from sgdlab.experiments.report import write_report

    sizes = _split(sizes, "--sizes", int)
    document = {"problem": problem_table,
                "compare": {"epochs": epochs, "seeds": seeds}, "runs": config.product_runs([sampler], sizes)}
    experiment = config.validated(document, where="sgdlab batch-size")
    problem, _, default_out, title, _, _ = config.build(experiment)
    out = out or str(Path(default_out).with_name("batch-size-" + Path(default_out).name))
    with _Progress() as on_epoch:
        comparison, analysis = study.study(problem, sizes, sampler, seeds=seeds, epochs=epochs, out=out,
                                           title=f"batch size: {title}", on_epoch=on_epoch, overwrite=overwrite,
                                           source=config.source(experiment))
    _print_summary(comparison, title)
    click.echo(f"B_simple at θ⁰ = {analysis['b_simple']:.4g}; throughput knee B = {analysis['knee']}")
    click.echo(f"report: {write_report(out)}")


@cli.command("step-sweep")
@_problem_options
@click.option("--schemes", default="full_batch,with_replacement,shuffled_cyclic", show_default=True,
              help="Comma-separated samplers.")
@click.option("--batch-sizes", default="1", show_default=True, help="Comma-separated batch sizes for --schemes.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--out", default=None, help="Results folder (default: results/step-sweep-<problem>-<data>).")
def step_sweep(problem_table, schemes, batch_sizes, epochs, seeds, out):
    """Sweep constant steps over α·L in [0.05, 4] and find where each sampler's runs start to diverge."""
    from sgdlab.experiments import step_sweep as sweep

    document = {"problem": problem_table,
                "runs": _runs(schemes, batch_sizes)}
    experiment = config.validated(document, where="sgdlab step-sweep")
    problem, runs, default_out, title, _, _ = config.build(experiment)
    out = out or str(Path(default_out).with_name("step-sweep-" + Path(default_out).name))
    with _Progress() as on_epoch:
        result = sweep.step_sweep(problem, [run["sampler"] for run in runs.values()], seeds=seeds, epochs=epochs,
                                  on_epoch=on_epoch)
    _print_table(result.edges_table(), f"step sweep: {title}")
    click.echo(f"report: {result.save(out, f'step sweep: {title}')}")


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@_overwrite_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes; each group of runs sharing a compiled program is one task.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="A Dask scheduler whose workers run the groups (needs sgdlab[dask]); not with --workers.")
def run(experiment, overwrite, workers, scheduler):
    """Run the comparison (or, with [[problems]] tables, the study) described by an EXPERIMENT TOML file
    (format: see the README)."""
    if scheduler is not None and workers != 1:
        raise click.BadParameter("give either --workers or --scheduler, not both.", param_hint="--scheduler")
    _execute(config.read(experiment), overwrite, workers, scheduler)


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
def report(folder):
    """Rebuild FOLDER/report.html from the saved tables of a comparison or a study."""
    from sgdlab.experiments.report import write_report

    click.echo(f"report: {write_report(folder)}")


def _runs(schemes: str | None, batch_sizes: str | None, methods: str | None = None) -> dict:
    if schemes is None and batch_sizes is None and methods is None:
        return config.default_runs()
    names = _split(schemes, "--schemes", str) if schemes else list(config.SAMPLER_NAMES)
    for name in names:
        if name not in config.SAMPLER_NAMES:
            raise click.BadParameter(f"{name!r} is not one of {', '.join(config.SAMPLER_NAMES)}.",
                                     param_hint="--schemes")
    sizes = _split(batch_sizes, "--batch-sizes", int) if batch_sizes else [1, 32]
    chosen = _split(methods, "--methods", str) if methods else None
    for method in chosen or []:
        config.split_method(method)
    return config.product_runs(names, sizes, chosen)


def _split(text: str, option: str, kind):
    try:
        values = [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated {'integers' if kind is int else 'names'}; got {text!r}.",
                                 param_hint=option) from None
    if not values or (kind is int and min(values) < 1):
        raise click.BadParameter(f"expected a comma-separated list of values >= 1; got {text!r}.", param_hint=option)
    return values


def _execute(experiment: dict, overwrite: bool, workers: int = 1, scheduler: str | None = None) -> None:
    """Build the problem, run the comparison with a progress bar (on ``workers`` local processes or a Dask
    ``scheduler``'s workers), print the summary, write the report. A study's description (``[[problems]]``) goes
    to :func:`_execute_study`."""
    from sgdlab.experiments.compare import compare
    from sgdlab.experiments.report import write_report

    if "problems" in experiment:
        _execute_study(experiment, overwrite, workers, scheduler)
        return
    built = config.build(experiment)
    with _executor(workers, scheduler) as executor, _Progress() as on_epoch:
        comparison = compare(built.problem, built.runs, **_comparison_options(experiment, built), out=built.out,
                             on_epoch=on_epoch, overwrite=overwrite, executor=executor)
    _print_summary(comparison, built.title)
    _print_counts([comparison], built.out)
    click.echo(f"report: {write_report(built.out)}")


def _execute_study(experiment: dict, overwrite: bool, workers: int, scheduler: str | None) -> None:
    """Build every problem of a study, run their comparisons as one study (all run groups at once) with one progress
    bar, print each summary and the overview, write the reports."""
    from sgdlab.experiments.compare import plan
    from sgdlab.experiments.report import write_report
    from sgdlab.experiments.study import run_study
    from sgdlab.experiments.study_folder import problem_folder
    from sgdlab.experiments.summary import overview_label

    out, title = config.study_out(experiment), config.study_title(experiment)
    sessions, titles = {}, {}
    for name, description in config.each_problem(experiment).items():
        built = _built_problem(name, description)
        sessions[name] = plan(built.problem, built.runs, **_comparison_options(description, built),
                              out=problem_folder(out, name), overwrite=overwrite)
        titles[name] = built.title if experiment["compare"]["title"] else f"{name}: {built.title}"   # names it
    with _executor(workers, scheduler) as executor, _Progress() as on_epoch:
        result = run_study(sessions, out, executor, on_epoch, title, overwrite)
    for name, comparison in result.comparisons.items():
        _print_summary(comparison, titles[name])
    grid = result.overview()
    _print_table(grid.rename_axis(columns=None).reset_index(), f"overview: {overview_label(grid.attrs['metric'])}")
    _print_counts(list(result.comparisons.values()), out)
    click.echo(f"report: {write_report(out)}")


def _built_problem(name: str, description: dict) -> config.Built:
    """One problem of a study built, an error in it naming the problem."""
    from sgdlab._helpers.validation import InvalidType, InvalidValue

    try:
        return config.build(description)
    except (InvalidValue, InvalidType, OSError) as error:
        raise type(error)(f"[[problems]] {name!r}: {error}") from error


def _comparison_options(description: dict, built: config.Built) -> dict:
    """The keyword arguments of compare (and of plan) that a validated description sets."""
    settings = description["compare"]
    return dict(seeds=settings["seeds"], epochs=settings["epochs"], record_every=settings["record_every"],
                title=built.title, source=config.source(description),
                goal=settings["goal"], heldout=built.heldout, stop=built.stop)


def _print_counts(comparisons: list, out: str) -> None:
    """How many runs were computed, recomputed (their saved file did not verify) and reused from ``out``."""
    total = sum(len(comparison.table.groupby(["run", "seed"])) for comparison in comparisons)
    reused = sum(comparison.reused for comparison in comparisons)
    recomputed = sum(comparison.recomputed for comparison in comparisons)
    said = f" ({recomputed} of them recomputed: their saved file did not verify)" if recomputed else ""
    click.echo(f"{total - reused} runs computed{said}, {reused} reused from {out}")


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None):
    """None for one local worker (this process); a pool of that many spawned processes (JAX's threads do not
    survive a fork); or the executor of a client of the Dask ``scheduler``."""
    if scheduler is not None:
        try:
            import distributed
        except ImportError:
            raise click.UsageError("--scheduler needs Dask's distributed: pip install 'sgdlab[dask]'.") from None
        try:
            client = distributed.Client(scheduler, timeout=10)
        except OSError as error:
            raise click.BadParameter(f"no Dask scheduler answered at {scheduler} ({error}).",
                                     param_hint="--scheduler") from None
        with client:
            yield client.get_executor()
    elif workers == 1:
        yield None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool


class _Progress:
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


def _print_summary(comparison, title: str) -> None:
    import numpy as np
    from rich.table import Table

    from sgdlab.experiments.summary import heldout_score

    summary = comparison.summary()
    metric = summary.attrs["metric"]
    table = Table(title=f"{title}: final {metric} across seeds; target {metric} ≤ {summary.attrs['target']:.3g}")
    averaged = summary[f"final averaged {metric}"].notna().any()
    passes = not np.allclose(summary["gradient passes"], comparison.table.epoch.max())
    score = heldout_score(comparison.table)
    scores = [] if score is None else [f"final {score}", f"best {score}", f"epoch of best {score}"]
    columns = ["run", "α·L", f"median {metric}", "q25–q75", *([f"θ̄ {metric}"] if averaged else []),
               *(["passes"] if passes else []), "reached", "epochs to target",
               *([] if score is None else [score.replace("_accuracy", " acc").replace("_", " "), "best", "at epoch"]),
               "status"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "status") else "right")
    for _, row in summary.iterrows():
        table.add_row(str(row["run"]), _fmt(row["α·L"]), _fmt(row[f"final {metric}"]),
                      f"{_fmt(row[f'final {metric} q25'])}–{_fmt(row[f'final {metric} q75'])}",
                      *([_fmt(row[f"final averaged {metric}"])] if averaged else []),
                      *([_fmt(row["gradient passes"])] if passes else []),
                      str(row["reached"]), _fmt(row["epochs to target"]), *(_fmt(row[column]) for column in scores),
                      str(row["status"]))
    _console().print(table)
    _print_stops(comparison.table)


#: The most early stops printed in the terminal (the report lists them all).
PRINTED_STOPS = 12


def _print_stops(table) -> None:
    """The message of every run and seed that diverged or converged before its budget (the first PRINTED_STOPS)."""
    from sgdlab.experiments.summary import stops

    early = stops(table)
    for row in early.head(PRINTED_STOPS).itertuples(index=False):
        click.echo(f"{row.run}, seed {row.seed}: {row.message}")
    if len(early) > PRINTED_STOPS:
        click.echo(f"… and {len(early) - PRINTED_STOPS} more runs that stopped early (listed in the report).")


def _print_table(frame, title: str) -> None:
    """A DataFrame as a rich table, text left and numbers right."""
    from rich.table import Table

    table = Table(title=title)
    from pandas.api.types import is_numeric_dtype

    for column in frame.columns:
        table.add_column(str(column), justify="right" if is_numeric_dtype(frame[column]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(value) for value in row))
    _console().print(table)


def _console():
    """A rich console, 130 columns wide when the output is not a terminal."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=130)


def _fmt(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if value != value else ("∞" if value == float("inf") else f"{value:.3g}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: one line and exit code 2 for bad input."""
    from sgdlab._helpers.validation import InvalidType, InvalidValue

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_once()
            code = cli.main(argv, prog_name="sgdlab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("sgdlab: aborted.", err=True)
        return 130
    except click.ClickException as error:
        click.echo(f"sgdlab: error: {error.format_message()}", err=True)
        return 2
    except (InvalidValue, InvalidType, OSError) as error:
        click.echo(f"sgdlab: error: {error}", err=True)
        return 2
    return code if isinstance(code, int) else 0


def _warn_once():
    """A ``warnings.showwarning`` that prints each distinct message once, as one line without source code."""
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"sgdlab: {category.__name__}: {message}"
        if text not in shown:
            shown.add(text)
            click.echo(text, err=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
