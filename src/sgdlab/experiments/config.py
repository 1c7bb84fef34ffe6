"""Experiment descriptions: the TOML file format of ``sgdlab run``, also built from ``sgdlab compare``'s options.

An experiment file has three kinds of tables (every key optional unless marked)::

    [problem]
    kind = "least_squares"     # least_squares | logistic | softmax | mlp (a ReLU network classifier)
    data = "diabetes"          # diabetes | breast_cancer | digits | synthetic | a file path
    target = "price"           # the target column of a CSV or Parquet file (default: the last)
    standardize = true         # center and scale every feature column
    intercept = true           # append a column of ones
    l2 = 0.0                   # ℓ2 weight (logistic and softmax)
    class_weight = "balanced"  # weigh each class's losses by N / (K · its count) (logistic and softmax)
    hidden = [64]              # the hidden layers' widths (mlp; its L_B is not known: give each run a step)
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

    [runs.gd]                  # one table per run; the name is yours
    sampler = "full_batch"     # required: full_batch | with_replacement | without_replacement | importance |
                               #           importance_shuffled | cyclic | shuffled_cyclic | shuffle_once |
                               #           flip_flop | shuffled_chunks | grab
    batch_size = 1             # not for full_batch
    step = "1/L_B"             # a number, "c/L", "c/L_B", "c/L_max", "polyak", "stochastic_polyak", or a
                               # schedule table such as { schedule = "inverse_time", alpha0 = "1/L_B", decay = 0.001 }
    method = "plain"           # plain | heavy_ball:β | nesterov:β (β in [0, 1), default 0.9) |
                               # svrg:snapshot_every | loopless_svrg:p | saga
    average = "ema:0.99"       # optional: polyak_average:start | tail_average:fraction | ema:decay

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

import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from sgdlab._helpers import validation

PROBLEM_KINDS = ("least_squares", "logistic", "softmax", "mlp")
NAMED_DATA = ("diabetes", "breast_cancer", "digits", "synthetic")
DEFAULT_DATA = {"least_squares": "diabetes", "logistic": "breast_cancer", "softmax": "digits", "mlp": "digits"}
SAMPLER_NAMES = ("full_batch", "with_replacement", "without_replacement", "importance", "importance_shuffled", "cyclic",
                 "shuffled_cyclic", "shuffle_once", "flip_flop", "shuffled_chunks", "grab")

#: A problem's name in a study: it names its folder.
PROBLEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: table -> key -> (allowed types, what to say)
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], str]]] = {
    "problem": {"kind": (str, "one of " + ", ".join(PROBLEM_KINDS)), "data": (str, "a bundled name or a path"),
                "target": ((str, int), "a column name or index"), "standardize": (bool, "true or false"),
                "intercept": (bool, "true or false"), "l2": ((int, float), "a number >= 0"),
                "class_weight": (str, "'balanced' (logistic and softmax)"),
                "hidden": ((int, list), "a width or a list of widths (mlp)"),
                "test_fraction": (float, "a fraction in (0, 1) of the rows to hold out")},
    "problems": {"name": (str, "letters, digits, '.', '_' and '-' (it names the problem's folder)")},
    "compare": {"epochs": (int, "an integer >= 1"), "seeds": (int, "an integer >= 1"),
                "record_every": ((int, float), "a whole number of epochs, or 1/m of one (0.5, 0.25, …)"),
                "out": (str, "a folder path"), "title": (str, "text"),
                "goal": ((int, float), "a fraction in (0, 1) of the starting value"),
                "patience": (int, "an integer >= 1 (epochs without improvement)"),
                "patience_on": (str, "a history column such as test_loss, test_accuracy or loss")},
    "run": {"sampler": (str, "one of " + ", ".join(SAMPLER_NAMES)), "batch_size": (int, "an integer >= 1"),
            "step": ((str, int, float, dict), "a number, 'c/L', 'c/L_B', 'c/L_max' or a schedule table"),
            "method": (str, "plain, heavy_ball:β, nesterov:β, svrg:snapshot_every, loopless_svrg:p or saga"),
            "average": (str, "polyak_average[:start], tail_average[:fraction] or ema[:decay]")},
}
PROBLEM_DEFAULTS = {"kind": "least_squares", "data": None, "target": None, "standardize": True, "intercept": True,
                    "l2": 0.0, "class_weight": None, "hidden": [64], "test_fraction": None}
COMPARE_DEFAULTS = {"epochs": 20, "seeds": 10, "record_every": 1, "out": None, "title": None, "goal": 1e-3,
                    "patience": None, "patience_on": None}


#: The main job's steps: gradient descent's 1/L (inside its α < 2/L), and for the stochastic schemes
#: 0.5/L_B, the largest step of SGD's theorem (α ≤ 1/(2 L_B), Gower et al. 2019), so every run with a
#: theorem has its bound drawn, and each scheme's at B = 1 takes the same step (L_1 = L_max).
DEFAULT_STEPS = {"full_batch": "1/L", "stochastic": "0.5/L_B"}


def default_runs(batch_size: int = 32) -> dict:
    """The main job's schemes: GD, SGD with replacement (B = 1 and B), minibatch without replacement
    (B), cyclic (1), shuffled cyclic (1 and B) and shuffle once (B), with the steps of DEFAULT_STEPS."""
    plan = [("full_batch", None), ("with_replacement", 1), ("with_replacement", batch_size),
            ("without_replacement", batch_size), ("cyclic", 1), ("shuffled_cyclic", 1),
            ("shuffled_cyclic", batch_size), ("shuffle_once", batch_size)]
    return {run_name(sampler, size): _default_run(sampler, size) for sampler, size in plan}


def product_runs(schemes: list[str], batch_sizes: list[int], methods: list[str] | None = None) -> dict:
    """Every scheme with every batch size (gradient descent once) and every method (plain by default), with
    the steps of DEFAULT_STEPS (variance-reduced methods: their theorem's, VARIANCE_REDUCED_STEPS, and not
    with gradient descent; momentum β: (1 − β) times the plain step, see :func:`method_step`); a run of
    another method than plain has it in its name."""
    runs = {}
    for sampler in schemes:
        for size in [None] if sampler == "full_batch" else batch_sizes:
            for text in methods or ["plain"]:
                method, average = split_method(text)
                if sampler == "full_batch" and method.partition(":")[0] in VARIANCE_REDUCED_STEPS:
                    continue
                run = _default_run(sampler, size)
                if method != "plain":
                    run["method"] = method
                    run["step"] = method_step(method, run["step"])
                if average is not None:
                    run["average"] = average
                runs[run_name(sampler, size) + ("" if text == "plain" else f" {text}")] = run
    return runs


#: The methods' names in experiment files and on the command line, with what ':x' sets.
METHOD_NAMES = {"plain": None, "heavy_ball": "β", "nesterov": "β", "svrg": "snapshot_every", "loopless_svrg": "p",
                "saga": None}
#: The averagings' names, with what ':x' sets.
AVERAGE_NAMES = {"polyak_average": "start", "tail_average": "fraction", "ema": "decay"}
#: The default step of each variance-reduced method: inside its theorem (α ≤ c/L_max; theory.step_check).
VARIANCE_REDUCED_STEPS = {"svrg": "0.25/L_max", "loopless_svrg": "0.16/L_max", "saga": "0.33/L_max"}
METHOD_HELP = ("plain, heavy_ball:β, nesterov:β, svrg:snapshot_every, loopless_svrg:p, saga, and averaged "
               "iterates polyak_average:start, tail_average:fraction, ema:decay, alone (plain SGD) or after a "
               "method with '+', e.g. 'heavy_ball:0.9+ema:0.99'")


def method_step(method: str, plain_step: str) -> str:
    """A method's default step: its theorem's for a variance-reduced one; for momentum β, (1 − β) times the plain
    step, so that the step it takes in the long run, α/(1 − β), is the plain one's; else the plain step."""
    name, _, value = method.partition(":")
    if name in VARIANCE_REDUCED_STEPS:
        return VARIANCE_REDUCED_STEPS[name]
    if name in ("heavy_ball", "nesterov"):
        constant, _, denominator = plain_step.partition("/")
        return f"{float(constant) * (1.0 - float(value or 0.9)):g}/{denominator}"
    return plain_step


