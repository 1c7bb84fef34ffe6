"""The HTML report of a comparison, rebuilt from its saved folder alone.

``write_report(folder)`` reads folder/table.parquet and folder/experiment.json (what
``compare(..., out=folder)`` saves) and writes folder/report.html: one self-contained file (figures
embedded as PNG, no network needed) with the problem (N, parameters, L, μ and κ where known, p*),
the runs and the theorem that applies to each (its step check), the summary across seeds, the
theory beside the runs (each theorem's bound checked against the mean over seeds, epoch by epoch),
convergence plots of F − p*, ‖∇F‖ and ‖θ − θ*‖ against epochs (with the bounds and the exact expected
curves drawn) and against time, and the versions and device.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab.experiments import rendered
from sgdlab.experiments.plots import batch_size_figure, convergence_figure, generalization_figure
from sgdlab.experiments.predictions import COLUMNS, FLAG_ERRORS, flags
from sgdlab.experiments.store import read_experiment, read_frame
from sgdlab.experiments.summary import GOAL, goal_value, heldout_names, heldout_score, stops, summarize

METRICS = ("gap", "grad_norm", "dist", "avg_gap", "avg_dist")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 0.8em; } .figures img { width: 100%; }
.wide-figures img { width: 100%; margin-bottom: 0.8em; }
.note { color: #666; font-size: 0.85em; } img { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; } .scroll > table { width: max-content; } td { max-width: 26em; }
@media (max-width: 700px) { body { margin: 0.5em auto; } .figures { grid-template-columns: 1fr; } }
"""


def write_report(folder) -> Path:
    """Build folder/report.html from folder/table.parquet and folder/experiment.json (kept as it is when it was
    built from the same files: :mod:`sgdlab.experiments.rendered`)."""
    folder = Path(folder)
    experiment = read_experiment(folder)
    if experiment is None or not (folder / "table.parquet").is_file():
        validation.fail("folder", "a results folder written by compare(out=...) or sgdlab compare",
                        f"{folder} without {'experiment.json' if experiment is None else 'table.parquet'}")
    if experiment.get("finished") is False:
        validation.fail("folder", "the folder of a finished comparison",
                        f"{folder}, whose comparison has not finished (run it again: its saved runs are reused)")
    table = _saved_frame(folder / "table.parquet", experiment)
    predicted_path = folder / "predictions.parquet"
    predicted = (_saved_frame(predicted_path, experiment) if predicted_path.is_file()
                 else pd.DataFrame(columns=COLUMNS))
    target, digest = folder / "report.html", rendered.inputs_digest(folder, experiment)
    if rendered.rendered_from(target) == digest:   # drawn from these very files: kept
        return target
    page = rendered.first_line(digest) + render(table, experiment, predicted)
    atomic_write(target, lambda path: path.write_text(page, encoding="utf-8"))
    return target


def _saved_frame(path: Path, experiment: dict) -> pd.DataFrame:
    """A table of the folder, verified against the experiment's fingerprint and its digest (a folder of an
    sgdlab before they were recorded: read as it is), or an error naming the file."""
    fingerprint = experiment.get("fingerprint")
    try:
        frame = pd.read_parquet(path) if fingerprint is None else read_frame(path, fingerprint)
    except (OSError, ValueError) as error:
        frame, why = None, str(error)
    else:
        why = "it does not verify (cut, altered or another experiment's)"
    if frame is None:
        validation.fail("folder", f"a results folder whose {path.name} reads",
                        f"{path}: {why}; run the comparison again to rebuild it (its saved runs are reused)")
    return frame


def render(table: pd.DataFrame, experiment: dict, predicted: pd.DataFrame) -> str:
    """The report's HTML."""
    title = experiment.get("settings", {}).get("title") or f"sgdlab comparison: {experiment['problem']['kind']}"
    goal = experiment.get("settings", {}).get("goal", GOAL)
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Created {html.escape(experiment.get('created', ''))}. Each run is repeated over "
        f"{table.seed.nunique()} seeds; lines are medians across seeds, bands the quartiles.</p>",
        "<h2>Problem</h2>", _key_values(_problem_rows(experiment["problem"]) + _source_rows(experiment.get("source"))),
        "<h2>Runs and the theorem for each</h2>", _runs_table(table, experiment["runs"]),
        "<h2>Summary across seeds</h2>", _summary(table, goal), *_stops_section(table),
        "<h2>Theory beside the runs</h2>", _theory_section(table, predicted),
        "<h2>Convergence against epochs</h2>", _figures(table, "epoch", predicted, goal),
        *_gradient_evaluations_section(table, predicted, goal),
        "<h2>Convergence against time</h2>", _figures(table, "time", predicted, goal),
        *_generalization_section(table),
        *(_batch_size_section(table, experiment["batch_size"]) if "batch_size" in experiment else []),
        "<h2>Environment</h2>", _key_values(_environment_rows(experiment.get("environment", {}))),
    ]
    return html_page(title, sections)


