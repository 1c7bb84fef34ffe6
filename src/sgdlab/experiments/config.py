"""Experiment descriptions: the TOML file format of ``sgdlab run``, also built from ``sgdlab compare``'s options.

An experiment file has three kinds of tables (every key optional unless marked)::

    [problem]
    kind = "least_squares"     # a registered problem family (sgdlab.problems.FAMILIES): least_squares | logistic |
                               # softmax | mlp (a ReLU network classifier) | a third party's
    data = "diabetes"          # diabetes | breast_cancer | digits | synthetic | a file path
    target = "price"           # the target column of a CSV or Parquet file (default: the last)
    standardize = true         # center and scale every feature column
    intercept = true           # append a column of ones
    l2 = 0.0                   # any parameter of the family's factory after X and y, e.g. l2 (logistic,
    class_weight = "balanced"  # softmax), class_weight, hidden = [64] (mlp; its L_B is not known: give a step)
    test_fraction = 0.2        # hold out this fraction of the rows (stratified for classifiers): columns
                               # test_loss (and test_accuracy); features standardized by the training rows

    [compare]
    epochs = 20
    seeds = 10
    record_every = 1           # epochs between history rows, or 1/m of an epoch (0.5, 0.25, …): rows inside epochs
    out = "results/diabetes"   # the results folder (default: results/<kind>-<data>)
    title = "Sampling schemes on diabetes"
    goal = 1e-3                # the summary's target: this fraction of the starting F − p* (or ‖∇F‖)
    patience = 5               # stop a run once patience_on has not improved for this many epochs
    patience_on = "test_loss"  # the column watched (default test_loss with held-out rows, else loss)
    curvature_every = 1        # record sharpness, Hessian trace and batch sharpness every this many epochs

    [runs.gd]                  # one table per run; the name is yours
    sampler = "full_batch"     # required: a registered sampler (sgdlab.samplers.SAMPLERS): full_batch |
                               #   with_replacement | without_replacement | importance | importance_shuffled | cyclic |
                               #   shuffled_cyclic | shuffle_once | flip_flop | shuffled_chunks | grab, or a table
                               #   such as { name = "importance", batch_size = 4, weights = "lipschitz" }
    batch_size = 1             # and any parameter of the sampler's factory: batch_size (not for full_batch),
    weights = "lipschitz"      # weights (importance), chunk (shuffled_chunks), drop_last (the orders)
    step = "1/L_B"             # a number, "c/L", "c/L_B", "c/L_max", a step rule "polyak" or
                               # "stochastic_polyak:c=0.2", or a schedule table such as
                               # { schedule = "inverse_time", alpha0 = "1/L_B", decay = 0.001 }
    method = "plain"           # a registered method: plain | heavy_ball:β | nesterov:β | svrg:snapshot_every |
                               # loopless_svrg:p | saga, NAME:key=value, or { name = "heavy_ball", beta = 0.5 }
    average = "ema:0.99"       # optional, the same way: polyak_average:start | tail_average:fraction | ema:decay

A study runs the same [runs] on several problems: in place of [problem], one [[problems]] table each, with the
keys of [problem] and a ``name`` (default: the data's file name without its extension; names must differ)::

    [[problems]]
    name = "w8a"
    kind = "logistic"
    data = "../shared/data/libsvm/w8a"

    [[problems]]
    kind = "logistic"
    data = "../shared/data/libsvm/a9a"   # named "a9a"

Its results folder (default: results/study-<names>) holds each problem's comparison and the study's table and
report (:mod:`sgdlab.experiments.study_folder`).

A wrong key or a wrong type is an error that names the table, the key and what is allowed.
Relative paths (data, out) are read from the file's folder.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from sgdlab._helpers import validation
from sgdlab.experiments import entries

NAMED_DATA = ("diabetes", "breast_cancer", "digits", "synthetic")

#: A problem's name in a study: it names its folder.
PROBLEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: table -> key -> (allowed types, what to say). A problem table also takes its family's parameters, and a run
#: table its sampler's (read from their registries).
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], str]]] = {
    "problem": {"kind": (str, "a registered problem family"), "data": (str, "a bundled name or a path"),
                "target": ((str, int), "a column name or index"), "standardize": (bool, "true or false"),
                "intercept": (bool, "true or false"),
                "test_fraction": (float, "a fraction in (0, 1) of the rows to hold out")},
    "problems": {"name": (str, "letters, digits, '.', '_' and '-' (it names the problem's folder)")},
    "compare": {"epochs": (int, "an integer >= 1"), "seeds": (int, "an integer >= 1"),
                "record_every": ((int, float), "a whole number of epochs, or 1/m of one (0.5, 0.25, …)"),
                "out": (str, "a folder path"), "title": (str, "text"),
                "goal": ((int, float), "a fraction in (0, 1) of the starting value"),
                "patience": (int, "an integer >= 1 (epochs without improvement)"),
                "patience_on": (str, "a history column such as test_loss, test_accuracy or loss"),
                "curvature_every": (int, "an integer >= 1 (epochs between curvature rows)")},
    "run": {"sampler": ((str, dict), "a registered sampler's name, or a table with its name and parameters"),
            "step": ((str, int, float, dict), "a number, 'c/L', 'c/L_B', 'c/L_max', a step rule or a schedule table"),
            "method": ((str, dict), "a registered method: NAME, NAME:x, NAME:key=value or a table"),
            "average": ((str, dict), "a registered averaging: NAME, NAME:x, NAME:key=value or a table")},
}
PROBLEM_DEFAULTS = {"kind": "least_squares", "data": None, "target": None, "standardize": True, "intercept": True,
                    "test_fraction": None}
COMPARE_DEFAULTS = {"epochs": 20, "seeds": 10, "record_every": 1, "out": None, "title": None, "goal": 1e-3,
                    "patience": None, "patience_on": None, "curvature_every": None}


def read(path) -> dict:
    """Read and validate an experiment file; returns {"problem": ..., "compare": ..., "runs": ...}."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        validation.fail("EXPERIMENT", "an existing TOML file", str(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        validation.fail("EXPERIMENT", "a readable TOML file", f"{path}: {error}")
    experiment = validated(document, where=path.name)
    for spec in experiment.get("problems", [experiment.get("problem")]):
        if spec["data"] not in NAMED_DATA:
            spec["data"] = os.path.normpath(path.parent / spec["data"])
    if experiment["compare"]["out"] is not None:
        experiment["compare"]["out"] = os.path.normpath(path.parent / experiment["compare"]["out"])
    return experiment


