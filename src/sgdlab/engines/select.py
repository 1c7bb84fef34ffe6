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
from sgdlab.engines.base import EpochProgram
from sgdlab.engines.compiled import CompiledRun
from sgdlab.engines.native.work import is_network, step_work

#: The engines a run may ask for ("streamed" is not asked for: data on disk are always streamed).
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
    """The engine that runs a run asking for ``engine`` ("auto", "jax" or "native"): "jax", "native" or,
    for data on disk, "streamed".

    "auto" runs natively when the native loop supports the run, JAX computes on the CPU, and the
    run is a minibatch one (gradient descent never) on sparse X or with B · p · K at most
    AUTO_MAX_WORK (one margin) or AUTO_MAX_WORK_CLASSES (softmax), or B · H · (p + K) at most
    AUTO_MAX_WORK_NETWORK (a ReLU network).
    """
    if engine not in ENGINES:
        validation.fail("engine", f"one of {', '.join(map(repr, ENGINES))}", validation.shown(engine))
    if getattr(problem, "on_disk", False):
        return _streamed(engine, placement)
    reason = unsupported(problem, sampler, optimizer, placement)
    if engine == "native":
        if reason is not None:
            validation.fail("engine", "'auto' or 'jax' here", f"'native', but {reason}")
        return "native"
    if engine == "jax" or reason is not None or sampler.is_full_batch:
        return "jax"
    fits = problem.is_sparse or step_work(problem, sampler.batch_size) <= _work_limit(problem)
    return "native" if fits and jax.default_backend() == "cpu" else "jax"


#: What the streamed engine cannot run.
_IN_MEMORY = "data in memory for compare and for devices= (data on disk run through minimize on one device)"


def _streamed(engine: str, placement) -> str:
    """"streamed" for a run on data on disk, which runs on one device through JAX's programs."""
    if engine == "native":
        validation.fail("engine", "'auto' or 'jax' here", "'native', but the data are on disk (they are streamed "
                        "through the JAX engine's programs)")
    if placement is not None:
        validation.fail("problem", _IN_MEMORY, "a problem whose data are on disk")
    return "streamed"


def program(engine: str, problem, sampler, params, schedule, solution, *, lanes: int | None = None, optimizer=None,
            chunk: int | None = None, placement=None) -> EpochProgram:
    """The epoch program of ``engine`` (as :func:`choose` names it) for this problem, sampler, kind of
    schedule, optimizer, lanes (None: one run), chunk of steps (an expectation's loop unit; None: an
    epoch) and placement on devices. ``params`` and ``schedule`` give the shapes the program is
    compiled for (stacked along a leading axis when there are lanes); ``solution`` is θ* or None.

    The JAX engine's programs are kept with the problem (in its ``memo``), so they live as long as its
    data do and are reused by every run that needs the same program."""
    if engine == "streamed":
        if lanes is not None:
            validation.fail("problem", _IN_MEMORY, repr(problem))
        from sgdlab.engines.streamed import StreamedRun

        return StreamedRun(problem, sampler, solution, optimizer)
    compiled = _compiled(problem, sampler, params, schedule, solution, lanes, optimizer, chunk, placement)
    if engine == "native":
        from sgdlab.engines.native.run import NativeRun  # Numba loads with the first native run

        return NativeRun(compiled)
    return compiled


def _compiled(problem, sampler, params, schedule, solution, lanes, optimizer, chunk, placement) -> CompiledRun:
    """The JAX engine's program, built once per problem and key."""
    cache = problem.memo.setdefault("compiled_runs", {})
    devices = None if placement is None else tuple(device.id for device in placement.mesh.devices.flat)
    key = (sampler, jax.tree.structure(schedule), solution is None, lanes, optimizer, chunk, devices)
    if key not in cache:
        cache[key] = CompiledRun(problem, sampler, params, schedule, solution, lanes, optimizer, chunk, placement)
    return cache[key]


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


def _work_limit(problem) -> int:
    if is_network(problem):
        return AUTO_MAX_WORK_NETWORK
    return AUTO_MAX_WORK if np.ndim(problem.params0) == 1 else AUTO_MAX_WORK_CLASSES
