"""``minimize`` and ``maximize``: run (projected, stochastic) gradient descent for a budget.

A run is one problem, one sampler, one step size (or schedule), one seed and a budget. It returns a
:class:`~sgdlab.run.result.Result` whose history has one row per recorded epoch (epoch 0 is the
start; see :mod:`sgdlab.run.history` for the columns and the stopping rules).

With a constraint C the step is projected, θᵏ⁺¹ = P_C(θᵏ − αₖ gᵏ), and θ⁰ is projected first.
``maximize`` minimizes −f and reports f: its history's loss is f itself, gap is p* − f.

A constant step with α·L ≥ 2, where L is known, gets a :class:`StepSizeWarning` and a note in
the message: gradient descent's guarantee needs α < 2/L.
"""

from __future__ import annotations

from typing import Unpack

from sgdlab._helpers.signatures import with_keywords
from sgdlab.problems.base import Problem
from sgdlab.run.loop import run_one
from sgdlab.run.options import (
    DEFAULTS,
    MAXIMIZE,
    MINIMIZE,
    RunKeywords,
    SamplerLike,
    StepLike,
    check_problem,
    validated,
)
from sgdlab.run.result import Result
from sgdlab.run.steps import StepSizeWarning

__all__ = ["Result", "StepSizeWarning", "maximize", "minimize"]