def split_method(text: str, where: str = "--methods") -> tuple[str, str | None]:
    """(method text, averaging text or None) of a --methods entry such as 'svrg', 'ema:0.99' or
    'heavy_ball:0.9+polyak_average', each part checked."""
    parts = [part.strip() for part in text.split("+")]
    names = [part.partition(":")[0] for part in parts]
    if len(parts) == 1 and names[0] in AVERAGE_NAMES:
        parts, names = ["plain", *parts], ["plain", *names]
    if len(parts) > 2 or names[0] not in METHOD_NAMES or (len(parts) == 2 and names[1] not in AVERAGE_NAMES):
        validation.fail(where, METHOD_HELP, validation.shown(text))
    parse_method(parts[0], where)
    if len(parts) == 2:
        parse_average(parts[1], where)
    return parts[0], parts[1] if len(parts) == 2 else None


def parse_method(text: str, where: str = "method"):
    """A method from its text, "NAME" or "NAME:x" (see METHOD_NAMES)."""
    from sgdlab import methods

    name, value = _named(text, METHOD_NAMES, where, "a method: " + METHOD_HELP)
    builders: dict[str, Any] = {"plain": methods.plain, "heavy_ball": methods.heavy_ball, "nesterov": methods.nesterov,
                "svrg": methods.svrg, "loopless_svrg": methods.loopless_svrg, "saga": methods.saga}
    return builders[name]() if value is None else builders[name](value)


