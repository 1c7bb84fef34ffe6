"""The theorem behind a run: which result applies to a sampler and a step on a problem, and its bound.

Each case names its assumptions and checks them on the problem; where one fails, the verdict says
which, and no bound is quoted. With e = θ − θ*, rₖ = E‖θᵏ − θ*‖² and F(θ) − p* ≤ (L/2)‖θ − θ*‖²:

* **Gradient descent**, α < 2/L: F decreases at every step (the descent lemma,
  F(θᵏ⁺¹) ≤ F(θᵏ) − α(1 − αL/2)‖∇F(θᵏ)‖²). If F is also μ-strongly convex, twice differentiable with
  μI ⪯ ∇²F ⪯ LI, then θᵏ⁺¹ − θ* = (I − αH̄)(θᵏ − θ*) with H̄ an average Hessian, so
  ‖θᵏ⁺¹ − θ*‖ ≤ qₖ‖θᵏ − θ*‖, qₖ = max(|1 − αₖμ|, |1 − αₖL|) < 1 (Polyak 1987, §1.4).
* **Gradient descent on any L-smooth F bounded below** (no convexity needed), αₖ < 2/L: summing the
  descent lemma over the steps, Σ_{k<K} αₖ(1 − αₖL/2)‖∇F(θᵏ)‖² ≤ F(θ⁰) − F_low, so
  min_{k<K} ‖∇F(θᵏ)‖² ≤ (F(θ⁰) − F_low) / Σ_{k<K} αₖ(1 − αₖL/2) (Nesterov 2004, §1.2.3), with F_low = p*
  where known, else 0 for the linear models (whose losses are nonnegative). This is the curve drawn
  for gradient descent when the contraction does not apply (F not strongly convex).
* **SGD with batches drawn afresh** (with or without replacement), convex terms, F μ-strongly convex,
  every αₖ ≤ 1/(2L_B): rₖ₊₁ ≤ (1 − αₖμ) rₖ + 2αₖ²σ*² (Gower et al. 2019, "SGD: General Analysis and
  Improved Rates", Theorem 3.1, whose proof holds step by step for any such schedule), with L_B the
  sampler's expected smoothness and σ*² its gradient noise at θ* (:mod:`sgdlab.theory.minibatch`).
  A constant α gives rₖ ≤ (1 − αμ)ᵏ r₀ + (2ασ*²/μ)(1 − (1 − αμ)ᵏ): linear convergence to a noise floor
  proportional to α; αₖ of order 1/k gives rₖ = O(1/k).
* **Cyclic, shuffled cyclic and shuffle once** with every term fᵢ μ-strongly convex (an ℓ2 weight
  λ > 0 gives μ = λ), blocks of B dividing N and a constant α ≤ 1/L_max: rₜ₊₁ ≤ qᵐ rₜ + α³ L_max D
  per epoch of m = N/B steps, q = 1 − αμ, D the drift of the epoch's shadow sequence at θ*
  (Mishchenko, Khaled and Richtárik 2020, Theorem 1, with D computed exactly for each order; see
  :mod:`sgdlab.theory.shuffling`): a neighbourhood of order α² rather than SGD's α. Their Theorem 2,
  which needs only F strongly convex, and the shuffled chunks are not implemented; the verdict says
  so rather than quote a theorem that does not apply.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sgdlab import schedules
from sgdlab._helpers import pytrees, theorem
from sgdlab._helpers.aliases import Params
from sgdlab._helpers.declared import declared
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import Sampler
from sgdlab.theory.minibatch import gradient_noise_at_optimum, minibatch_lipschitz
from sgdlab.theory.nonconvex import (
    NONCONVEX_SGD,
    PL_GD,
    PL_SGD,
    linear_recursion,
    nonconvex_curve,
    nonconvex_sgd,
    pl_curve,
    pl_gradient_descent,
    pl_sgd,
)
from sgdlab.theory.shuffling import shadow_drift, term_strong_convexity

DESCENT = theorem.GRADIENT_DESCENT.name
CONTRACTION = "contraction of gradient descent on a strongly convex F (Polyak 1987, §1.4)"
SGD = theorem.FRESH_BATCHES.title
GRADIENT_SUM = "the descent lemma summed over gradient descent's steps (Nesterov 2004, §1.2.3)"
SHUFFLED = theorem.SHUFFLED_ORDERS.title


#: Why each theorem's bound can sit far above a run, in words, given κ = L/μ ("{kappa}").
LOOSENESS = {
    CONTRACTION: "it contracts at the slowest direction's rate, max(|1 − αμ|, |1 − αL|) a step with κ = {kappa}, "
                 "while the run's error soon lies along the faster ones",
    SGD: "its rate 1 − αμ a step and its noise floor 2ασ*²/μ both carry 1/μ (κ = {kappa}), and σ*² is the noise at "
         "θ* in the worst direction",
    SHUFFLED: "its rate uses the terms' common strong convexity μ (κ = {kappa}) and its neighbourhood "
              "α³L_max D/(1 − qᵐ) the largest term's smoothness",
    GRADIENT_SUM: "it holds for every L-smooth F bounded below, a worst case far from a convex quadratic",
}
#: Added when the bound is on F − p*: it comes from the bound on ‖θ − θ*‖².
GAP_FROM_DISTANCE = "F − p* ≤ (L/2)‖θ − θ*‖² overstates the gap by up to κ = {kappa} times"


def looseness(theorem_name: str, quantity: str, kappa: float | None) -> str:
    """Why ``theorem_name``'s bound on ``quantity`` can be loose on a problem of condition number ``kappa``, in
    words ('' for a theorem not listed in LOOSENESS)."""
    shown = "unknown" if kappa is None else f"{kappa:.3g}"
    reasons = [LOOSENESS[theorem_name]] if theorem_name in LOOSENESS else []
    if quantity == "gap" and reasons:
        reasons.append(GAP_FROM_DISTANCE)
    return "; ".join(reasons).format(kappa=shown)


@dataclasses.dataclass(frozen=True)
class Guarantee:
    """What the theory says of a run: the ``theorem`` that applies (its name and reference; None when
    none does) and its ``verdict`` in words, with the run's numbers."""

    theorem: str | None
    verdict: str


