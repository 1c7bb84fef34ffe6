"""The sgdlab command: ``compare`` (the main job), ``run EXPERIMENT.toml``, ``report FOLDER``,
``batch-size`` and ``step-sweep``.

Heavy modules (JAX, the engine, matplotlib) load inside the commands, so ``sgdlab --help`` answers
at once. Bad input ends with one line naming what was wrong and what is allowed, and exit code 2.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import click

import sgdlab
from sgdlab.experiments import config, console, entries


class _RegistryHelp(click.Option):
    """An option whose help is written when it is shown (it lists a registry's names, whose modules load JAX: not
    for ``sgdlab --help``); ``help_text`` makes it."""

    def __init__(self, *args, help_text: Callable[[], str], **kwargs):
        super().__init__(*args, **kwargs)
        self.help_text = help_text

    def get_help_record(self, ctx):
        self.help = self.help_text()
        return super().get_help_record(ctx)


def _registry(kind: str):
    """The registry of ``kind`` ("problems", "samplers", "methods"), its modules loaded."""
    from sgdlab import methods, problems, samplers

    return {"problems": problems.FAMILIES, "samplers": samplers.SAMPLERS, "methods": methods.METHODS}[kind]


def _step_rules() -> str:
    from sgdlab.experiments.entries import usage
    from sgdlab.schedules import STEP_RULES

    return usage(STEP_RULES)


def _run_tables():
    from sgdlab.experiments import run_tables

    return run_tables


def _building():
    from sgdlab.experiments import building

    return building


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sgdlab.__version__, prog_name="sgdlab")
def cli():
    """Gradient descent and every sampling scheme of SGD, side by side, as the theory states them."""


def _problem_options(command):
    """The options that say which problem to build (shared by compare, batch-size and step-sweep), given to the
    command as one ``problem_table``: the TOML's [problem] without the options left unset."""
    options = [
        click.option("--problem", "kind", default="least_squares", show_default=True, cls=_RegistryHelp,
                     help_text=lambda: f"What to minimize: a problem family, {_registry('problems').allowed()}."),
        click.option("--data", default=None, help="diabetes, breast_cancer, digits, synthetic, or a file "
                     "(.npy, .npz, .csv, .parquet, svmlight). Default: diabetes / breast_cancer / digits by problem."),
        click.option("--target", default=None, help="The target column of a CSV or Parquet file (default: the last)."),
        click.option("--standardize/--no-standardize", default=True, show_default=True,
                     help="Center and scale features."),
        click.option("--intercept/--no-intercept", default=True, show_default=True, help="Append a column of ones."),
        click.option("--l2", type=float, default=None, help="ℓ2 weight (logistic and softmax) [default: 0]."),
        click.option("--class-weight", type=click.Choice(["balanced"]), default=None,
                     help="Weigh each class's losses by N / (K · its count) (logistic and softmax)."),
        click.option("--hidden", default=None, help="The hidden layers' widths of --problem mlp, e.g. 64 or 128,64 "
                     "[default: 64]. A network's L_B is not known: give --step."),
        click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
                     help="Any other parameter of the problem family's factory, e.g. --param delta=2 (repeatable)."),
    ]

    @functools.wraps(command)
    def with_problem(**given):
        problem = {key: given.pop(key) for key in PROBLEM_OPTIONS}
        if problem["hidden"] is not None:
            problem["hidden"] = _split(problem["hidden"], "--hidden", int)
        table = {key: value for key, value in problem.items() if value is not None and key != "params"}
        return command(problem_table={**table, **_assignments(problem["params"], "--param")}, **given)

    for option in reversed(options):
        with_problem = option(with_problem)
    return with_problem


#: The options of :func:`_problem_options`, by their parameter names.
PROBLEM_OPTIONS = ("kind", "data", "target", "standardize", "intercept", "l2", "class_weight", "hidden", "params")


def _assignments(texts: tuple[str, ...], option: str) -> dict:
    """{key: value} of KEY=VALUE texts, each value read as TOML reads it (a bare word stays text)."""
    settings = {}
    for text in texts:
        key, equals, value = text.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE; got {text!r}.", param_hint=option)
        settings[key.strip()] = entries.parse_value(value)
    return settings



