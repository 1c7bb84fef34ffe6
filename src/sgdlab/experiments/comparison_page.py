"""The HTML page of one comparison: the problem (N, parameters, L, μ and κ where known, p*), the runs and the
theorem that applies to each (its step check), the summary across seeds, the theory beside the runs (each
theorem's bound checked against the mean over seeds, epoch by epoch), convergence plots of F − p*, ‖∇F‖ and
‖θ − θ*‖ against epochs (with the bounds and the exact expected curves drawn) and against time, held-out curves,
the batch-size analysis where there is one, and the versions and device.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from sgdlab.experiments.curvature_figure import curvature_figure
from sgdlab.experiments.page import figure_png, html_page, html_table, key_values, number
from sgdlab.experiments.plots import batch_size_figure, convergence_figure, generalization_figure
from sgdlab.experiments.predictions import FLAG_ERRORS, LOOSE_FACTOR, flags
from sgdlab.experiments.summary import GOAL, goal_value, heldout_names, heldout_score, stops, summarize

METRICS = ("gap", "grad_norm", "dist", "avg_gap", "avg_dist")


def render(table: pd.DataFrame, experiment: dict, predicted: pd.DataFrame) -> str:
    """The report's HTML."""
    title = experiment.get("settings", {}).get("title") or f"sgdlab comparison: {experiment['problem']['kind']}"
    goal = experiment.get("settings", {}).get("goal", GOAL)
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Created {html.escape(experiment.get('created', ''))}. Each run is repeated over "
        f"{table.seed.nunique()} seeds; lines are medians across seeds, bands the quartiles.</p>",
        "<h2>Problem</h2>", key_values(problem_rows(experiment["problem"]) + source_rows(experiment.get("source"))),
        "<h2>Runs and the theorem for each</h2>", runs_table(table, experiment["runs"]),
        "<h2>Summary across seeds</h2>", summary_section(table, goal), *_stops_section(table),
        "<h2>Theory beside the runs</h2>", _theory_section(table, predicted, experiment["problem"].get("kappa")),
        "<h2>Convergence against epochs</h2>", figures(table, "epoch", predicted, goal),
        *_gradient_evaluations_section(table, predicted, goal),
        "<h2>Convergence against time</h2>", figures(table, "time", predicted, goal),
        *_curvature_section(table, experiment),
        *_generalization_section(table),
        *(_batch_size_section(table, experiment["batch_size"]) if "batch_size" in experiment else []),
        "<h2>Environment</h2>", key_values(environment_rows(experiment.get("environment", {}))),
    ]
    return html_page(title, sections)


def problem_rows(problem: dict) -> list[tuple[str, str]]:
    names = [("kind", "problem"), ("n", "N (terms)"), ("parameters", "parameters"), ("L", "L (smoothness)"),
             ("mu", "μ (strong convexity)"), ("kappa", "κ = L/μ"), ("p_star", "p* (optimal value)"),
             ("constraint", "constraint")]
    return [(label, number(problem.get(key))) for key, label in names if problem.get(key) is not None]


def source_rows(source: dict | None) -> list[tuple[str, str]]:
    """What the problem was built from (the data, its hash, target and preprocessing), where recorded."""
    names = [("data", "data"), ("data_sha256", "data SHA-256"), ("target", "target column"),
             ("standardize", "standardized"), ("intercept", "intercept column"), ("l2", "ℓ2 weight"),
             ("class_weight", "class weights"), ("test_fraction", "held out (test)")]
    return [(label, str(source[key])) for key, label in names if source and source.get(key) is not None]


def environment_rows(environment: dict) -> list[tuple[str, str]]:
    rows = [(name, version) for name, version in environment.get("versions", {}).items()]
    return rows + [(key, environment[key]) for key in ("device", "machine") if key in environment]


def runs_table(table: pd.DataFrame, runs: dict) -> str:
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


def summary_section(table: pd.DataFrame, goal: float) -> str:
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


