"""Native CPU loops for the built-in linear models at small batch sizes, behind the engine's interface.

XLA runs an epoch as a scan of tiny steps; at batch size 1 on the CPU a plain compiled loop is
faster (no per-step dispatch, no padding, and on CSR data a cost proportional to the nonzeros).
:class:`~sgdlab.kernels.native_run.NativeRun` runs such epochs with Numba from the *same* index
plans and step sizes as the JAX engine, so both give the same run; ``engine="auto"`` picks it
where it is the faster of the two (see :func:`choose`).
"""

from __future__ import annotations

import importlib.util

import jax

from sgdlab import _checks

#: The engines a run may ask for.
ENGINES = ("auto", "jax", "native")

#: ``engine="auto"`` runs natively up to this batch size (measured on a 2-core CPU: the native
#: epoch is the faster below it, XLA's vectorized minibatch steps above it).
AUTO_MAX_BATCH = 16


def unsupported(problem, sampler, optimizer) -> str | None:
    """Why the native loop cannot run this (problem, sampler, optimizer), or None when it can."""
    if getattr(problem, "native_loss", None) is None:
        return f"{type(problem).__name__} is not a built-in linear model (least squares, logistic, softmax, curve fit)"
    if problem.constraint is not None:
        return "the problem is constrained (projected steps run on the JAX engine)"
    if optimizer is not None:
        return "an optax optimizer is given (its update runs on the JAX engine)"
    if problem.dtype != "float64":
        return f"the data are {problem.dtype} (the native loop computes in float64)"
    if importlib.util.find_spec("numba") is None:
        return "Numba is not installed"
    return None


def choose(engine: str, problem, sampler, optimizer) -> str:
    """"jax" or "native" for a run asking for ``engine`` ("auto", "jax" or "native").

    "auto" runs natively when the native loop supports the run, the batch size is at most
    AUTO_MAX_BATCH (gradient descent never) and JAX computes on the CPU.
    """
    if engine not in ENGINES:
        _checks.fail("engine", f"one of {', '.join(map(repr, ENGINES))}", _checks.shown(engine))
    reason = unsupported(problem, sampler, optimizer)
    if engine == "native":
        if reason is not None:
            _checks.fail("engine", "'auto' or 'jax' here", f"'native', but {reason}")
        return "native"
    if engine == "jax" or reason is not None or sampler.is_full_batch:
        return "jax"
    small = sampler.batch_size <= AUTO_MAX_BATCH
    return "native" if small and jax.default_backend() == "cpu" else "jax"