@with_keywords(RunKeywords, DEFAULTS)
def minimize(problem: Problem, sampler: SamplerLike = None, step: StepLike = None,
             **options: Unpack[RunKeywords]) -> Result:
    """Minimize ``problem`` with θᵏ⁺¹ = θᵏ − αₖ gᵏ, gᵏ the mean gradient over the sampler's batch.

    Parameters
    ----------
    problem : FiniteSum or Expectation
        What to minimize, e.g. ``sl.least_squares(X, y)``.
    sampler : Sampler or str, default ``full_batch()``
        Which indices each step uses, e.g. ``sl.shuffled_cyclic(32)`` or the name "cyclic".
    step : float, Schedule or callable, default 1/L
        The step size αₖ: a constant, a schedule k ↦ αₖ, or None for 1/L when L is known; or a step
        that adapts to the loss, ``sl.polyak()`` (gradient descent, p* known) or ``sl.stochastic_polyak()``.
    epochs : int, default 10
        The budget of a finite sum, in epochs of N per-example gradients.
    steps : int
        The budget in steps: required for an expectation (which has no epochs); for a finite sum, in place
        of epochs (the last epoch may end part way).
    params0 : pytree, default the problem's ``params0``
        The starting point θ⁰.
    seed : int, default 0
        Seeds the sampler's randomness: epoch e's plan is drawn from (seed, e) alone
        (:mod:`sgdlab.samplers.draws`); an expectation's step k draws ω from the key
        fold_in(key(seed), k).
    tol : float, optional
        Stop with status "converged" once ‖∇F(θ)‖ ≤ tol (checked after every epoch).
    stop : Patience, optional
        Early stopping on a history column, ``sl.patience(on="test_loss", epochs=5, min_delta=0.0)``: status
        "stopped_early" once the column has not improved for that many epochs; ``Result.best_params`` is θ
        at its best row (:mod:`sgdlab.run.stopping`).
    heldout : dict of str to FiniteSum, optional
        Data the optimizer never sees, scored at every history row in the same compiled call as F:
        ``{"test": problem.with_data(X_test, y_test)}`` adds the column test_loss (the held-out problem's F)
        and, for a classifier, test_accuracy, with accuracy on the training rows. Each must be the training
        problem's model (same family, parameter shapes, ℓ2 weight and classes) on other rows.
    record_every : int or float, default 1
        Record a history row every this many epochs (steps, for an expectation), and always at the
        start and the end. For a finite sum, 1/m of an epoch (0.5, 0.25, …) records m rows an epoch, after
        steps ⌊jS/m⌋ of its S steps: the history's epoch is then the epoch plus the fraction of its steps done
        (iteration stays exact), and a row at an epoch's end equals the per-epoch run's.
    record_steps : int, optional
        For a finite sum, a row after every this many steps of an epoch (and at its end), in place of
        record_every.
    constraint : ConstraintSet, optional
        Project after every step onto this set (box, nonnegative, ball, simplex, affine). For
        many runs, constrain once with ``problem.subject_to(C)`` so the compiled run is reused.
    optimizer : optax.GradientTransformation, optional
        Replaces the plain update θ − αₖ g with θ + u, (u, state) = optimizer.update(g, state, θ),
        e.g. ``optax.sgd(0.1, momentum=0.9)`` or ``optax.adam(1e-3)``; it carries its own step
        size, so ``step`` must then be left out.
    method : Method, optional
        What a step does with gᵏ and αₖ (:mod:`sgdlab.methods`): ``sl.plain()`` (the default,
        θ − αₖ g), ``sl.heavy_ball(β)`` or ``sl.nesterov(β)`` (momentum, as ``torch.optim.SGD`` has
        it), ``sl.svrg(snapshot_every)``, ``sl.loopless_svrg(p)`` or ``sl.saga()`` (variance reduction,
        finite sums in memory; the history's grad_evals counts their full passes); not with ``optimizer``.
    average : Averaging, optional
        Keep an averaged iterate θ̄ beside θ (:mod:`sgdlab.methods.averaging`): ``sl.polyak_average(start)``,
        ``sl.tail_average(fraction)`` or ``sl.ema(decay)``. The history gains avg_loss, avg_grad_norm,
        avg_gap and avg_dist, and ``Result.averaged_params`` is the final θ̄.
    engine : {"auto", "jax", "native"}, default "auto"
        What runs the epochs: JAX's compiled scan (any problem, any device), or the native CPU loop
        of the built-in linear models and one-hidden-layer networks, which gives the same run and is
        faster at small batch sizes. "auto" picks the native loop where it supports the run and is
        the faster (:func:`sgdlab.engines.select.choose`); data on disk are always streamed.
        ``Result.engine`` says which ran.
    checkpoint : path, optional
        Save the run's state there (one .npz file, written atomically) every ``checkpoint_every``
        epochs (loop units of ``record_every`` steps for an expectation) and at the end. The path must
        not hold a file yet unless ``resume`` is True.
    checkpoint_every : int, default 1
        Loop units between checkpoints.
    resume : bool, default False
        Continue from ``checkpoint`` when it exists (else start afresh): the run must be the same
        (problem, params0, sampler, step, optimizer, seed, record_every, tol, engine); the epoch budget
        may be larger. The final params equal an uninterrupted run's bit for bit.
    devices : list of jax devices or a 1-D jax.sharding.Mesh, optional
        Split every batch across these devices (data parallel, :mod:`sgdlab.engines.distributed`); the
        run equals the single-device one up to the order of sums. Finite sums on the JAX engine only.
    noise_scale_every : int, optional
        Add the gradient-noise scale (:func:`sgdlab.theory.noise_scale`: columns grad_norm_squared,
        trace_covariance, b_simple) to the history rows of the start and of every recorded epoch that
        is a multiple of this. Finite sums only.
    curvature_every : int, optional
        Add the curvature of F at θ (:func:`sgdlab.theory.curvature`) to the history rows of the start and of every
        recorded epoch that is a multiple of this: sharpness λ_max(∇²F) (Lanczos on Hessian-vector products,
        warm-started from the previous such row), hessian_trace and hessian_trace_se (Hutchinson's estimate), and,
        for a stochastic sampler, batch_sharpness E[g_Bᵀ H_B g_B]/E[‖g_B‖²]; and, where p* is known, pl_ratio
        ‖∇F‖²/(2(F − p*)), the Polyak–Łojasiewicz constant measured at θ. Finite sums in memory only.

    Returns
    -------
    Result
        The final ``params``, the ``status`` ("converged", "max_epochs", "diverged" or "stopped_early") and a
        ``message`` in words, the ``history`` (a DataFrame, one row per recorded epoch), the
        ``engine`` that ran, and the run's settings.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it, what is allowed and what was given.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> problem = sl.least_squares(X, X @ np.array([1.0, -2.0, 0.5]))
    >>> result = sl.minimize(problem, sl.shuffled_cyclic(10), step=0.05, epochs=30)
    >>> result.status, result.epochs, result.iterations
    ('max_epochs', 30, 600)
    >>> np.round(result.params, 4)
    array([ 1. , -2. ,  0.5])
    >>> list(result.history.columns)
    ['epoch', 'iteration', 'grad_evals', 'loss', 'grad_norm', 'gap', 'dist', 'time']
    """
    return run_one(validated(problem, MINIMIZE, sampler, step, dict(options)))


@with_keywords(RunKeywords, DEFAULTS)
def maximize(problem: Problem, sampler: SamplerLike = None, step: StepLike = None,
             **options: Unpack[RunKeywords]) -> Result:
    """Maximize ``problem`` (its F is the f to maximize) by minimizing −f.

    The history reports f itself; gap is p* − f with p* = sup f where known.

    Parameters
    ----------
    problem : FiniteSum or Expectation
        The f to maximize.
    sampler, step, **options
        As in :func:`minimize`.

    Returns
    -------
    Result
        As :func:`minimize`'s, in the sign of f.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> concave = sl.finite_sum(lambda theta, c: -(theta - c) ** 2, np.array([1.0, 3.0]), 0.0)
    >>> result = sl.maximize(concave, step=0.25, epochs=40)
    >>> round(float(result.params), 6), round(float(result.history.loss.iloc[-1]), 6)
    (2.0, -1.0)
    """
    check_problem(problem)
    return run_one(validated(problem.negation, MAXIMIZE, sampler, step, dict(options)))