def validated(document: dict, where: str = "experiment") -> dict:
    """Check every table and key of an experiment description and fill in the defaults: {"problem": ...,
    "compare": ..., "runs": ...}, or for a study {"problems": [...], ...}, each problem with its "name"."""
    unknown = set(document) - {"problem", "problems", "compare", "runs"}
    if unknown:
        validation.fail(f"{where}", "made of the tables [problem] (or [[problems]]), [compare] and [runs.NAME]",
                        f"unknown table(s) {sorted(unknown)}")
    if "problem" in document and "problems" in document:
        validation.fail(f"{where}", "one [problem] table, or [[problems]] tables for a study, not both", "both")
    compare = {**COMPARE_DEFAULTS, **_table(document.get("compare", {}), "compare", where, SCHEMA["compare"])}
    from sgdlab.experiments.run_tables import default_runs  # the registries load JAX: not for `sgdlab --help`

    runs = document.get("runs") or default_runs()
    if not isinstance(runs, dict):
        validation.fail(f"{where} [runs]", "tables [runs.NAME]", validation.shown(runs), error=TypeError)
    runs = {name: _run(settings, name, where) for name, settings in runs.items()}
    if "problems" in document:
        return {"problems": _problems(document["problems"], where), "compare": compare, "runs": runs}
    return {"problem": _problem_table(document.get("problem", {}), "problem", where), "compare": compare,
            "runs": runs}