def guarantee(problem: Problem, sampler: Sampler, alpha: float, constant: bool = True) -> Guarantee:
    """The theorem for a run of ``sampler`` whose largest step is ``alpha``, its assumptions checked on ``problem``.

    Parameters
    ----------
    problem : Problem
        The problem.
    sampler : Sampler
        The run's sampler.
    alpha : float
        The run's largest step.
    constant : bool, default True
        Whether every step is α (the shuffled orders' theorem needs it).

    Returns
    -------
    Guarantee
        The theorem's name and reference (None when none applies) and the verdict in words.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.least_squares(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
    >>> sl.theory.guarantee(problem, sl.full_batch(), 0.5).theorem
    'the descent lemma of gradient descent'
    >>> sl.theory.guarantee(problem, sl.cyclic(1), 0.1).theorem is None   # its terms are not strongly convex
    True
    >>> ridge = sl.logistic_regression(problem.X, np.array([0, 1, 1]), l2=0.1)
    >>> sl.theory.guarantee(ridge, sl.cyclic(1), 0.1).theorem
    'shuffled and cyclic orders with strongly convex terms (Mishchenko, Khaled and Richtárik 2020, Theorem 1)'

    """
    L = problem.lipschitz()
    if L is None:
        return Guarantee(None, "L is not known for this problem, so no step-size theorem applies; the step is "
                               "judged by the run alone.")
    keys = {declared_theorem.key for declared_theorem in sampler_theorems(sampler)}
    if "pl_gradient_descent" in keys and not strong_convexity(problem) and pl_gradient_descent(problem, alpha):
        return Guarantee(PL_GD, pl_gradient_descent(problem, alpha))   # type: ignore[arg-type]
    if "gradient_descent" in keys:
        return _gradient_descent(alpha, L, problem.constraint is not None)
    if "fresh_batches" in keys:
        return _fresh_batches(problem, sampler, alpha, keys, constant)
    if "shuffled_orders" in keys and isinstance(problem, FiniteSum):
        return _shuffled_orders(problem, sampler, alpha, constant)
    batch = getattr(sampler, "batch_size", None)
    ratio = alpha * minibatch_lipschitz(problem, batch) if isinstance(problem, FiniteSum) and batch else np.nan
    return Guarantee(None, f"α·L_B = {ratio:.3g}: no theorem known for {sampler!r} (a sampler's own class declares "
                           "the theorems that apply to it; SGD's needs batches drawn independently, the shuffled "
                           "orders' blocks of one permutation); judge the run by its curves.")


def sampler_theorems(sampler: Sampler) -> tuple[theorem.Theorem, ...]:
    """The theorems ``sampler``'s own class declares (none for a class that does not: never its parent's)."""
    return tuple(declared(sampler, "theorems", ()))


