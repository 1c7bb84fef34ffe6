"""The step check of a run: its step against the limits of the theorem that applies to its sampler.

For gradient descent the rule is α ∈ (0, 2/L): F then decreases at every step,
F(θᵏ⁺¹) ≤ F(θᵏ) − α(1 − αL/2)‖∇F(θᵏ)‖², and summing over k < K gives
min_{k<K} ‖∇F(θᵏ)‖² ≤ 2(F(θ⁰) − inf F) / (α(2 − αL)K), so ∇F(θᵏ) → 0. Stochastic samplers have
theorems of their own (:mod:`sgdlab.theory.theorems`), with other limits.
"""

from __future__ import annotations

import dataclasses
from typing import TypeGuard

from sgdlab import schedules
from sgdlab._helpers import theorem, validation
from sgdlab._helpers.declared import declared
from sgdlab.methods import Method
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler, full_batch
from sgdlab.theory.curvature import sharpness
from sgdlab.theory.smoothness import lipschitz
from sgdlab.theory.theorems import descent_rule, guarantee, strong_convexity


@dataclasses.dataclass(frozen=True)
class StepCheck:
    """A step checked on a problem: ``L``, ``limit`` = 2/L (gradient descent's), ``ratio`` = α·L,
    ``ok`` = ratio < 2, the ``verdict`` of the theorem that applies to the run's sampler, in words, and
    that ``theorem``'s name and reference (None when none applies)."""

    L: float
    limit: float
    ratio: float
    ok: bool
    verdict: str
    theorem: str | None = None


def check_step(problem: Problem, step: schedules.StepLike, sampler: Sampler | None = None,
               method: Method | None = None, epochs: int | None = None) -> StepCheck:
    """The theorem that applies to a run of ``sampler`` with ``step`` on ``problem``, and the step against
    its limits.

    Parameters
    ----------
    problem : Problem
        The problem; L is its own where known, else estimated by power iteration at θ⁰.
    step : float or Schedule
        The step α > 0, or a schedule, judged by its largest step: α₀ for one that never rises, else the largest
        over ``epochs``.
    sampler : Sampler, default ``full_batch()``
        The run's sampler: gradient descent's α < 2/L, SGD's α ≤ 1/(2 L_B) with batches drawn afresh, and
        no theorem quoted where none applies (see :mod:`sgdlab.theory.theorems`).
    method : Method, default ``plain()``
        The run's method (:mod:`sgdlab.methods`): momentum is judged by its stability region on a quadratic,
        α < 2(1 + β)/L for heavy ball (``limit`` and ``ok`` then are its), SVRG and SAGA by the step of the
        theorem giving their linear rate, in terms of L_max.
    epochs : int, optional
        The run's length, needed to judge a schedule that may rise (without it, no theorem is quoted for one).

    Returns
    -------
    StepCheck
        L, the limit 2/L, the ratio α·L, whether α·L < 2, the verdict in words and the theorem's name.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> check = sl.check_step(problem, 1.0 / problem.lipschitz())
    >>> check.ok, round(check.ratio, 6), check.theorem
    (True, 1.0, 'the descent lemma of gradient descent')
    >>> sl.check_step(problem, 3.0 / problem.lipschitz(), method=sl.heavy_ball(0.9)).ok   # 3 < 2(1 + β) = 3.8
    True
    >>> sl.check_step(problem, 2.5 / problem.lipschitz()).verdict
    'α·L = 2.5 ≥ 2: no guarantee; on quadratics gradient descent diverges.'
    >>> noisy = sl.least_squares(X, np.array([1.0, 2.0, 3.0]))
    >>> alpha = 0.25 / sl.theory.minibatch_lipschitz(noisy, 1, sl.with_replacement(1))
    >>> sl.check_step(noisy, alpha, sl.with_replacement(1)).theorem
    'SGD with batches drawn afresh (Gower et al. 2019, Theorem 3.1)'
    >>> sl.check_step(noisy, 4 * alpha, sl.with_replacement(1)).verdict.split(":")[0]
    'α·L_B = 1 > 1/2'
    >>> sl.check_step(noisy, alpha, sl.shuffled_cyclic(1)).theorem is None   # its terms are not strongly convex
    True
    """
    schedule = schedules.as_schedule(step)
    sampler = full_batch() if sampler is None else sampler
    method = Method() if method is None else method
    if problem.lipschitz() is None and _measurable(problem) and not isinstance(schedule, schedules.AdaptiveStep):
        return _uncertified(problem, schedule, sampler, epochs)
    L = lipschitz(problem)
    if isinstance(schedule, schedules.AdaptiveStep):
        return StepCheck(float(L), 2 / float(L), float("nan"), True, *adaptive_verdict(schedule))
    if not schedule.never_rises() and epochs is None:
        alpha = validation.positive_float("step", schedules.initial_alpha(schedule), context="check_step")
        verdict = (f"αₖ may rise ({schedule.describe()}; α₀ = {alpha:.4g}) and a theorem's step limit holds for every "
                   "step: give check_step the run's epochs to judge its largest step.")
        return StepCheck(float(L), 2 / float(L), alpha * L, alpha * L < 2, verdict, None)
    iterations = 1 if epochs is None else max(epochs, 1) * sampler.steps_per_epoch(problem.n or 1)
    alpha = validation.positive_float("step", schedules.largest_alpha(schedule, iterations), context="check_step")
    ratio = alpha * L
    if not method.is_plain:
        return method_verdict(problem, method, alpha, float(L), isinstance(schedule, schedules.Constant), sampler)
    judged = guarantee(problem, sampler, alpha, constant=isinstance(schedule, schedules.Constant))
    text, quoted = judged.verdict, judged.theorem
    if not isinstance(schedule, schedules.Constant):
        text = f"judged by the largest step, max αₖ = {alpha:.4g}: {text}"
    if problem.lipschitz() is None and sampler.is_full_batch:   # gradient descent's rule with L estimated at θ⁰
        text, quoted = f"{descent_rule(ratio, problem.constraint is not None)} (L from {L.method}).", None
    return StepCheck(float(L), 2 / float(L), ratio, ratio < 2, text, quoted)