_goal_option = click.option("--goal", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
                            help="The summary's target as a fraction of the starting F − p* (or ‖∇F‖). [default: 1e-3]")
_overwrite_option = click.option("--overwrite", is_flag=True, help="Let this experiment take over a results folder "
                                 "that holds another one (its table and report are replaced).")


@cli.command()
@_problem_options
@click.option("--schemes", default=None, cls=_RegistryHelp, help_text=lambda: "Comma-separated samplers, "
              f"{_registry('samplers').allowed()}, each NAME or NAME:key=value[:key=value…] (e.g. "
              "shuffled_cyclic,importance:weights=lipschitz). Default: GD, with replacement (B=1, 32), without "
              "replacement (32), cyclic (1), shuffled cyclic (1, 32), shuffle once (32).")
@click.option("--batch-sizes", default=None, help="Comma-separated batch sizes for --schemes (default 1,32).")
@click.option("--methods", default=None, cls=_RegistryHelp, help_text=lambda: "Comma-separated methods for --schemes "
              f"(default plain): {_run_tables().method_help()}. E.g. plain,heavy_ball:0.9,svrg,saga,polyak_average.")
@click.option("--step", default=None, cls=_RegistryHelp, help_text=lambda: "A number, or c/L, c/L_B, c/L_max, "
              f"e.g. 0.5/L, or a step rule, {_step_rules()}. Default: 1/L for gradient descent, 0.5/L_B (the largest "
              "step of SGD's theorem) for the others.")
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
@click.option("--curvature-every", type=click.IntRange(min=1), default=None,
              help="Record the sharpness λ_max(∇²F), the Hessian's trace and the batch sharpness every this many "
              "epochs; the report draws them against each run's stability line 2/α.")
@click.option("--out", default=None, help="Results folder (default: results/<problem>-<data>).")
@click.option("--title", default=None, help="The report's title.")
@_goal_option
@_overwrite_option
def compare(problem_table, schemes, batch_sizes, methods, step, epochs, seeds, record_every, test_fraction, patience,
            curvature_every, out, title, goal, overwrite):
    """Run sampling schemes side by side over seeds and write an HTML report."""
    runs = _runs(schemes, batch_sizes, methods)
    if step is not None:
        runs = {name: {**run, "step": step} for name, run in runs.items()}
    if test_fraction is not None:
        problem_table["test_fraction"] = test_fraction
    document = {"problem": problem_table,
                "compare": {"epochs": epochs, "seeds": seeds, "record_every": record_every, "out": out, "title": title,
                            "goal": goal, "patience": patience, "curvature_every": curvature_every},
                "runs": runs}
    document["compare"] = {k: v for k, v in document["compare"].items() if v is not None}
    _execute(config.validated(document, where="sgdlab compare"), overwrite)


@cli.command("batch-size")
@_problem_options
@click.option("--sizes", default="1,4,16,64,256", show_default=True, help="Comma-separated, increasing batch sizes.")
@click.option("--sampler", default="shuffled_cyclic", show_default=True, cls=_RegistryHelp,
              help_text=lambda: f"The sampler: {_registry('samplers').allowed()}.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--out", default=None, help="Results folder (default: results/batch-size-<problem>-<data>).")