def _gradient_descent(alpha: float, L: float, projected: bool = False) -> Guarantee:
    ratio = alpha * L
    return Guarantee(DESCENT if ratio < 2 else None, descent_rule(ratio, projected) + ".")


def descent_rule(ratio: float, projected: bool = False) -> str:
    """Gradient descent's rule α·L < 2 in words, for ``ratio`` = α·L (without a full stop). Projected onto a convex
    set C (``projected``), θᵏ⁺¹ = P_C(θᵏ − α∇F(θᵏ)) satisfies ⟨∇F(θᵏ), θᵏ⁺¹ − θᵏ⟩ ≤ −‖θᵏ⁺¹ − θᵏ‖²/α (the
    projection's obtuse angle), so with the descent lemma F(θᵏ⁺¹) ≤ F(θᵏ) − (1/α − L/2)‖θᵏ⁺¹ − θᵏ‖²: F decreases
    and, summed, the gradient mapping (θᵏ − θᵏ⁺¹)/α → 0, while ∇F need not vanish at a minimizer on C's boundary."""
    if ratio < 2 and projected:
        return (f"α·L = {ratio:.3g} < 2: projected gradient descent with this constant step decreases F at every step "
                "and makes the gradient mapping (θᵏ − θᵏ⁺¹)/α → 0 (∇F itself need not vanish on the constraint's "
                "boundary)")
    if ratio < 2:
        return (f"α·L = {ratio:.3g} < 2: gradient descent with this constant step decreases F at every step and "
                "makes ∇F(θᵏ) → 0")
    behaviour = "diverges" if ratio > 2 else "oscillates without converging"
    return f"α·L = {ratio:.3g} ≥ 2: no guarantee; on quadratics gradient descent {behaviour}"


def _fresh_batches(problem: Problem, sampler: Sampler, alpha: float, keys: set[str], constant: bool) -> Guarantee:
    batch = sampler.batch_size   # type: ignore[attr-defined]   # with and without replacement have one
    L_B = minibatch_lipschitz(problem, batch, sampler)   # type: ignore[arg-type]
    ratio = alpha * L_B
    missing = _sgd_assumptions(problem)
    if missing:
        return _beyond_convexity(problem, sampler, alpha, keys, constant) or Guarantee(
            None, f"α·L_B = {ratio:.3g}: SGD's theorem (Gower et al. 2019) needs {missing}; no bound is quoted.")
    if ratio > 0.5:
        return Guarantee(None, f"α·L_B = {ratio:.3g} > 1/2: beyond the steps of SGD's theorem (α ≤ 1/(2 L_B), "
                               "Gower et al. 2019); no bound is quoted. (Gradient descent's α < 2/L does not apply "
                               "to stochastic steps.)")
    mu = strong_convexity(problem)
    floor = 2 * alpha * gradient_noise_at_optimum(problem, batch, sampler) / mu   # type: ignore[arg-type]
    return Guarantee(SGD, f"α·L_B = {ratio:.3g} ≤ 1/2: E‖θᵏ − θ*‖² ≤ (1 − αμ)ᵏ ‖θ⁰ − θ*‖² + 2ασ*²/μ, linear "
                          f"convergence (μ = {mu:.3g}) to a noise floor 2ασ*²/μ = {floor:.3g} "
                          "(Gower et al. 2019, Theorem 3.1).")


def _beyond_convexity(problem: Problem, sampler: Sampler, alpha: float, keys: set[str],
                      constant: bool) -> Guarantee | None:
    """SGD's theorems without strong convexity that the sampler declares and the problem meets: under PL, else for a
    smooth non-convex F (:mod:`sgdlab.theory.nonconvex`); None when neither applies."""
    if "pl_sgd" in keys and (found := pl_sgd(problem, sampler, alpha)):
        return Guarantee(PL_SGD if found[0] else None, found[1])
    if "nonconvex_sgd" in keys and not declared(problem, "convex_terms", False) and (
            found := nonconvex_sgd(problem, sampler, alpha, constant)):
        return Guarantee(NONCONVEX_SGD if found[0] else None, found[1])
    return None


