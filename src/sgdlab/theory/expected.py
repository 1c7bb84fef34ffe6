"""The exact expected curves of SGD on least squares: E[F(θᵏ)] − p* and E‖θᵏ − θ*‖², without sampling.

On F(θ) = (1/2N) ‖Xθ − y‖² a term's gradient is affine, ∇fᵢ(θ) = xᵢxᵢᵀ e + rᵢxᵢ with e = θ − θ* and
rᵢ = xᵢᵀθ* − yᵢ the residual at the solution (Σᵢ rᵢxᵢ = 0), so F(θ) − p* = ½ eᵀHe with H = XᵀX/N and a
step e ← e − αₖ g is affine in e. Its first two moments m = E[e] and S = E[eeᵀ] therefore follow a
linear recursion. For a batch of B uniform indices, drawn afresh each step, whose mean has the
variance factor c_B (1/B with replacement, (N − B)/(B(N − 1)) without, 0 for all N; see
:mod:`sgdlab.theory.minibatch`):

    m ← (I − αH) m
    S ← S − α(HS + SH) + α² [c_B M(m, S) + (1 − c_B) HSH],
    M(m, S) = (1/N) Σᵢ (xᵢᵀSxᵢ + 2rᵢ xᵢᵀm + rᵢ²) xᵢxᵢᵀ,

M being E over θ and over one uniform index of ∇fᵢ∇fᵢᵀ. Then E[F] − p* = ½ tr(HS) and
E‖θ − θ*‖² = tr S. A step costs O(N p²).

The shuffled schemes draw dependent batches; for N ≤ MAX_ENUMERATED their expectation is exact by
enumeration of all N! orders: random reshuffling composes each epoch's affine map e ↦ Mπ e + vπ and
averages the moments over π, epoch after epoch; shuffle once averages the N! deterministic runs. A
cyclic run is deterministic, so its own curve is its expectation.
"""

from __future__ import annotations

import itertools
import math
import typing

import numpy as np
import pandas as pd
import scipy.sparse

from sgdlab import schedules
from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Params
from sgdlab._helpers.declared import declared
from sgdlab.problems.base import Problem
from sgdlab.problems.linear import LinearModel
from sgdlab.samplers import Sampler
from sgdlab.theory.minibatch import variance_factor

#: Multiply-adds the moment recursion may spend, steps × N × p² (a few seconds on a laptop core).
MAX_WORK = 3 * 10**10
#: The largest N whose N! orders the shuffled schemes' expectation enumerates.
MAX_ENUMERATED = 8
#: What a step of the recursion costs beyond its arithmetic (NumPy calls from Python), in multiply-adds.
STEP_OVERHEAD = 10**5