def parse_average(text: str, where: str = "average"):
    """An averaging from its text, "NAME" or "NAME:x" (see AVERAGE_NAMES)."""
    from sgdlab import methods

    name, value = _named(text, AVERAGE_NAMES, where, "polyak_average[:start], tail_average[:fraction] or ema[:decay]")
    builders: dict[str, Any] = {"polyak_average": methods.polyak_average, "tail_average": methods.tail_average,
                                "ema": methods.ema}
    return builders[name]() if value is None else builders[name](value)


def _named(text: str, names: dict, where: str, allowed: str) -> tuple[str, float | int | None]:
    """(name, the number after ':' or None) of text 'NAME[:x]', NAME one of ``names`` (x only where it sets one)."""
    name, colon, number = text.strip().partition(":")
    if name not in names or (colon and names[name] is None):
        validation.fail(where, allowed, validation.shown(text))
    if not colon:
        return name, None
    try:
        value = float(number)
    except ValueError:
        validation.fail(where, f"'{name}:{names[name]}' with {names[name]} a number", validation.shown(text))
    return name, int(value) if value.is_integer() and names[name] in ("snapshot_every", "start") else value


def _default_run(sampler: str, batch_size: int | None) -> dict:
    """A run's settings: its sampler, batch size (None for gradient descent) and default step."""
    return {"sampler": sampler, **({"batch_size": batch_size} if batch_size else {}),
            "step": DEFAULT_STEPS["full_batch" if batch_size is None else "stochastic"]}


def run_name(sampler: str, batch_size: int | None) -> str:
    """'GD' for full_batch, else e.g. 'shuffled_cyclic B=32'."""
    return "GD" if sampler == "full_batch" else f"{sampler} B={batch_size}"


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
    compare = {**COMPARE_DEFAULTS, **_table(document.get("compare", {}), "compare", where)}
    runs = document.get("runs") or default_runs()
    if not isinstance(runs, dict):
        validation.fail(f"{where} [runs]", "tables [runs.NAME]", validation.shown(runs), error=TypeError)
    runs = {name: _run(settings, name, where) for name, settings in runs.items()}
    if "problems" in document:
        return {"problems": _problems(document["problems"], where), "compare": compare, "runs": runs}
    return {"problem": _problem_table(document.get("problem", {}), "problem", where), "compare": compare,
            "runs": runs}


def _problem_table(values, table: str, where: str) -> dict:
    """A [problem] (or one [[problems]]) table checked, with the defaults filled in."""
    problem = {**PROBLEM_DEFAULTS, **_table(values, table, where)}
    if problem["kind"] not in PROBLEM_KINDS:
        validation.fail(f"{where} [{table}] kind", "one of " + ", ".join(PROBLEM_KINDS),
                        validation.shown(problem["kind"]))
    problem["data"] = problem["data"] or DEFAULT_DATA[problem["kind"]]
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


