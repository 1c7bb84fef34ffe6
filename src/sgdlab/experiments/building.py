"""What a validated experiment description (:mod:`sgdlab.experiments.config`) builds: the problem from its data
and its family's registered factory, the runs' samplers, methods and averagings from their registries, the results
folder, the title, held-out data and early stopping."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from sgdlab._helpers import validation
from sgdlab._helpers.files import file_sha256
from sgdlab.experiments import entries
from sgdlab.experiments.config import NAMED_DATA, SCHEMA
from sgdlab.methods import AVERAGINGS, METHODS
from sgdlab.problems import FAMILIES
from sgdlab.samplers import SAMPLERS

#: The keys of a run table that are not its sampler's parameters.
RUN_KEYS = tuple(SCHEMA["run"])
#: The keys of a problem table that say which data, not which family.
DATA_KEYS = (*SCHEMA["problem"], *SCHEMA["problems"])


class Built(NamedTuple):
    """What a validated description builds: the training problem, the runs for ``compare``, the results folder,
    the title, the held-out problems (``heldout=``, None without a test fraction) and the stopping rule."""

    problem: Any
    runs: dict
    out: str
    title: str
    heldout: dict | None
    stop: Any


def build(experiment: dict) -> Built:
    """The problem, the runs for ``compare``, the results folder and the rest (:class:`Built`) of a validated
    description."""
    from sgdlab import data

    spec, runs = experiment["problem"], checked(experiment)
    dataset = data.load(spec["data"], spec["target"])
    parts = [(dataset.X, dataset.y)]
    if spec["test_fraction"] is not None:
        rows = dataset.X.shape[0]
        if math.ceil(spec["test_fraction"] * rows) >= rows:
            validation.fail("test_fraction", f"a fraction that leaves training rows (at most {(rows - 1) / rows:.4g} "
                            f"of the {rows} rows)", validation.shown(spec["test_fraction"]))
        classifier = FAMILIES.facts(spec["kind"]).get("classifier", False)
        parts = data.split(dataset.X, dataset.y, fractions=(1.0 - spec["test_fraction"], spec["test_fraction"]),
                           seed=0, stratify=dataset.y if classifier else None)
    training_rows = parts[0][0]
    built = []
    for X, y in parts:
        X = data.standardize(X, like=training_rows) if spec["standardize"] else X
        X = data.with_intercept(X) if spec["intercept"] else X
        built.append((X, y))
    problem = problem_of(spec, *built[0])
    heldout = {"test": problem.with_data(*built[1])} if len(built) > 1 else None
    out = results_folder(experiment)
    title = experiment["compare"]["title"] or f"{spec['kind'].replace('_', ' ')} on {dataset.name}"
    return Built(problem, runs, out, title, heldout, _stop(experiment["compare"], heldout is not None))


def results_folder(experiment: dict) -> str:
    """A validated description's results folder: [compare] out, else results/<family>-<data's name>."""
    spec = experiment["problem"]
    return experiment["compare"]["out"] or f"results/{spec['kind']}-{Path(str(spec['data'])).stem}"


def checked(experiment: dict) -> dict:
    """The runs of a validated description as ``compare`` takes them (:func:`run_settings`), each step checked
    against the problem's family (:func:`sgdlab.experiments.steps.check_written`) and the data named checked to
    exist: all before any data is read, and without JAX (the registries load without it)."""
    from sgdlab.data import checked_source

    checked_source(experiment["problem"]["data"])
    from sgdlab.experiments.steps import DEFAULT_STEP, check_written

    family = FAMILIES.product(experiment["problem"]["kind"])
    runs = {name: run_settings(run, f"[runs.{name}]") for name, run in experiment["runs"].items()}
    for run in runs.values():
        check_written(run.get("step", DEFAULT_STEP), run["sampler"], family)
    return runs


def problem_of(spec: dict, X, y):
    """The problem of a [problem] table on (X, y): its family's factory with the table's other keys."""
    hyperparameters = {key: value for key, value in spec.items() if key not in DATA_KEYS}
    return FAMILIES.build(spec["kind"], hyperparameters, f"[problem] {spec['kind']}", X, y)


def run_settings(run: dict, where: str) -> dict:
    """A validated run table as ``compare`` takes it: the sampler built from its name and parameters, the step as
    written, the method and averaging built from their registries."""
    sampler = SAMPLERS.build(*sampler_spec(run), f"{where} sampler")
    built: dict[str, Any] = {"sampler": sampler, **({"step": run["step"]} if "step" in run else {})}
    if "method" in run:
        built["method"] = entries.build(run["method"], METHODS, f"{where} method")
    if "average" in run:
        built["average"] = entries.build(run["average"], AVERAGINGS, f"{where} average")
    return built


def sampler_spec(run: dict) -> tuple[str, dict]:
    """(the sampler's registered name, its parameters) of a validated run table."""
    return run["sampler"], {key: value for key, value in run.items() if key not in RUN_KEYS}


def each_problem(experiment: dict) -> dict[str, dict]:
    """A validated study's description as one description of a comparison per problem, by name (each titled
    "<the study's title>: <name>" when the study has a title)."""
    settings, title = experiment["compare"], experiment["compare"]["title"]
    return {spec["name"]: {"problem": {key: value for key, value in spec.items() if key != "name"},
                           "compare": {**settings, "title": title and f"{title}: {spec['name']}"},
                           "runs": experiment["runs"]}
            for spec in experiment["problems"]}


def named(name: str, step: Callable[..., Any], *arguments: Any) -> Any:
    """``step(*arguments)`` for one problem of a study, an error in it naming the problem ("[[problems]] 'name': …")."""
    try:
        return step(*arguments)
    except (validation.InvalidValue, validation.InvalidType, OSError) as error:
        raise type(error)(f"[[problems]] {name!r}: {error}") from error


def study_out(experiment: dict) -> str:
    """A validated study's results folder: [compare] out, else results/study-<its problems' names>."""
    return experiment["compare"]["out"] or "results/study-" + "-".join(spec["name"] for spec in experiment["problems"])


def study_title(experiment: dict) -> str:
    """A validated study's title: [compare] title, else e.g. "logistic on w8a, a9a"."""
    kinds = dict.fromkeys(spec["kind"].replace("_", " ") for spec in experiment["problems"])
    names = ", ".join(spec["name"] for spec in experiment["problems"])
    return experiment["compare"]["title"] or f"{' and '.join(kinds)} on {names}"


def _stop(settings: dict, heldout: bool):
    """The [compare] table's early stopping (None without patience): on patience_on, by default test_loss with
    held-out rows, else loss."""
    from sgdlab.run.stopping import patience

    if settings["patience"] is None:
        if settings["patience_on"] is not None:
            validation.fail("[compare] patience_on", "given with patience", validation.shown(settings["patience_on"]))
        return None
    return patience(settings["patience_on"] or ("test_loss" if heldout else "loss"), settings["patience"])


def source(experiment: dict, digest: str | None = None) -> dict:
    """What a validated description builds its problem from, for experiment.json: its [problem] table (the keys
    left unset out), with a data file's absolute path and SHA-256 (``digest`` when the caller has just checked
    it, else read; a bundled set is named, its version scikit-learn's)."""
    spec = {key: value for key, value in experiment["problem"].items() if value is not None}
    if spec["data"] not in NAMED_DATA:
        path = Path(spec["data"]).resolve()
        spec.update(data=str(path), data_sha256=digest or file_sha256(path))
    return spec


def comparison_options(description: dict, built: Built, digest: str | None = None) -> dict:
    """The keyword arguments of ``compare`` (and of ``plan``) that a validated description sets (``digest``: its
    data file's SHA-256, when the caller has just checked it)."""
    settings = description["compare"]
    return dict(seeds=settings["seeds"], epochs=settings["epochs"], record_every=settings["record_every"],
                title=built.title, source=source(description, digest), goal=settings["goal"], heldout=built.heldout,
                stop=built.stop, curvature_every=settings["curvature_every"])