def _theory_section(table: pd.DataFrame, predicted: pd.DataFrame, kappa: float | None) -> str:
    """Each bounded run's theorem, the epochs whose mean over seeds exceeds the bound (none expected), and whether
    the bound says anything of the run (with the reason when it does not)."""
    checked = flags(table, predicted, kappa)
    exact = sorted(predicted[predicted.curve == "expected"].run.unique())
    note = ("<p class='note'>Bounds are on expectations: on the plots against epochs each run's bound is dashed in "
            "its colour, and, on least squares, its exact expected curve (no sampling) is a thin black line inside "
            "its band (on ‖∇F‖, gradient descent's bound is on the smallest ‖∇F(θᵏ)‖ of the steps before the "
            "epoch's end, which needs no convexity). An epoch is flagged when the mean over seeds exceeds the bound "
            f"by more than {FLAG_ERRORS:g} standard errors, which would mean a bug in the code or in the stated "
            f"theorem. A bound <em>says nothing here</em> when it never falls below the measured start or ends more "
            f"than {LOOSE_FACTOR:g} times the measured mean: it holds, but the run is far inside it (the reason is "
            f"given). Runs with an exact expected curve: {html.escape(', '.join(exact)) or 'none'}.</p>")
    if checked.empty:
        return note + "<p>No run here has a theorem with a bound (see each run's step check above).</p>"
    verdicts, _, reasons = zip(*(says.partition(": ") for says in checked.says), strict=True)
    why = [f"<li>{html.escape(run)}, {html.escape(quantity)}: {html.escape(reason)}.</li>"
           for run, quantity, reason in zip(checked.run, checked.quantity, reasons, strict=True) if reason]
    listed = f"<p>Why a bound says nothing here:</p><ul class='note'>{''.join(why)}</ul>" if why else ""
    return note + html_table(checked.assign(says=verdicts)) + listed


def figures(table: pd.DataFrame, x: str, predicted: pd.DataFrame, goal: float,
            metrics: tuple[str, ...] = METRICS) -> str:
    """Each of ``metrics`` the table has against ``x``, medians and quartiles over seeds with the predictions and
    the goal drawn, two figures a row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for metric in metrics:
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
    return ["<h2>Convergence against gradient evaluations</h2>", note, figures(table, "grad_evals", predicted, goal)]


def _curvature_section(table: pd.DataFrame, experiment: dict) -> list[str]:
    """Sharpness (and batch sharpness) against epochs with each run's stability line, when recorded (none without:
    ``curvature_every``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "sharpness" not in table.columns or not table.sharpness.notna().any():
        return []
    edges = {name: run.get("stability_edge") for name, run in experiment["runs"].items()}
    L = experiment["problem"].get("L")
    figure = curvature_figure(table, edges, L)
    image = f"<img alt='sharpness against epochs' src='data:image/png;base64,{figure_png(figure)}'>"
    plt.close(figure)
    note = ("<p class='note'>Sharpness λ_max(∇²F(θ)) by Lanczos on Hessian-vector products and, for stochastic runs, "
            "the batch sharpness E[g_Bᵀ H_B g_B]/E[‖g_B‖²] of minibatch losses along their own gradients (Andreyev "
            "and Beneventano 2024), medians over seeds with quartiles. Dashed in each run's colour: the sharpness "
            "beyond which its constant step is unstable on a quadratic, 2/α for a plain step, 2(1 + β)/α with heavy "
            "ball, (2 + 2β)/((1 + 2β)α) with Nesterov momentum; full-batch gradient descent on a network rises to it "
            "and hovers there, the edge of stability (Cohen et al. 2021)."
            + (f" Dotted grey: L = {L:.4g}, the sharpness's largest value over all θ." if L is not None else "")
            + " The history's hessian_trace and hessian_trace_se columns hold Hutchinson's estimate of tr ∇²F.</p>")
    return ["<h2>Curvature and the edge of stability</h2>", note, f"<div class='wide-figures'>{image}</div>"]


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