def _shuffled_orders(problem: FiniteSum, sampler: Sampler, alpha: float, constant: bool) -> Guarantee:
    L_max = float(problem.lipschitz_max())   # type: ignore[arg-type]   # the linear models know it
    ratio = alpha * L_max if problem.lipschitz_max() is not None else np.nan
    missing = _shuffled_assumptions(problem, sampler, constant)
    if missing:
        return Guarantee(None, f"α·L_max = {ratio:.3g}: the shuffled orders' theorem (Mishchenko et al. 2020) needs "
                               f"{missing}; no bound is quoted.")
    if ratio > 1:
        return Guarantee(None, f"α·L_max = {ratio:.3g} > 1: beyond the steps of the shuffled orders' theorem "
                               "(α ≤ 1/L_max, Mishchenko et al. 2020); no bound is quoted.")
    mu, steps = term_strong_convexity(problem), sampler.steps_per_epoch(problem.n)
    q = 1 - alpha * mu
    floor = alpha**3 * L_max * shadow_drift(problem, sampler, q) / (1 - q**steps)
    return Guarantee(SHUFFLED, f"α·L_max = {ratio:.3g} ≤ 1: E‖θ − θ*‖² contracts by (1 − αμ)^{steps} an epoch "
                               f"(μ = {mu:.3g}) to a neighbourhood {floor:.3g} of order α² (Mishchenko, Khaled and "
                               "Richtárik 2020, Theorem 1).")


def _shuffled_assumptions(problem: FiniteSum, sampler: Sampler, constant: bool) -> str:
    """What the shuffled orders' theorem needs that the run does not give, in words ('' when all holds)."""
    if not declared(problem, "convex_terms", False) or problem.constraint is not None:
        return "convex terms and no constraint (declared by the built-in linear models' classes)"
    if term_strong_convexity(problem) <= 0:
        return ("every term fᵢ μ-strongly convex (an ℓ2 weight λ > 0 gives μ = λ); the version that needs only F "
                "strongly convex (their Theorem 2) is not implemented here")
    batch = sampler.batch_size   # type: ignore[attr-defined]
    if problem.n % batch:
        return f"blocks that cover every term once an epoch (B dividing N; N = {problem.n}, B = {batch})"
    if problem.solution() is None:
        return "θ* (to measure the drift there), not known for this problem"
    if not constant:
        return "a constant step"
    return ""


def _sgd_assumptions(problem: Problem) -> str:
    """What SGD's theorem needs that the problem does not give, in words ('' when all holds)."""
    if not declared(problem, "convex_terms", False) or problem.constraint is not None:
        return "convex terms and no constraint (declared by the built-in linear models' classes)"
    if not strong_convexity(problem):
        return "F μ-strongly convex with μ known and > 0"
    if problem.solution() is None:
        return "θ* (to measure the noise σ*² there), not known for this problem"
    return ""


def strong_convexity(problem: Problem) -> float:
    """μ where the problem knows it, else 0."""
    mu = problem.strong_convexity() if hasattr(problem, "strong_convexity") else None
    return float(mu) if mu else 0.0


def bound(problem: Problem, sampler: Sampler, step: schedules.StepLike, epochs: int,
          params0: Params | None = None) -> pd.DataFrame:
    """The bound the run's theorem gives at the end of each epoch, on E‖θ − θ*‖² and on E[F(θ)] − p*.

    Parameters
    ----------
    problem : Problem
        The problem.
    sampler : Sampler
        The run's sampler.
    step : float, Schedule or callable
        The step sizes αₖ.
    epochs : int
        Epochs to bound.
    params0 : pytree, optional
        θ⁰ (default the problem's).

    Returns
    -------
    pandas.DataFrame
        Columns epoch, quantity ("dist_sq" = E‖θ − θ*‖², "gap" = E[F] − p*, or, for gradient descent on a
        problem that is not strongly convex, "min_grad_sq" = min_{k<K} ‖∇F(θᵏ)‖² from epoch 1), bound and
        theorem; no rows when no theorem with a curve applies (the reason is in ``attrs["verdict"]``, as
        :func:`sgdlab.check_step` says it).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> problem = sl.least_squares(X, X @ np.ones(3) + np.random.default_rng(1).normal(size=100))
    >>> alpha = 0.25 / sl.theory.minibatch_lipschitz(problem, 1)
    >>> curve = sl.theory.bound(problem, sl.with_replacement(1), alpha, epochs=3)
    >>> curve[curve.quantity == "dist_sq"].epoch.tolist(), curve.theorem.iloc[0]
    ([0, 1, 2, 3], 'SGD with batches drawn afresh (Gower et al. 2019, Theorem 3.1)')
    >>> sl.theory.bound(problem, sl.shuffled_cyclic(1), alpha, epochs=3).empty
    True
    """
    schedule = schedules.as_schedule(step)
    steps = sampler.steps_per_epoch(problem.n) if problem.n is not None else 1
    alphas = np.asarray(schedule(np.arange(max(epochs, 0) * steps)), dtype=np.float64)
    verdict = guarantee(problem, sampler, float(alphas.max()) if alphas.size else schedules.initial_alpha(schedule),
                        constant=bool(np.all(alphas == alphas.flat[0])) if alphas.size else True)
    by_epoch = alphas.reshape(max(epochs, 0), steps)
    if verdict.theorem in (PL_GD, PL_SGD, NONCONVEX_SGD):
        frame = (nonconvex_curve(problem, sampler, by_epoch, params0) if verdict.theorem == NONCONVEX_SGD
                 else pl_curve(problem, sampler, verdict.theorem, by_epoch, params0))
        frame.attrs["verdict"] = verdict.verdict
        return frame
    theorem, at_epochs = _distance_curve(problem, sampler, verdict, by_epoch, params0)
    if at_epochs is not None:
        L = float(problem.lipschitz())   # type: ignore[arg-type]   # every theorem with a curve knows L
        frame = pd.DataFrame({"epoch": np.tile(np.arange(epochs + 1), 2),
                              "quantity": np.repeat(["dist_sq", "gap"], epochs + 1),
                              "bound": np.concatenate([at_epochs, 0.5 * L * at_epochs]), "theorem": theorem})
    else:
        frame = _gradient_curve(problem, verdict, by_epoch, params0)
    frame.attrs["verdict"] = verdict.verdict
    return frame


