"""A run's history and stopping rules: :class:`RunLog`, one per run (a comparison keeps one per lane).

After each loop unit (an epoch, or a chunk of steps of an expectation) the log applies the rules:

* "converged" — ``tol`` is given and ‖∇F(θ)‖ ≤ tol;
* "diverged" — θ or F(θ) is no longer finite, or F rose too far above where it started. When a lower
  bound F_low ≤ F is known (p*, or 0 for the linear models, whose losses are nonnegative), too far is
  F(θ) − F_low > DIVERGENCE · s with s = max(F(θ⁰) − F_low, 10⁻³ |F(θ⁰)|, √eps): the distance to the
  bottom grew ten-thousandfold. No convergent run of a theorem here comes near it — gradient descent
  below 2/L decreases F at every step, and SGD's noise floor is a fraction of the starting gap unless
  the run starts next to θ*, which the 10⁻³ |F(θ⁰)| term allows for — while a step beyond the edge
  multiplies the gap by (αL − 1)² every step and crosses it within a few. Without a known lower bound
  the rule is F(θ) > F(θ⁰) + UNBOUNDED_DIVERGENCE · max(|F(θ⁰)|, √eps), which only a blow-up reaches;
* "max_epochs" — the budget ran out;

and records a row every ``record_every`` units (and at the start and the end): epoch, iteration,
grad_evals (per-example gradients computed so far over N: one an epoch for gradient descent and
plain SGD, more for SVRG and SAGA; for an expectation, the gradients ∇f_ω drawn), loss F(θ),
grad_norm ‖∇F(θ)‖, gap F(θ) − p*, dist ‖θ − θ*‖ (NaN where p* or θ* is not known), time (seconds
since the start, compilation excluded), violation (for a constrained problem), the
problem's diagnostics and, where due, the gradient-noise scale. ``maximize`` reports f = −F itself:
its loss is f and its gap p* − f.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sgdlab import schedules, theory
from sgdlab._helpers import pytrees
from sgdlab.engines.base import Metrics
from sgdlab.engines.evaluation import score_columns
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.run.options import MAXIMIZE, RunOptions
from sgdlab.run.result import Result, Status

#: How many times its starting distance to the bottom F − F_low may grow before a run counts as diverged.
DIVERGENCE = 1e4
#: Without a known lower bound, F may rise to F(θ⁰) + this · max(|F(θ⁰)|, √eps).
UNBOUNDED_DIVERGENCE = 1e10

HISTORY_COLUMNS = ("epoch", "iteration", "grad_evals", "loss", "grad_norm", "gap", "dist", "time")
#: The averaged iterate's columns, in a run that averages.
AVERAGED_COLUMNS = ("avg_loss", "avg_grad_norm", "avg_gap", "avg_dist")

#: A stopping rule's (status, message), or None while the run goes on.
Verdict = tuple[Status, str] | None


class RunLog:
    """One run's bookkeeping: which loop units it measures and records, its history rows, and its
    stopping rules."""

    def __init__(self, options: RunOptions, start: Metrics):
        self.options = options
        self.loss0 = start.loss
        self.threshold = divergence_threshold(options.problem, start.loss)
        if options.average is not None:   # θ̄⁰ = θ⁰
            start = start._replace(averaged=start)
        self.rows = [_row(0, 0, start, 0.0, 0.0)]
        #: The early-stopping rule's best (value, epoch) so far and θ there (:mod:`sgdlab.run.stopping`).
        self.best: tuple[float, float] | None = None
        self.best_params: Any = None
        self.verdict = self._verdict("the start", start, measured=True) or self._early_stop(
            self.rows[0], lambda: options.params0)
        #: θ at each history row, when the options ask for it (θ⁰ first).
        self.path: list | None = [pytrees.to_numpy(options.params0)] if options.record_params else None
        #: The last recorded top eigenvector of ∇²F, Lanczos' warm start at the next curvature row.
        self.top_vector: np.ndarray | None = None
        self.add_curvature(options.params0)

    @classmethod
    def resumed(cls, options: RunOptions, loss0: float, rows: list, verdict: Verdict,
                best: tuple[float, float] | None = None, best_params: Any = None) -> RunLog:
        """The log of a run resumed from a checkpoint: its F(θ⁰), rows so far, verdict and early-stopping best."""
        log = cls.__new__(cls)
        log.options, log.loss0, log.threshold = options, loss0, divergence_threshold(options.problem, loss0)
        log.rows, log.verdict, log.path = list(rows), verdict, None
        log.best, log.best_params = best, best_params
        return log

    @property
    def done(self) -> bool:
        """True once a stopping rule has fired."""
        return self.verdict is not None

    def due(self, unit: int) -> bool:
        """Whether loop unit ``unit`` gets a history row (every record_every units, and the last)."""
        return unit % self.options.record_every == 0 or unit == self.options.budget.units

    def measured(self, unit: int) -> bool:
        """Whether loop unit ``unit`` needs F and ‖∇F‖ (for a row, or for the tol rule)."""
        return self.due(unit) or self.options.tol is not None

    def next_measured(self, unit: int) -> int:
        """The first loop unit after ``unit`` that :meth:`measured` (every unit when ``tol`` is tested)."""
        if self.options.tol is not None:
            return unit + 1
        every = self.options.record_every
        return min((unit // every + 1) * every, self.options.budget.units)

    def observe(self, unit: int, iterations: int, metrics: Metrics, elapsed: float,
                params: Callable[[], Any] | None = None, gradients: int = 0) -> None:
        """Take the metrics after loop unit ``unit``, when the run has computed ``gradients`` per-example
        gradients: apply the stopping rules and record a row when due (with θ, from ``params()``, when the
        path is kept)."""
        budget = self.options.budget
        when = f"step {iterations}" if budget.chunk else f"epoch {budget.position(unit):g}"
        self.verdict = self._verdict(when, metrics, self.measured(unit))
        if self.due(unit) or self.done:
            gradient_epochs = self._gradient_epochs(gradients)
            self.rows.append(_row(budget.position(unit), iterations, metrics, elapsed, gradient_epochs))
            if self.path is not None and params is not None:
                self.path.append(pytrees.to_numpy(params()))
            if params is not None:
                self.add_curvature(params())
            if not self.done and params is not None:
                self.verdict = self._early_stop(self.rows[-1], params)

    def _early_stop(self, row: dict, params: Callable[[], Any]) -> Verdict:
        """Apply the early-stopping rule to a new history row: keep its value and θ when it is the best so far;
        ("stopped_early", why) once the patience is spent."""
        stop = self.options.stop
        if stop is None:
            return None
        watched = {"gap": "loss", "avg_gap": "avg_loss"}.get(stop.on, stop.on)   # gap = F − p*: F decides
        value = float(row[watched])
        where = float(row["epoch"]) if not self.options.budget.chunk else float(len(self.rows) - 1)
        if stop.improves(value, None if self.best is None else self.best[0]):
            self.best, self.best_params = (value, where), pytrees.to_numpy(params())
            return None
        if self.best is None or not stop.exhausted(where - self.best[1]):
            return None
        unit = "epochs" if not self.options.budget.chunk else "rows"
        shown = self._shown(stop.on, self.best[0])
        margin = f" by more than {stop.min_delta:g}" if stop.min_delta else ""
        return "stopped_early", (f"stopped early at {unit[:-1]} {where:g}: {stop.on} has not improved{margin} for "
                                 f"{stop.epochs} {unit}; its best, {shown:.6g}, was at {unit[:-1]} {self.best[1]:g} "
                                 "(Result.best_params).")

    def _shown(self, column: str, value: float) -> float:
        """A watched value as its history column shows it (loss in the objective's sign, gap = F − p*)."""
        if column in ("gap", "avg_gap"):
            optimum = self.options.problem.optimal_value()
            return value - optimum if optimum is not None else float("nan")
        return self.options.sense.sign * value if column in ("loss", "avg_loss") else value

    def _gradient_epochs(self, gradients: int) -> float:
        """The history's grad_evals: per-example gradients over N (a finite sum), or the gradients drawn."""
        n = self.options.problem.n
        return gradients / n if n else float(gradients)

    def add_curvature(self, params: Any) -> None:
        """Put the curvature at θ (:func:`sgdlab.theory.curvature`: sharpness, hessian_trace, hessian_trace_se and,
        for a stochastic sampler, batch_sharpness) and the measured PL ratio ‖∇F‖²/(2(F − p*)) (where p* is known)
        in the last row when its epoch is a multiple of ``curvature_every`` (NaN once θ is not finite); Lanczos
        starts from the previous such row's eigenvector."""
        row, every = self.rows[-1], self.options.curvature_every
        if every is None or row["epoch"] % every:
            return
        sampler = self.options.sampler
        batch = None if sampler.is_full_batch else getattr(sampler, "batch_size", None)
        if not bool(pytrees.all_finite(params)):
            row.update(dict.fromkeys((*theory.Curvature.COLUMNS, "pl_ratio"), np.nan))
            return
        at = theory.curvature(self.options.problem, params, batch, seed=self.options.seed * 100_003 + len(self.rows),
                              start=self.top_vector)
        row.update(at.columns(), pl_ratio=_pl_ratio(row, self.options.problem.optimal_value()))
        self.top_vector = at.eigenvector

    def add_noise_scale(self, unit: int, params: Any) -> None:
        """Put the gradient-noise scale at θ in the row of ``unit`` when that row was recorded and it is due."""
        row, every = self.rows[-1], self.options.noise_scale_every
        position = self.options.budget.position(unit)
        if every is None or row["epoch"] != position or position % every:
            return
        scale = theory.noise_scale(self.options.problem, pytrees.to_numpy(params))
        row.update(grad_norm_squared=scale.grad_norm_squared, trace_covariance=scale.trace_covariance,
                   b_simple=scale.b_simple)

    def result(self, params: Any, compile_time: float, averaged: Any = None, sampler_state: Any = None) -> Result:
        """The run's Result, with ``params`` its final θ (and ``averaged`` its final θ̄, if it averages; the sampler's
        final state, if its plans depend on the run)."""
        options = self.options
        columns = self.columns()
        status, message, epochs, iterations = self.outcome(columns)
        return Result(params, status, message, pd.DataFrame(columns), epochs, iterations, compile_time,
                      options.sampler, options.schedule, options.seed, options.engine, self.path, averaged,
                      self.best_params, sampler_state)

    def columns(self) -> dict[str, np.ndarray]:
        """The history as NumPy columns, in the objective's own sign; gap = F − p* (p* − f when
        maximizing) where p* is known, else NaN; violation only for a constrained problem; then the
        problem's diagnostics (and the noise scale, where recorded)."""
        options, rows = self.options, self.rows
        values = {column: np.array([row.get(column, np.nan) for row in rows]) for column in rows[0]}
        optimum = options.problem.optimal_value()
        averaged = list(AVERAGED_COLUMNS) if "avg_loss" in values else []
        for prefix in ("", "avg_") if averaged else ("",):
            with np.errstate(invalid="ignore"):   # inf − inf: an unbounded problem's gap is NaN
                gap = values[prefix + "loss"] - optimum if optimum is not None else np.full(len(rows), np.nan)
            values[prefix + "gap"] = gap
            values[prefix + "loss"] = options.sense.sign * values[prefix + "loss"]
        scores = [column for column in score_columns(options.heldout) if column in rows[0]]
        extras = [column for column in rows[0]
                  if column not in (*HISTORY_COLUMNS, *AVERAGED_COLUMNS, "violation", *scores)] + scores
        constrained = ["violation"] if options.problem.constraint is not None else []
        columns = [*HISTORY_COLUMNS, *constrained, *averaged, *extras]
        return {column: values[column] for column in (columns[1:] if options.budget.chunk else columns)}

    def outcome(self, columns: dict[str, np.ndarray]) -> tuple[Status, str, int | float | None, int]:
        """(status, message, epochs, iterations) of the run whose history ``columns`` are."""
        options = self.options
        last = {name: values[-1] for name, values in columns.items()}
        status, message = self.verdict or ("max_epochs", _budget_message(options, last))
        epochs = None if options.budget.chunk else _number(last["epoch"])
        return status, options.sense.prefix + message + options.step_note, epochs, int(last["iteration"])

    def _verdict(self, when: str, metrics: Metrics, measured: bool) -> Verdict:
        """(status, message) when a stopping rule fires at ``when`` ("epoch 3", "step 200"), else None."""
        options = self.options
        if not metrics.finite or (measured and not (np.isfinite(metrics.loss) and metrics.loss <= self.threshold)):
            return "diverged", _diverged_message(options, when, self.loss0, metrics, self.threshold)
        if options.tol is not None and metrics.grad_norm <= options.tol:
            symbol = options.sense.symbol
            return "converged", f"converged at {when}: ‖∇{symbol}‖ = {metrics.grad_norm:.3g} ≤ tol = {options.tol:g}."
        return None


def _number(value: float) -> int | float:
    """A whole number as an int (a history's epoch at an epoch's end), else the float."""
    return int(value) if float(value).is_integer() else float(value)


def _row(epoch: float, iteration: int, metrics: Metrics, elapsed: float, gradients: float) -> dict:
    row = {"epoch": epoch, "iteration": iteration, "grad_evals": gradients, "loss": metrics.loss,
           "grad_norm": metrics.grad_norm, "dist": metrics.dist, "time": elapsed, "violation": metrics.violation}
    averaged = metrics.averaged
    if averaged is not None:
        row |= {"avg_loss": averaged.loss, "avg_grad_norm": averaged.grad_norm, "avg_dist": averaged.dist}
    return row | metrics.extras


def _pl_ratio(row: dict, optimum: float | None) -> float:
    """‖∇F(θ)‖²/(2(F(θ) − p*)), the largest μ for which the Polyak–Łojasiewicz inequality holds at θ (NaN without p*
    or at it)."""
    gap = np.nan if optimum is None else row["loss"] - optimum
    return float(row["grad_norm"] ** 2 / (2 * gap)) if gap > 0 else float("nan")


def divergence_threshold(problem: Any, loss0: float) -> float:
    """The F beyond which a run started at F(θ⁰) = ``loss0`` counts as diverged (the module docstring's rule)."""
    tiny = float(np.sqrt(np.finfo(np.float64).eps))
    low = problem.lower_bound()
    if low is None or not loss0 >= low:
        return loss0 + UNBOUNDED_DIVERGENCE * max(abs(loss0), tiny)
    return low + DIVERGENCE * max(loss0 - low, 1e-3 * abs(loss0), tiny)


def _diverged_message(options: RunOptions, when: str, loss0: float, metrics: Metrics, threshold: float) -> str:
    sense = options.sense
    if not metrics.finite:
        what = "the parameters became non-finite"
    elif not np.isfinite(metrics.loss):
        what = f"{sense.symbol} became {sense.sign * metrics.loss}"
    else:
        what = (f"{sense.symbol} {sense.worse} from {sense.sign * loss0:.3g} to {sense.sign * metrics.loss:.3g}, past "
                f"the divergence threshold {sense.sign * threshold:.3g}")
    return f"diverged at {when}: {what}. " + _step_versus_limit(options)


def _step_versus_limit(options: RunOptions) -> str:
    """Why a run may diverge: an unbounded problem, or the initial step against 2/L when L is known."""
    if options.problem.optimal_value() == -np.inf:
        bound = "sup f = +∞" if options.sense is MAXIMIZE else "inf F = −∞"
        return f"The problem is unbounded ({bound}), so the iterates run off to infinity whatever the step."
    if options.schedule is None:
        return "The optimizer sets the steps; try a smaller learning rate."
    if isinstance(options.schedule, schedules.AdaptiveStep):
        return f"The step adapts to the loss ({options.schedule.describe()}); check p* or f_min."
    L = options.problem.lipschitz()
    if not options.method.is_plain and L is not None:   # judged by its own region or theorem
        per_epoch = options.sampler.steps_per_epoch(options.problem.n or 1)
        return "The step: " + theory.check_step(options.problem, options.schedule, options.sampler, options.method,
                                                epochs=-(-options.budget.iterations // per_epoch)).verdict
    alpha = schedules.initial_alpha(options.schedule)
    if L is None:
        return f"L is not known here; try a step smaller than α₀ = {alpha:.3g}."
    relation = "≥" if alpha * L >= 2 else "<"
    text = (f"The step α₀ = {alpha:.3g} has α·L = {alpha * L:.3g} {relation} 2 (L = {L:.3g}, 2/L = {2 / L:.3g}); "
            "gradient descent is stable only for α < 2/L")
    batch = getattr(options.sampler, "batch_size", None)
    if batch is None or options.sampler.is_full_batch or not isinstance(options.problem, FiniteSum):
        return text + "."
    L_B = theory.minibatch_lipschitz(options.problem, batch, options.sampler)
    return (text + f", and a stochastic run's steps are judged against L_B = {L_B:.3g} instead (α·L_B = "
            f"{alpha * L_B:.3g}; SGD's theorem asks for α ≤ 1/(2 L_B) = {0.5 / L_B:.3g}).")


def _budget_message(options: RunOptions, last: dict) -> str:
    symbol, budget = options.sense.symbol, options.budget
    iterations = int(last["iteration"])
    spent = (f"{budget.iterations} steps" if budget.chunk
             else f"{budget.position(budget.units):g} epochs ({iterations} iterations)")
    text = f"stopped after {spent}: {symbol} = {last['loss']:.6g}, ‖∇{symbol}‖ = {last['grad_norm']:.3g}"
    if not np.isnan(last["gap"]):
        text += f", {options.sense.gap} = {last['gap']:.3g}"
    if "violation" in last:
        text += f", violation = {last['violation']:.3g}"
    return text + "."