@_overwrite_option
def batch_size(problem_table, sizes, sampler, epochs, seeds, out, overwrite):
    """Compare batch sizes per epoch and per second, with the noise scale B_simple and the throughput knee."""
    from sgdlab.experiments import batch_size as study
    from sgdlab.experiments.report import write_report

    sizes = _split(sizes, "--sizes", int)
    study.sized_sampler(sampler)
    document = {"problem": problem_table,
                "compare": {"epochs": epochs, "seeds": seeds}, "runs": _run_tables().product_runs([sampler], sizes)}
    experiment = config.validated(document, where="sgdlab batch-size")
    problem, _, default_out, title, _, _ = _building().build(experiment)
    out = out or str(Path(default_out).with_name("batch-size-" + Path(default_out).name))
    with console.Progress() as on_epoch:
        comparison, analysis = study.study(problem, sizes, sampler, seeds=seeds, epochs=epochs, out=out,
                                           title=f"batch size: {title}", on_epoch=on_epoch, overwrite=overwrite,
                                           source=_building().source(experiment))
    console.print_summary(comparison, title)
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
    problem, runs, default_out, title, _, _ = _building().build(experiment)
    out = out or str(Path(default_out).with_name("step-sweep-" + Path(default_out).name))
    with console.Progress() as on_epoch:
        result = sweep.step_sweep(problem, [run["sampler"] for run in runs.values()], seeds=seeds, epochs=epochs,
                                  on_epoch=on_epoch)
    console.print_table(result.edges_table(), f"step sweep: {title}")
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
        return _run_tables().default_runs()
    names = _split(schemes, "--schemes", str) if schemes else _run_tables().finite_sum_samplers()
    for name in names:
        if name.partition(":")[0] not in _registry("samplers"):
            raise click.BadParameter(f"{name!r} is not {_registry('samplers').allowed()}.", param_hint="--schemes")
    sizes = _split(batch_sizes, "--batch-sizes", int) if batch_sizes else [1, 32]
    chosen = _split(methods, "--methods", str) if methods else None
    for method in chosen or []:
        _run_tables().split_method(method)
    return _run_tables().product_runs(names, sizes, chosen)


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
    ``scheduler``'s workers), print the summary, write the report and the receipt; or, when the results folder holds
    this very command's receipt and files, unchanged (:mod:`sgdlab.experiments.receipt`), print what it printed. A
    study's description (``[[problems]]``) goes to :func:`_execute_study`."""
    if "problems" in experiment:
        _execute_study(experiment, overwrite, workers, scheduler)
        return
    _building().checked(experiment)   # before JAX is imported and the data are read
    from sgdlab.experiments import receipt

    out = _building().results_folder(experiment)
    digest = receipt.data_digest(str(experiment["problem"]["data"]))
    key = receipt.command_key(experiment, digest)
    printed = receipt.answered(Path(out), key)
    if printed is not None:
        _show(printed, reused=printed["runs"], recomputed=0, out=out)
        return
    comparison, title = _compared(experiment, overwrite, workers, scheduler, digest)
    from sgdlab.experiments.report import write_report

    printed = {"summary": console.summary_rows(comparison, title), "stops": console.stop_lines(comparison.table),
               "runs": console.run_count(comparison), "report": str(write_report(out))}
    _show(printed, comparison.reused, comparison.recomputed, out)
    receipt.write(Path(out), key, printed)


def _compared(experiment: dict, overwrite: bool, workers: int, scheduler: str | None, digest: str) -> tuple:
    """(the comparison, its title) of a validated description: the problem built and its runs computed or reused,
    with a progress bar, the native kernels compiled ahead in a second process meanwhile (:func:`_compiling_ahead`)."""
    helper = _compiling_ahead(experiment)   # first: importing JAX (with compare) takes seconds
    try:
        from sgdlab.experiments.compare import compare

        with _executor(workers, scheduler) as executor:
            built = _building().build(experiment)
            with _saved_when_lost(built.out), console.Progress() as on_epoch:
                comparison = compare(built.problem, built.runs,
                                     **_building().comparison_options(experiment, built, digest=digest),
                                     out=built.out, on_epoch=on_epoch, overwrite=overwrite, executor=executor)
    finally:
        if helper is not None:   # done, or a run failed: what it has not compiled yet is not needed now
            helper.terminate()
            helper.wait()
    return comparison, built.title


def _compiling_ahead(experiment: dict):
    """The process that compiles the native kernels of the experiment's linear model while this one gets ready
    (:mod:`sgdlab.engines.native.ahead`), when its family declares one and they are not cached; else None."""
    from sgdlab._helpers.declared import class_declared
    from sgdlab.data.datasets import is_sparse_source
    from sgdlab.engines.native import ahead
    from sgdlab.problems import FAMILIES

    spec = experiment["problem"]
    loss = class_declared(FAMILIES.product(spec["kind"]), "native_loss")
    samplers = [_building().sampler_spec(run) for run in experiment["runs"].values()]
    return None if loss is None else ahead.started(loss, is_sparse_source(spec["data"]), samplers)