def _gradient_curve(problem: Problem, verdict: Guarantee, alphas: np.ndarray, params0: Params | None) -> pd.DataFrame:
    """Gradient descent's bound on min_{k<K} ‖∇F(θᵏ)‖² after each epoch K ≥ 1 (see the module docstring); no
    rows for other runs, under a constraint, or when no lower bound on F is known."""
    low = problem.lower_bound()
    if verdict.theorem != DESCENT or problem.constraint is not None or low is None:
        return pd.DataFrame(columns=["epoch", "quantity", "bound", "theorem"])
    start = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    L = float(problem.lipschitz())   # type: ignore[arg-type]   # the descent verdict knows L
    progress = np.cumsum((alphas * (1 - alphas * L / 2)).sum(axis=1))
    epochs = np.arange(1, len(alphas) + 1)
    return pd.DataFrame({"epoch": epochs, "quantity": "min_grad_sq",
                         "bound": max(float(problem.loss(start)) - low, 0.0) / progress, "theorem": GRADIENT_SUM})


def _distance_curve(problem: Problem, sampler: Sampler, verdict: Guarantee, alphas: np.ndarray,
                    params0: Params | None) -> tuple[str | None, np.ndarray | None]:
    """(the theorem, its bound on E‖θ − θ*‖² at the start and after each epoch, a row of ``alphas``), or
    (None, None) when the run's theorem gives no curve: gradient descent's contraction needs a strongly
    convex linear model."""
    mu = strong_convexity(problem)
    contracts = verdict.theorem == DESCENT and mu > 0 and declared(problem, "convex_terms", False)
    if not (verdict.theorem in (SGD, SHUFFLED) or contracts) or problem.solution() is None:
        return None, None
    start = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    distance = float(pytrees.distance(start, pytrees.conform("solution", problem.solution(), problem.params0))) ** 2
    if verdict.theorem == SHUFFLED:
        return SHUFFLED, _shuffled_curve(problem, sampler, float(alphas.flat[0]), len(alphas), distance)   # type: ignore[arg-type]
    if contracts:
        L = float(problem.lipschitz())   # type: ignore[arg-type]
        logs = 2 * np.log(np.maximum(np.abs(1 - alphas * mu), np.abs(1 - alphas * L)))
        return CONTRACTION, distance * np.exp(np.concatenate([[0.0], np.cumsum(logs.sum(axis=1))]))
    noise = gradient_noise_at_optimum(problem, sampler.batch_size, sampler)   # type: ignore[arg-type, attr-defined]
    return SGD, linear_recursion(distance, 1 - alphas * mu, 2 * alphas**2 * noise)


def _shuffled_curve(problem: FiniteSum, sampler: Sampler, alpha: float, epochs: int, distance: float) -> np.ndarray:
    """rₜ₊₁ ≤ qᵐ rₜ + α³ L_max D at the start and after each epoch (see :mod:`sgdlab.theory.shuffling`)."""
    q, steps = 1 - alpha * term_strong_convexity(problem), sampler.steps_per_epoch(problem.n)
    shift = alpha**3 * float(problem.lipschitz_max()) * shadow_drift(problem, sampler, q)   # type: ignore[arg-type]
    return linear_recursion(distance, np.full((epochs, 1), q**steps), np.full((epochs, 1), shift))