def html_page(title: str, sections: list[str]) -> str:
    """A self-contained page of the house style around ``sections`` (HTML fragments)."""
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _problem_rows(problem: dict) -> list[tuple[str, str]]:
    names = [("kind", "problem"), ("n", "N (terms)"), ("parameters", "parameters"), ("L", "L (smoothness)"),
             ("mu", "μ (strong convexity)"), ("kappa", "κ = L/μ"), ("p_star", "p* (optimal value)"),
             ("constraint", "constraint")]
    return [(label, _number(problem.get(key))) for key, label in names if problem.get(key) is not None]


def _source_rows(source: dict | None) -> list[tuple[str, str]]:
    """What the problem was built from (the data, its hash, target and preprocessing), where recorded."""
    names = [("data", "data"), ("data_sha256", "data SHA-256"), ("target", "target column"),
             ("standardize", "standardized"), ("intercept", "intercept column"), ("l2", "ℓ2 weight"),
             ("class_weight", "class weights"), ("test_fraction", "held out (test)")]
    return [(label, str(source[key])) for key, label in names if source and source.get(key) is not None]


def _environment_rows(environment: dict) -> list[tuple[str, str]]:
    rows = [(name, version) for name, version in environment.get("versions", {}).items()]
    return rows + [(key, environment[key]) for key in ("device", "machine") if key in environment]


def _runs_table(table: pd.DataFrame, runs: dict) -> str:
    statuses = table.groupby(["run", "seed"], sort=False).status.first().groupby(level=0, sort=False)
    rows = []
    for name, counts in statuses:
        info = runs.get(name, {})
        method = info.get("method", "plain") + (f" + {info['average']}" if info.get("average") else "")
        rows.append({"run": name, "sampler": info.get("sampler", ""), "method": method,
                     "engine": info.get("engine", ""), "step": info.get("step", ""),
                     "α₀": info.get("alpha0"), "α·L": info.get("alpha_L"),
                     "step check": info.get("step_check", ""),
                     "status over seeds": ", ".join(f"{n} {s}" for s, n in counts.value_counts().items())})
    return html_table(pd.DataFrame(rows))


def _summary(table: pd.DataFrame, goal: float) -> str:
    summary = summarize(table, goal=goal)
    metric = summary.attrs["metric"]
    extra = [column for column in (f"final averaged {metric}", "gradient passes") if summary[column].notna().any()]
    score = heldout_score(table)
    scores = [] if score is None else [f"final {score}", f"best {score}", f"epoch of best {score}"]
    columns = ["run", "seeds", "status", f"final {metric}", f"final {metric} q25", f"final {metric} q75", *extra,
               "reached", "epochs to target", "seconds to target", *scores]
    note = (f"<p class='note'>Target: {summary.attrs['metric']} ≤ {summary.attrs['target']:.3g} ({goal:.3g} of its "
            "value at the start, dotted on the plots); a seed that never reaches it counts as ∞.</p>")
    return note + html_table(summary[columns])


def _stops_section(table: pd.DataFrame) -> list[str]:
    """Each run and seed that diverged or converged before its budget, with its message (none: no section)."""
    early = stops(table)
    if early.empty:
        return []
    return ["<h3>Runs that stopped early</h3>", html_table(early)]