def _measurable(problem: Problem) -> TypeGuard[FiniteSum]:
    """Whether the curvature of F can be measured: a finite sum whose rows are in this process's memory."""
    return isinstance(problem, FiniteSum) and not problem.on_disk and not problem.is_sharded


def _uncertified(problem: FiniteSum, schedule: schedules.Schedule, sampler: Sampler, epochs: int | None) -> StepCheck:
    """What can be said without a certified L (a network): the sharpness at θ⁰ and its stability line 2/sharpness."""
    iterations = 1 if epochs is None else max(epochs, 1) * sampler.steps_per_epoch(problem.n)
    alpha = validation.positive_float("step", schedules.largest_alpha(schedule, iterations), context="check_step")
    top, _ = sharpness(problem, problem.params0)
    relation = "<" if alpha * top < 2 else "≥"
    verdict = (f"no certified L for {type(problem).__name__} (no theorem's step limit applies): the sharpness at θ⁰ is "
               f"λ_max(∇²F(θ⁰)) = {top:.4g} (Lanczos), so α·λ_max = {alpha * top:.3g} {relation} 2 and 2/λ_max = "
               f"{2 / top:.4g}; that stability holds at θ⁰ only: on a network the sharpness rises during training "
               "until it hovers at 2/α, the edge of stability (Cohen et al. 2021). Record it with curvature_every.")
    return StepCheck(top, 2 / top, alpha * top, alpha * top < 2, verdict, None)


#: What each step rule's theorem says, by the theorem's key (the rule's own class declares the theorem).
ADAPTIVE_CLAIMS = {
    "polyak_step": "Polyak's step needs no L: on a convex F every step moves θ no farther from θ*, and the best "
                   "iterate's gap is at most 2L‖θ⁰ − θ*‖²/k.",
    "stochastic_polyak_step": "the stochastic Polyak step needs no L: with c = 1/2 it converges linearly on a "
                              "strongly convex finite sum when every fᵢ reaches f_min at θ* (interpolation), else "
                              "to a neighbourhood.",
}


def adaptive_verdict(schedule: schedules.AdaptiveStep) -> tuple[str, str | None]:
    """(verdict, theorem) of a step that adapts to the loss, from the theorem its own class declares."""
    for known in declared(schedule, "theorems", ()):
        if known.key in ADAPTIVE_CLAIMS:
            return ADAPTIVE_CLAIMS[known.key], known.title
    return f"no theorem known for the step {schedule.describe()}; judge the run by its curves.", None