def _table(values, table: str, where: str) -> dict:
    if not isinstance(values, dict):
        validation.fail(f"{where} [{table}]", "a table", validation.shown(values), error=TypeError)
    schema = ({**SCHEMA["problem"], **SCHEMA["problems"]} if table == "problems"
              else SCHEMA["run" if table.startswith("runs.") else table])
    for key, value in values.items():
        if key not in schema:
            validation.fail(f"{where} [{table}]", f"made of the keys {', '.join(schema)}", f"unknown key {key!r}")
        types, allowed = schema[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            validation.fail(f"{where} [{table}] {key}", allowed, validation.shown(value), error=TypeError)
    return dict(values)


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _run(settings, name: str, where: str) -> dict:
    run = _table(settings, f"runs.{name}", where)
    if "sampler" not in run:
        validation.fail(f"{where} [runs.{name}]", "a table with a sampler key", f"keys {sorted(run)}")
    if run["sampler"] not in SAMPLER_NAMES:
        validation.fail(f"{where} [runs.{name}] sampler", "one of " + ", ".join(SAMPLER_NAMES),
                        validation.shown(run["sampler"]))
    if run["sampler"] == "full_batch" and "batch_size" in run:
        validation.fail(f"{where} [runs.{name}] batch_size", "absent for full_batch (it uses all N)",
                        validation.shown(run["batch_size"]))
    return run


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

    spec = experiment["problem"]
    dataset = data.load(spec["data"], spec["target"])
    parts = [(dataset.X, dataset.y)]
    if spec["test_fraction"] is not None:
        rows = dataset.X.shape[0]
        if math.ceil(spec["test_fraction"] * rows) >= rows:
            validation.fail("test_fraction", f"a fraction that leaves training rows (at most {(rows - 1) / rows:.4g} "
                            f"of the {rows} rows)", validation.shown(spec["test_fraction"]))
        parts = data.split(dataset.X, dataset.y, fractions=(1.0 - spec["test_fraction"], spec["test_fraction"]),
                           seed=0, stratify=dataset.y if spec["kind"] != "least_squares" else None)
    training_rows = parts[0][0]
    built = []
    for X, y in parts:
        X = data.standardize(X, like=training_rows) if spec["standardize"] else X
        X = data.with_intercept(X) if spec["intercept"] else X
        built.append((X, y))
    problem = _problem(spec["kind"], *built[0], spec["l2"], spec["hidden"], spec["class_weight"])
    heldout = {"test": problem.with_data(*built[1])} if len(built) > 1 else None
    runs = {name: {"sampler": _sampler(run), **({"step": run["step"]} if "step" in run else {}),
                   **({"method": parse_method(run["method"], f"[runs.{name}] method")} if "method" in run else {}),
                   **({"average": parse_average(run["average"], f"[runs.{name}] average")} if "average" in run else {})}
            for name, run in experiment["runs"].items()}
    out = experiment["compare"]["out"] or f"results/{spec['kind']}-{Path(str(spec['data'])).stem}"
    title = experiment["compare"]["title"] or f"{spec['kind'].replace('_', ' ')} on {dataset.name}"
    return Built(problem, runs, out, title, heldout, _stop(experiment["compare"], heldout is not None))


def each_problem(experiment: dict) -> dict[str, dict]:
    """A validated study's description as one description of a comparison per problem, by name (each titled
    "<the study's title>: <name>" when the study has a title)."""
    settings, title = experiment["compare"], experiment["compare"]["title"]
    return {spec["name"]: {"problem": {key: value for key, value in spec.items() if key != "name"},
                           "compare": {**settings, "title": title and f"{title}: {spec['name']}"},
                           "runs": experiment["runs"]}
            for spec in experiment["problems"]}


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


def source(experiment: dict) -> dict:
    """What a validated description builds its problem from, for experiment.json: its [problem] table,
    with a data file's absolute path and SHA-256 (a bundled set is named; its version is scikit-learn's)."""
    import hashlib

    spec = dict(experiment["problem"])
    if spec["kind"] != "mlp":
        spec.pop("hidden")
    for key in ("test_fraction", "class_weight"):
        if spec[key] is None:
            spec.pop(key)
    if spec["data"] not in NAMED_DATA:
        path = Path(spec["data"]).resolve()
        with path.open("rb") as file:
            spec.update(data=str(path), data_sha256=hashlib.file_digest(file, "sha256").hexdigest())
    return spec


def _problem(kind: str, X, y, l2: float, hidden, class_weight: str | None):
    import numpy as np

    from sgdlab import problems

    if class_weight is not None and kind not in ("logistic", "softmax"):
        validation.fail("class_weight", "given for logistic or softmax only (it weighs a classifier's classes)",
                        f"{class_weight!r} for {kind}")
    if class_weight not in (None, "balanced"):
        validation.fail("class_weight", "'balanced'", validation.shown(class_weight))
    if kind == "least_squares":
        if l2:
            validation.fail("l2", "0 for least_squares (an ℓ2 weight is for logistic and softmax)",
                            validation.shown(l2))
        if not np.issubdtype(np.asarray(y).dtype, np.number):
            validation.fail("target", "a numeric column for least_squares (text labels are for logistic or softmax)",
                            f"text values such as {np.asarray(y)[0]!r}")
        return problems.least_squares(X, np.asarray(y, dtype=np.float64))
    if kind == "logistic":
        return problems.logistic_regression(X, _binary(y), l2, class_weight=class_weight)
    if kind == "softmax":
        return problems.softmax_regression(X, y, l2, class_weight=class_weight)
    if l2:
        validation.fail("l2", "0 for mlp (an ℓ2 weight is for logistic and softmax)", validation.shown(l2))
    return problems.mlp(X, y, hidden=hidden)


def _binary(y):
    """Two classes as {0, 1}: the smaller label becomes 0 (LIBSVM files code them 1/2 or −1/+1)."""
    import numpy as np

    classes = np.unique(y)
    if classes.size != 2:
        validation.fail("y", "two classes for logistic (softmax takes more)", f"{classes.size} classes")
    return (y == classes[1]).astype(int)


def _sampler(run: dict):
    from sgdlab import samplers

    constructor = samplers.SAMPLERS[run["sampler"]]
    return constructor() if run["sampler"] == "full_batch" else constructor(run.get("batch_size", 1))