def _theory_section(table: pd.DataFrame, predicted: pd.DataFrame) -> str:
    """Each bounded run's theorem and the epochs whose mean over seeds exceeds the bound (none expected)."""
    checked = flags(table, predicted)
    exact = sorted(predicted[predicted.curve == "expected"].run.unique())
    note = ("<p class='note'>Bounds are on expectations: on the plots against epochs each run's bound is dashed in "
            "its colour, and, on least squares, its exact expected curve (no sampling) is a thin black line inside "
            "its band (on ‖∇F‖, gradient descent's bound is on the smallest ‖∇F(θᵏ)‖ of the steps before the "
            "epoch's end, which needs no convexity). An epoch is flagged when the mean over seeds exceeds the bound "
            f"by more than {FLAG_ERRORS:g} standard errors, which would mean a bug in the code or in the stated "
            f"theorem. Runs with an exact expected curve: {html.escape(', '.join(exact)) or 'none'}.</p>")
    if checked.empty:
        return note + "<p>No run here has a theorem with a bound (see each run's step check above).</p>"
    return note + html_table(checked)


def _figures(table: pd.DataFrame, x: str, predicted: pd.DataFrame, goal: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for metric in METRICS:
        if metric in table.columns and table[metric].notna().any():
            figure = convergence_figure(table, metric, x, predictions=predicted, target=goal_value(table, metric, goal))
            images.append(f"<img alt='{metric} against {x}' src='data:image/png;base64,{figure_png(figure)}'>")
            plt.close(figure)
    return "<div class='figures'>" + "\n".join(images) + "</div>"


def _gradient_evaluations_section(table: pd.DataFrame, predicted: pd.DataFrame, goal: float) -> list[str]:
    """Convergence against per-example gradients over N, when some run computes more than one an epoch (SVRG,
    SAGA): the axis on which variance reduction is compared fairly (none otherwise: it would repeat the epochs)."""
    if "grad_evals" not in table.columns or np.allclose(table.grad_evals, table.epoch, rtol=0.1):
        return []   # every run about one pass an epoch (a batch of repeats is a few % over): the epochs' axis
    note = ("<p class='note'>The x axis counts per-example gradients over N: one an epoch for gradient descent and "
            "SGD, about two and a snapshot's N for SVRG, one and the table's start for SAGA.</p>")
    return ["<h2>Convergence against gradient evaluations</h2>", note, _figures(table, "grad_evals", predicted, goal)]


def _generalization_section(table: pd.DataFrame) -> list[str]:
    """Training and held-out curves side by side, against epochs and time, for every held-out set (none without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = heldout_names(table)
    if not names:
        return []
    note = ("<p class='note'>Solid: the training rows the runs minimize over; dashed (with its quartiles): rows they "
            "never see, scored at the same iterates. The summary gives each run's final and best held-out score.</p>")
    images = []
    for name in names:
        for x in ("epoch", "time"):
            figure = generalization_figure(table, name, x)
            images.append(f"<img alt='training and {html.escape(name)} curves against {x}' "
                          f"src='data:image/png;base64,{figure_png(figure)}'>")
            plt.close(figure)
    return ["<h2>Generalization: training and held-out data</h2>", note,
            "<div class='wide-figures'>" + "\n".join(images) + "</div>"]


def _batch_size_section(table: pd.DataFrame, analysis: dict) -> list[str]:
    """Epochs and seconds to the target against B with B_simple and the knee marked; the probe's table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = batch_size_figure(summarize(table), analysis["b_simple"], analysis["knee"])
    image = f"<img alt='epochs and seconds to target against B' src='data:image/png;base64,{figure_png(figure)}'>"
    plt.close(figure)
    note = (f"<p class='note'>B_simple = tr Σ / ‖∇F‖² = {analysis['b_simple']:.4g} at θ⁰ (gradient-noise scale, "
            f"from {analysis['noise_scale']['examples']} examples): per iteration, batches well beyond it buy "
            f"little. Throughput knee: B = {analysis['knee']}, the smallest batch within 10% of the best samples per "
            "second measured: per second, batches beyond it buy little.</p>")
    probe = pd.DataFrame(analysis["probe"])
    return ["<h2>Batch size: per iteration and per second</h2>", note, image, "<h3>Throughput probe</h3>",
            html_table(probe)]


def figure_png(figure) -> str:
    """A matplotlib figure as base64 PNG, for an <img src="data:image/png;base64,…">."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def html_table(frame: pd.DataFrame) -> str:
    """A table of the house style (numbers to four digits, ∞ and — for missing)."""
    table = frame.to_html(index=False, na_rep="—", float_format=_number, escape=True, border=0)
    return f"<div class='scroll'>{table}</div>"


def _key_values(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<div class='scroll'><table>{cells}</table></div>"


def _number(value) -> str:
    if isinstance(value, float):
        return "∞" if value == float("inf") else f"{value:.4g}"
    return str(value)