def expected_history(problem: Problem, sampler: Sampler, step: schedules.StepLike, epochs: int,
                     params0: Params | None = None) -> pd.DataFrame:
    """E[F(θᵏ)] − p* and E‖θᵏ − θ*‖² at the end of each epoch of SGD on least squares, computed exactly.

    Parameters
    ----------
    problem : LeastSquares
        A least-squares problem (or curve fit) without constraint.
    sampler : Sampler
        ``full_batch()``, ``with_replacement(B)``, ``without_replacement(B)`` or ``cyclic(B)``, any N;
        ``shuffled_cyclic(B)`` and ``shuffle_once(B)`` for N ≤ MAX_ENUMERATED (8).
    step : float, Schedule or callable
        The step sizes αₖ, as ``minimize`` takes them.
    epochs : int
        Epochs to follow.
    params0 : array, optional
        θ⁰ (default the problem's).

    Returns
    -------
    pandas.DataFrame
        One row an epoch, from 0: epoch, iteration, gap (E[F(θᵏ)] − p*) and dist_sq (E‖θᵏ − θ*‖²).

    Examples
    --------
    Gradient descent is deterministic: its expected curve is its run.

    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> problem = sl.least_squares(X, X @ np.ones(3) + np.random.default_rng(1).normal(size=50))
    >>> exact = sl.theory.expected_history(problem, sl.full_batch(), 0.1, epochs=5)
    >>> run = sl.minimize(problem, sl.full_batch(), step=0.1, epochs=5)
    >>> bool(np.allclose(exact.gap, run.history.gap, rtol=1e-10))
    True

    SGD with replacement at a constant step settles at a noise floor:

    >>> noisy = sl.theory.expected_history(problem, sl.with_replacement(1), 0.05, epochs=40)
    >>> bool(noisy.gap.iloc[-1] > 0.01 * noisy.gap.iloc[0]), list(noisy.columns)
    (True, ['epoch', 'iteration', 'gap', 'dist_sq'])
    """
    quadratic = _Quadratic.of(problem)
    epochs = validation.integer("epochs", epochs, low=0, context="expected_history")
    sampler.validate(quadratic.n)
    steps = sampler.steps_per_epoch(quadratic.n)
    cost = exact_cost(problem, sampler, epochs)
    if cost is not None and cost > MAX_WORK:
        validation.fail("epochs", f"at most {MAX_WORK:.0e} multiply-adds of the exact recursion",
                        f"{cost:.2g} for {epochs * steps} steps on {problem.n} × {quadratic.X.shape[1]}",
                        context="expected_history")
    schedule = schedules.as_schedule(step)
    alphas = np.asarray(schedule(np.arange(epochs * steps)), dtype=np.float64).reshape(epochs, steps)
    params0 = problem.params0 if params0 is None else pytrees.conform("params0", params0, problem.params0)
    error = np.asarray(params0, dtype=np.float64) - quadratic.solution
    with np.errstate(over="ignore", invalid="ignore"):   # a step beyond the stable range: the moments blow up
        curve = _curve(quadratic, sampler, error, alphas)
    gaps, distances = zip(*curve, strict=True)
    return pd.DataFrame({"epoch": np.arange(epochs + 1), "iteration": np.arange(epochs + 1) * steps,
                         "gap": np.array(gaps), "dist_sq": np.array(distances)})


