"""Which engine runs a run, and why: the one place that decides.

"jax" (:mod:`sgdlab.engines.compiled`) runs any problem on any device; "native"
(:mod:`sgdlab.engines.native`) runs the built-in linear models and one-hidden-layer ReLU networks on
the CPU, faster at small and moderate batch sizes; data on disk are streamed
(:mod:`sgdlab.engines.streamed`). ``engine="auto"`` picks the native loop where it supports the run
and is the faster of the two (see :func:`choose`; the measurements behind the limits are in
benchmarks/NOTES.md).
"""

from __future__ import annotations

import importlib.util

import jax
import numpy as np

from sgdlab._helpers import validation

#: The engines a run may ask for.
ENGINES = ("auto", "jax", "native")

#: The data types the native loop reads X in. It computes in float64 either way: a float32 run keeps
#: its weights in float64 through an epoch and rounds θ to float32 at the epoch's end, where the JAX
#: engine computes in float32 throughout (the two then differ by float32 rounding, not bit for bit).
NATIVE_DTYPES = ("float64", "float32")

#: ``engine="auto"`` runs natively on dense X while a step's multiply-adds, B · p · K, stay at most
#: AUTO_MAX_WORK (one margin: least squares, logistic) or AUTO_MAX_WORK_CLASSES (softmax, K classes).
#: A JAX step costs a few µs of its own plus its arithmetic; a native step has almost no cost of its
#: own, prefetching the rows (and targets) ahead hides most of their memory latency, and from
#: B · p · K = 4,096 each step's gradient is summed in two parts on two cores (sgdlab.engines.native.parted),
#: but its softmax step does not batch the K classes as XLA's matrix products do. One shuffled epoch
#: on a 2-core CPU (one run, ms, native / JAX): least squares 200,000 × 100 at B = 256: 12.7 / 24,
#: B = 512: 12.4 / 22, B = 1,024: 12.6 / 12.5, B = 2,048: 12.5 / 19; 200,000 × 10 at B = 4,096:
#: 2.5 / 2.9; 40,000 × 500 at B = 256: 8.6 / 14, B = 1,024: 7.9 / 11. Softmax 100,000 × 100, K = 10
#: at B = 8: 27 / 151, B = 32: 19 / 29, B = 128: 18 / 20. (With the loop on one thread, before the
#: parts, the crossover was near B · p = 65,536 and B · p · K = 16,384.) The native loop also needs no
#: compilation, which decides short runs. On CSR X the native loop was the faster at every B measured
#: (logistic on w8a: 0.008–0.010 s against 0.035–0.18 s, B = 1 to 128), so sparse minibatch runs
#: always go native.
AUTO_MAX_WORK = 524_288
AUTO_MAX_WORK_CLASSES = 131_072
#: A ReLU network of one hidden layer (sgdlab.engines.native.network_sgd) runs natively while a step's
#: multiply-adds forward, B · H · (p + K), stay at most this. One shuffled epoch (ms, native / JAX):
#: 64-128-10 on 60,000 rows at B = 1: 137 / 208, B = 8: 27 / 89, B = 32: 18 / 64, B = 128: 21 / 47,
#: B = 512 (4.8M): 32 / 37, B = 2,048 (19M): 44 / 29; 784-256-10 on 20,000 rows at B = 1: 353 / 1,130,
#: B = 32 (6.5M): 106 / 146, B = 128 (26M): 121 / 128, B = 512: 235 / 116. (Its products are not
#: blocked for the caches: at large B a step's rows no longer stay in them.)
AUTO_MAX_WORK_NETWORK = 8_388_608


def unsupported(problem, sampler, optimizer, placement=None) -> str | None:
    """Why the native loop cannot run this (problem, sampler, optimizer, devices), or None when it can."""
    reason = _model_reason(problem)
    if reason is not None:
        return reason
    if problem.constraint is not None:
        return "the problem is constrained (projected steps run on the JAX engine)"
    if optimizer is not None:
        return "an optax optimizer is given (its update runs on the JAX engine)"
    if placement is not None:
        return "devices are given (data-parallel runs are on the JAX engine)"
    if problem.dtype not in NATIVE_DTYPES:
        return f"the data are {problem.dtype} (the native loop reads {' or '.join(NATIVE_DTYPES)})"
    if importlib.util.find_spec("numba") is None:
        return "Numba is not installed"
    return None


def choose(engine: str, problem, sampler, optimizer, placement=None) -> str:
    """"jax" or "native" for a run asking for ``engine`` ("auto", "jax" or "native").

    "auto" runs natively when the native loop supports the run, JAX computes on the CPU, and the
    run is a minibatch one (gradient descent never) on sparse X or with B · p · K at most
    AUTO_MAX_WORK (one margin) or AUTO_MAX_WORK_CLASSES (softmax), or B · H · (p + K) at most
    AUTO_MAX_WORK_NETWORK (a ReLU network).
    """
    if engine not in ENGINES:
        validation.fail("engine", f"one of {', '.join(map(repr, ENGINES))}", validation.shown(engine))
    reason = unsupported(problem, sampler, optimizer, placement)
    if engine == "native":
        if reason is not None:
            validation.fail("engine", "'auto' or 'jax' here", f"'native', but {reason}")
        return "native"
    if engine == "jax" or reason is not None or sampler.is_full_batch:
        return "jax"
    fits = problem.is_sparse or step_work(problem, sampler.batch_size) <= _work_limit(problem)
    return "native" if fits and jax.default_backend() == "cpu" else "jax"


def _model_reason(problem) -> str | None:
    """Why the native loop has no model for ``problem``, or None when it has one."""
    if not is_network(problem):
        if getattr(problem, "native_loss", None) is None:
            return (f"{type(problem).__name__} is not a built-in linear model (least squares, logistic, softmax, "
                    "curve fit) or a ReLU network of one hidden layer")
        return None
    if len(problem.hidden) != 1:
        return f"the network has {len(problem.hidden)} hidden layers (the native loop runs networks of one)"
    if problem.is_sparse:
        return "X is sparse (the native network loop reads dense rows)"
    return None


def step_work(problem, batch_size: int) -> int:
    """Multiply-adds of a step's forward pass: B · p · K (linear models), B · H · (p + K) (a network)."""
    if is_network(problem):
        return batch_size * sum(np.size(layer["W"]) for layer in problem.params0)
    return batch_size * np.size(problem.params0)


def _work_limit(problem) -> int:
    if is_network(problem):
        return AUTO_MAX_WORK_NETWORK
    return AUTO_MAX_WORK if np.ndim(problem.params0) == 1 else AUTO_MAX_WORK_CLASSES


def is_network(problem) -> bool:
    """Whether ``problem`` is a ReLU network (sgdlab.mlp), whose loop is sgdlab.engines.native.network_sgd."""
    return getattr(problem, "hidden", None) is not None