def family_keys(kind: str) -> dict[str, tuple[type | tuple[type, ...], str]]:
    """The keys a problem table takes for the family ``kind``: its factory's parameters after X and y (any type:
    the factory checks the values)."""
    from sgdlab.problems import FAMILIES

    return dict.fromkeys(FAMILIES.parameters(kind), (object, f"a value {kind} takes"))


def _problem_table(values, table: str, where: str) -> dict:
    """A [problem] (or one [[problems]]) table checked, with the defaults filled in."""
    from sgdlab.problems import FAMILIES

    if not isinstance(values, dict):
        validation.fail(f"{where} [{table}]", "a table", validation.shown(values), error=TypeError)
    kind = FAMILIES.named(values.get("kind", PROBLEM_DEFAULTS["kind"]), f"{where} [{table}] kind")
    schema = {**SCHEMA["problem"], **(SCHEMA["problems"] if table == "problems" else {}), **family_keys(kind)}
    problem = {**PROBLEM_DEFAULTS, **_table(values, table, where, schema)}
    problem["data"] = problem["data"] or FAMILIES.facts(kind).get("data", "synthetic")
    if problem["test_fraction"] is not None:
        validation.fraction(f"{where} [{table}] test_fraction", problem["test_fraction"])
    return problem


def _problems(tables, where: str) -> list[dict]:
    """The [[problems]] tables checked, each named (by default its data's file name without extension), the
    names distinct."""
    if not isinstance(tables, list) or not tables:
        validation.fail(f"{where} [[problems]]", "one or more [[problems]] tables", validation.shown(tables),
                        error=TypeError)
    problems = []
    for table in tables:
        spec = _problem_table(table, "problems", where)
        spec["name"] = spec.get("name") or Path(str(spec["data"])).name.split(".")[0]
        if not PROBLEM_NAME.fullmatch(spec["name"]):
            validation.fail(f"{where} [[problems]] name", SCHEMA["problems"]["name"][1],
                            validation.shown(spec["name"]))
        problems.append(spec)
    names = [spec["name"] for spec in problems]
    if len(set(names)) != len(names):
        validation.fail(f"{where} [[problems]] name", "a different name for each problem (give name = \"...\")",
                        f"the names {names}")
    return problems


def _table(values, table: str, where: str, schema: dict) -> dict:
    """A table whose every key is one of ``schema``'s, of an allowed type."""
    if not isinstance(values, dict):
        validation.fail(f"{where} [{table}]", "a table", validation.shown(values), error=TypeError)
    for key, value in values.items():
        if key not in schema:
            validation.fail(f"{where} [{table}]", f"made of the keys {', '.join(schema)}", f"unknown key {key!r}")
        types, allowed = schema[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)
                                            and object not in _as_tuple(types)):
            validation.fail(f"{where} [{table}] {key}", allowed, validation.shown(value), error=TypeError)
    return dict(values)


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _run(settings, name: str, where: str) -> dict:
    """A [runs.NAME] table checked: its sampler named (text or a table), the keys its run and its sampler's factory
    take; the sampler as a table becomes its name beside its parameters."""
    from sgdlab.samplers import SAMPLERS

    if not isinstance(settings, dict):
        validation.fail(f"{where} [runs.{name}]", "a table", validation.shown(settings), error=TypeError)
    if "sampler" not in settings:
        validation.fail(f"{where} [runs.{name}]", "a table with a sampler key", f"keys {sorted(settings)}")
    run = dict(settings)
    if isinstance(run["sampler"], dict):
        sampler, parameters = entries.read_table(run["sampler"], SAMPLERS, f"{where} [runs.{name}] sampler")
        run.update(parameters, sampler=sampler)
    sampler = SAMPLERS.named(run["sampler"], f"{where} [runs.{name}] sampler")
    keys = {**SCHEMA["run"], **dict.fromkeys(SAMPLERS.parameters(sampler), (object, f"a value {sampler} takes"))}
    return _table(run, f"runs.{name}", where, keys)