class _Quadratic:
    """The least-squares data as the recursions use them: dense X, residuals r at θ*, H = XᵀX/N."""

    def __init__(self, X: np.ndarray, residuals: np.ndarray, solution: np.ndarray):
        self.X, self.residuals, self.solution = X, residuals, solution
        self.n = int(X.shape[0])
        self.hessian = X.T @ X / self.n

    @classmethod
    def of(cls, problem: Problem) -> _Quadratic:
        if not declared(problem, "quadratic_terms", False) or problem.constraint is not None:
            validation.fail("problem", "a least-squares problem without constraint (its gradients are affine)",
                            validation.shown(problem), context="expected_history")
        linear = typing.cast(LinearModel, problem)   # the classes that declare quadratic terms are linear models
        X = np.asarray(linear.X.toarray() if scipy.sparse.issparse(linear.X) else linear.X, dtype=np.float64)
        solution = np.asarray(linear.solution(), dtype=np.float64)
        return cls(X, X @ solution - np.asarray(linear.y, dtype=np.float64), solution)

    def gap_and_distance(self, second_moment: np.ndarray) -> tuple[float, float]:
        """(½ tr(HS), tr S) for S = E[eeᵀ]."""
        return 0.5 * float(np.sum(self.hessian * second_moment)), float(np.trace(second_moment))

    def batch_terms(self, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For batches (… × b indices): the batch means of xᵢxᵢᵀ (… × p × p) and of rᵢxᵢ (… × p)."""
        rows = self.X[batches]
        return (np.einsum("...bi,...bj->...ij", rows, rows) / batches.shape[-1],
                np.einsum("...b,...bi->...i", self.residuals[batches], rows) / batches.shape[-1])


def exact_cost(problem: Problem, sampler: Sampler, epochs: int) -> int | None:
    """The multiply-adds :func:`expected_history` spends on ``epochs`` of this run: STEP_OVERHEAD a step
    (the recursion's Python loop) plus its arithmetic: for stochastic batches drawn afresh, steps × N × p²,
    or N p⁴ + steps × p⁴ when p² ≤ N; steps × p³ for gradient descent; steps × B × p² for a cyclic run;
    steps × N! × p³ for the averages over orders. None where there is no exact curve (not least squares,
    a constraint, another sampler, the shuffled schemes beyond N = 8).

    Parameters
    ----------
    problem : Problem
        The problem.
    sampler : Sampler
        The run's sampler.
    epochs : int
        The epochs of the curve.

    Returns
    -------
    int or None
        The cost, or None.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.least_squares(np.ones((10, 2)), np.arange(10.0))
    >>> sl.theory.exact_cost(problem, sl.with_replacement(1), epochs=2)   # 20 steps + 10 × 2⁴ + 20 × 2⁴
    2000480
    >>> sl.theory.exact_cost(problem, sl.shuffled_cyclic(1), epochs=2) is None   # 10! orders: too many
    True
    """
    if not declared(problem, "quadratic_terms", False) or problem.constraint is not None:
        return None
    linear = typing.cast(LinearModel, problem)
    n, p = linear.n, linear.n_features
    steps = epochs * sampler.steps_per_epoch(n)
    arithmetic = _arithmetic(sampler, n, p, steps)
    return None if arithmetic is None else steps * STEP_OVERHEAD + arithmetic


def _arithmetic(sampler: Sampler, n: int, p: int, steps: int) -> int | None:
    law = declared(sampler, "exact_law")
    if law in ("reshuffled", "shuffled_once"):
        return steps * math.factorial(n) * p**3 if n <= MAX_ENUMERATED else None
    if law == "full_batch":
        return steps * p**3
    if law == "cyclic":
        return steps * sampler.batch_size * p * p   # type: ignore[attr-defined]   # a cyclic sampler has one
    if law == "fresh_draws":
        return min(steps * n * p * p, (n + steps) * p**4) if p * p <= n else steps * n * p * p
    return None


def _curve(quadratic: _Quadratic, sampler: Sampler, error: np.ndarray, alphas: np.ndarray) -> list:
    """[(gap, dist_sq)] at the start and after each epoch (row of ``alphas``) for this sampler."""
    n, law = quadratic.n, declared(sampler, "exact_law")
    if law in ("full_batch", "fresh_draws"):
        batch = int(getattr(sampler, "batch_size", n))   # gradient descent: all N
        return _fresh_batches(quadratic, variance_factor(n, batch, sampler), error, alphas)
    if law == "cyclic":
        return _orders(quadratic, sampler, error, alphas, np.arange(n)[None], reshuffled=False)
    if law in ("reshuffled", "shuffled_once"):
        if n > MAX_ENUMERATED:
            validation.fail("problem", f"a problem of at most N = {MAX_ENUMERATED} terms for {sampler.name} (its "
                            "expectation averages all N! orders)", f"N = {n}", context="expected_history")
        orders = np.array(list(itertools.permutations(range(n))))
        return _orders(quadratic, sampler, error, alphas, orders, reshuffled=law == "reshuffled")
    validation.fail("sampler", "full_batch, with_replacement, without_replacement, cyclic, or shuffled_cyclic and "
                    "shuffle_once for small N (the samplers with an exact expected curve)", repr(sampler),
                    context="expected_history")


class _TermMoments:
    """M(m, S) = (1/N) Σᵢ (xᵢᵀSxᵢ + 2rᵢ xᵢᵀm + rᵢ²) xᵢxᵢᵀ, the mean of ∇fᵢ∇fᵢᵀ over θ and i, taken from the
    rows (O(N p²)) or, when p² ≤ N, from its linear maps precomputed once: vec M = K vec S + 2 J m + g with
    K = (1/N) Σ vec(xᵢxᵢᵀ) vec(xᵢxᵢᵀ)ᵀ (p² × p²), J = (1/N) Σ rᵢ vec(xᵢxᵢᵀ) xᵢᵀ, g = (1/N) Σ rᵢ² vec(xᵢxᵢᵀ)
    (O(p⁴) a step)."""

    def __init__(self, quadratic: _Quadratic):
        self.quadratic = quadratic
        n, p = quadratic.X.shape
        self.precomputed = p * p <= n
        if self.precomputed:
            X, r = quadratic.X, quadratic.residuals
            outer = np.einsum("ni,nj->nij", X, X).reshape(n, p * p)
            self.K, self.J, self.g = outer.T @ outer / n, (outer.T * r) @ X / n, outer.T @ (r * r) / n

    def __call__(self, mean: np.ndarray, second: np.ndarray) -> np.ndarray:
        p = mean.size
        if self.precomputed:
            return (self.K @ second.reshape(-1) + 2 * self.J @ mean + self.g).reshape(p, p)
        X, r = self.quadratic.X, self.quadratic.residuals
        weights = np.sum((X @ second) * X, axis=1) + 2 * r * (X @ mean) + r * r
        return ((X.T * weights) @ X) / self.quadratic.n


def _fresh_batches(quadratic: _Quadratic, factor: float, error: np.ndarray, alphas: np.ndarray) -> list:
    """The moment recursion of the module docstring, a step at a time."""
    H = quadratic.hessian
    moments = _TermMoments(quadratic) if factor > 0 else None
    mean, second = error.copy(), np.outer(error, error)
    curve = [quadratic.gap_and_distance(second)]
    for epoch_alphas in alphas:
        for alpha in epoch_alphas:
            HS = H @ second
            noise = (1 - factor) * (HS @ H)
            if moments is not None:
                noise += factor * moments(mean, second)
            second = second - alpha * (HS + HS.T) + alpha * alpha * noise
            second = 0.5 * (second + second.T)   # rounding leaves an antisymmetric part the map would amplify
            mean = mean - alpha * (H @ mean)
        curve.append(quadratic.gap_and_distance(second))
    return curve


def _orders(quadratic: _Quadratic, sampler: Sampler, error: np.ndarray, alphas: np.ndarray, orders: np.ndarray,
            reshuffled: bool) -> list:
    """The expectation over equally likely orders (rows of ``orders``) cut into the sampler's blocks: a
    fresh order each epoch (``reshuffled``), or one order for the whole run."""
    n, steps, size = quadratic.n, alphas.shape[1], getattr(sampler, "batch_size", 1)
    blocks = [orders[:, j * size:min((j + 1) * size, n)] for j in range(steps)]
    terms = [quadratic.batch_terms(block) for block in blocks]
    errors = np.broadcast_to(error, (len(orders), error.size)).copy()
    mean, second = error.copy(), np.outer(error, error)
    curve = [quadratic.gap_and_distance(second)]
    for epoch_alphas in alphas:
        if reshuffled:
            mean, second = _reshuffled_epoch(terms, epoch_alphas, mean, second)
        else:
            for (batch_hessians, batch_residuals), alpha in zip(terms, epoch_alphas, strict=True):
                errors = errors - alpha * (np.einsum("kij,kj->ki", batch_hessians, errors) + batch_residuals)
            second = errors.T @ errors / len(errors)
        curve.append(quadratic.gap_and_distance(second))
    return curve


def _reshuffled_epoch(terms: list, alphas: np.ndarray, mean: np.ndarray, second: np.ndarray) -> tuple:
    """One epoch of random reshuffling in moments: each order's epoch is an affine map e ↦ Mπ e + vπ,
    and the next moments average over the orders."""
    orders, p = terms[0][1].shape
    maps, shifts = np.broadcast_to(np.eye(p), (orders, p, p)).copy(), np.zeros((orders, p))
    for (batch_hessians, batch_residuals), alpha in zip(terms, alphas, strict=True):
        contraction = np.eye(p) - alpha * batch_hessians
        maps = contraction @ maps
        shifts = np.einsum("kij,kj->ki", contraction, shifts) - alpha * batch_residuals
    moved = maps @ mean
    cross = np.einsum("ki,kj->ij", moved, shifts) / orders
    new_second = (np.einsum("kia,ab,kjb->ij", maps, second, maps) / orders + cross + cross.T
                  + shifts.T @ shifts / orders)
    return np.mean(moved + shifts, axis=0), 0.5 * (new_second + new_second.T)