def method_verdict(problem: Problem, method: Method, alpha: float, L: float, constant: bool,
                   sampler: Sampler | None = None) -> StepCheck:
    """The step check of a method other than plain SGD, from the theorem its own class declares: momentum's
    stability region on a quadratic, or the step of a variance-reduced method's theorem; "no theorem known"
    for a method that declares none (a subclass does not inherit its parent's)."""
    known = {declared_theorem.key: declared_theorem for declared_theorem in declared(method, "theorems", ())}
    if "svrg" in known:
        check = _variance_reduced(problem, known["svrg"], alpha, L)
        return dataclasses.replace(check, verdict=check.verdict + svrg_inner_loop(problem, method, sampler, alpha))
    if "variance_reduced" in known:
        return _variance_reduced(problem, known["variance_reduced"], alpha, L)
    if "momentum_quadratic" not in known:
        verdict = (f"α·L = {alpha * L:.3g}: no theorem known for {method.describe()} ({type(method).__name__} "
                   "declares none); judge the run by its curves.")
        return StepCheck(L, 2 / L, alpha * L, alpha * L < 2, verdict, None)
    limit = method.stability_limit(L)
    relation, ok = ("<", True) if alpha < limit else ("≥", False)
    words = "stable" if ok else "unstable along the top eigenvector"
    verdict = (f"α = {alpha:.4g} {relation} {limit:.4g}, the stability limit of {method.describe()} on a quadratic "
               f"of smoothness L = {L:.4g}: {words} (Polyak 1987, §3.2).")
    if not constant:
        verdict = f"largest αₖ = {alpha:.4g}; " + verdict
    return StepCheck(L, limit, alpha * L, ok, verdict, known["momentum_quadratic"].title)


def _variance_reduced(problem: Problem, result: theorem.Theorem, alpha: float, L: float) -> StepCheck:
    """The step against a variance-reduced method's theorem, α·L_max ≤ its limit."""
    L_max, most = problem.lipschitz_max(), float(result.limit)   # type: ignore[arg-type]   # every such theorem has one
    ratio = float("nan") if L_max is None else alpha * L_max
    missing = _linear_rate_missing(problem)
    if missing:
        verdict = (f"α·L_max = {ratio:.3g}: {result.title}'s linear rate needs convex terms and F μ-strongly convex, "
                   f"but {missing}; no rate is quoted.")
        return StepCheck(L, 2 / L, alpha * L, alpha * L < 2, verdict, None)
    if L_max is None:
        verdict = f"{result.statement}; L_max is not known here."
    else:
        inside = "within" if result.admits(ratio) else "beyond"
        relation = "<" if result.strict else "≤"
        verdict = f"α·L_max = {ratio:.3g} ({inside} {result.title}'s α·L_max {relation} {most:.3g})."
    return StepCheck(L, 2 / L, alpha * L, alpha * L < 2, verdict, result.statement)


def svrg_inner_loop(problem: Problem, method: Method, sampler: Sampler | None, alpha: float) -> str:
    """Johnson and Zhang's factor ρ = 1/(μα(1 − 2αL_max)m) + 2αL_max/(1 − 2αL_max) for the run's inner loop of m
    steps, in words ('' when the linear rate's assumptions fail: the verdict already says which), and the variant
    the run is: the snapshot is the inner loop's last iterate (option I), the theorem's a random one (option II)."""
    L_max, mu = problem.lipschitz_max(), strong_convexity(problem)
    if L_max is None or not mu or sampler is None or problem.n is None:
        return ""
    m, x = method.inner_loop(sampler.steps_per_epoch(problem.n)), alpha * L_max   # type: ignore[attr-defined]
    variant = (" Their Theorem 1 is proved for a snapshot at a random inner iterate (option II); this SVRG "
               "snapshots the last one (option I), for which ρ is the proved variant's rate, not a proof.")
    if x >= 0.25:
        return f" At α·L_max ≥ 1/4 their ρ = 2αL_max/(1 − 2αL_max) + … ≥ 1: no rate.{variant}"
    rho = 1 / (mu * alpha * (1 - 2 * x) * m) + 2 * x / (1 - 2 * x)
    needed = 1 / (mu * alpha * (1 - 4 * x))
    if rho < 1:
        return (f" With m = {m} steps between snapshots, ρ = {rho:.3g} < 1: E F(w̃ₛ) − p* ≤ ρˢ (F(w̃₀) − p*)."
                f"{variant}")
    return (f" With m = {m} steps between snapshots, ρ = {rho:.3g} ≥ 1: the inner loop is too short for the "
            f"theorem at this step (it needs m > 1/(μα(1 − 4αL_max)) = {needed:.3g}: snapshot less often, svrg:k, or "
            f"take α = 1/(8 L_max), where the m needed is least, 16 L_max/μ = {16 * L_max / mu:.3g}).{variant}")



def _linear_rate_missing(problem: Problem) -> str:
    """What a variance-reduced method's linear rate needs that the problem does not give, in words ('' when none):
    convex terms (declared by the family's class) and a strong convexity μ > 0."""
    if not declared(problem, "convex_terms", False):
        return "the terms are not declared convex"
    if strong_convexity(problem):
        return ""
    return "F is not known strongly convex here (μ is 0 or unknown; an ℓ2 weight λ > 0 gives μ ≥ λ)"