def _show(printed: dict, reused: int, recomputed: int, out: str) -> None:
    """What a comparison's command prints after its progress bar: its summary, early stops, counts and report."""
    console.print_rows(printed["summary"])
    for line in printed["stops"]:
        click.echo(line)
    click.echo(console.counts_line(printed["runs"], reused, recomputed, out))
    click.echo(f"report: {printed['report']}")


def _execute_study(experiment: dict, overwrite: bool, workers: int, scheduler: str | None) -> None:
    """Run a study's comparisons as one study (all run groups at once) with one progress bar, print each summary
    and the overview, write the reports. Every problem's runs are checked before any data is read; on an
    executor, the workers read the data and build the problems (:mod:`sgdlab.experiments.worker_problems`),
    else this process does."""
    out, title = _building().study_out(experiment), _building().study_title(experiment)
    descriptions = _building().each_problem(experiment)
    for name, description in descriptions.items():   # before JAX is imported and any data are read
        _building().named(name, _building().checked, description)
    from sgdlab.experiments.report import write_report
    from sgdlab.experiments.study import run_study
    from sgdlab.experiments.summary import overview_label

    with _executor(workers, scheduler) as executor:
        sessions = _planned_study(descriptions, out, overwrite, executor)
        with _saved_when_lost(out), console.Progress() as on_epoch:
            result = run_study(sessions, out, executor, on_epoch, title, overwrite)
    for name, comparison in result.comparisons.items():   # each summary titled with its problem's name
        own = sessions[name].settings["title"]
        console.print_summary(comparison, own if experiment["compare"]["title"] else f"{name}: {own}")
    grid = result.overview()
    label = overview_label(grid.attrs["metric"])
    console.print_table(grid.rename_axis(columns=None).reset_index(), f"overview: {label}")
    console.print_counts(list(result.comparisons.values()), out)
    click.echo(f"report: {write_report(out)}")


def _planned_study(descriptions: dict[str, dict], out: str, overwrite: bool, executor) -> dict:
    """Each problem's comparison planned (:func:`sgdlab.experiments.compare.plan`), by name: by the executor's
    workers, which read the data, or here without an executor."""
    from sgdlab.experiments.compare import plan
    from sgdlab.experiments.study_folder import problem_folder

    folders = {name: problem_folder(out, name) for name in descriptions}
    if executor is not None:
        from sgdlab.experiments import worker_problems

        return worker_problems.planned(descriptions, executor, folders, overwrite)
    sessions = {}
    for name, description in descriptions.items():
        built = _building().named(name, _building().build, description)
        sessions[name] = plan(built.problem, built.runs, **_building().comparison_options(description, built),
                              out=folders[name], overwrite=overwrite)
    return sessions


@contextlib.contextmanager
def _saved_when_lost(out: str):
    """An executor lost mid-run (:class:`~sgdlab.experiments.groups.ExecutorLost`) ends the command with one line:
    how many runs finished, where they are saved, and that the same command reuses them."""
    from sgdlab.experiments.groups import ExecutorLost

    try:
        yield
    except ExecutorLost as lost:
        raise click.ClickException(f"{lost.what}: {lost.finished} of {lost.total} runs had finished and are saved "
                                   f"in {out}; run the same command again to reuse them and compute the rest."
                                   ) from None


@contextlib.contextmanager
def _dask_logs_quiet():
    """Dask's client logs nothing below CRITICAL while the command runs, nor does tornado, whose event loop it runs
    on: their reconnection tracebacks (tornado's "Exception in callback" when a gathered future's stream closes) would
    bury the one line that says what happened (a lost scheduler: :func:`_saved_when_lost`)."""
    logging.getLogger("tornado.application")   # created now, so that it is in the list below
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.partition(".")[0] in ("distributed", "tornado")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


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
        except (ValueError, TypeError) as error:
            raise click.BadParameter(f"expected a Dask scheduler's address, tcp://HOST:PORT; got {scheduler!r} "
                                     f"({error}).", param_hint="--scheduler") from None
        with _dask_logs_quiet(), client:
            yield client.get_executor()
    elif workers == 1:
        yield None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool


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
