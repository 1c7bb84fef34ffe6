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

from sgdlab._helpers import validation
from sgdlab._helpers.declared import declared
from sgdlab.engines.base import EpochProgram
from sgdlab.engines.compiled import CompiledRun
from sgdlab.engines.evaluation import Reference
from sgdlab.engines.native.work import (
    SINGLE_MARGIN_LOSSES,
    VARIANCE_REDUCED_KERNELS,
    is_network,
    is_sparse_single_margin,
    step_work,
)
from sgdlab.engines.update_rules import PLAIN_RULE, UpdateRule
from sgdlab.schedules import AdaptiveStep

#: The engines a run may ask for ("streamed" is not asked for: data on disk are always streamed).
ENGINES = ("auto", "jax", "native")

#: The data types the native loop reads X in. The network's loop computes in X's type; the linear models'
#: loops compute in float64 either way, keeping a float32 run's weights in float64 through an epoch and
#: rounding θ to float32 at the epoch's end, where the JAX engine computes in float32 throughout (the two
#: then differ by float32 rounding, not bit for bit).
NATIVE_DTYPES = ("float64", "float32")

#: ``engine="auto"`` runs natively on dense X while a step's multiply-adds, B · p · K (K = 1 for one margin:
#: least squares, logistic), stay at most AUTO_MAX_WORK, where the two engines' epochs cross on a 2-core CPU,
#: in float64 and float32 alike. A JAX step has a cost of its own (a few µs) besides its arithmetic and a
#: native step almost none. On CSR X the native loop is the faster at every B, so sparse minibatch runs
#: always go native. (The timings behind each limit: benchmarks/ENGINE-CHOICE.md, made by
#: benchmarks/engine_choice.py; their history in benchmarks/NOTES.md, "Engine choice".)
AUTO_MAX_WORK = 524_288
#: A ReLU network of one hidden layer runs natively while a step's multiply-adds forward,
#: B · H · (p + K), stay at most this (float64 and float32): beyond it a step's rows no longer stay in the
#: caches, for which the native products are not blocked.
AUTO_MAX_WORK_NETWORK = 8_388_608


def unsupported(problem, sampler, rule: UpdateRule = PLAIN_RULE, placement=None, schedule=None) -> str | None:
    """Why the native loop cannot run this (problem, sampler, update rule, devices, step), or None when it can: each
    object is asked what its own class declares (:mod:`sgdlab._helpers.declared`, ``rule.native_kernels()``)."""
    reason = _model_reason(problem)
    if reason is not None:
        return reason
    if problem.constraint is not None:
        return "the problem is constrained (projected steps run on the JAX engine)"
    reason = _sampler_reason(problem, sampler, rule)
    if reason is not None:
        return reason
    if sampler.weighted and not _native_weighted(problem, sampler, rule):
        return ("the sampler weighs its draws (the native loop runs importance sampling with plain SGD or its average, "
                "networks at B = 1; other runs of it are on the JAX engine)")
    if rule.averaging is not None and not _native_average(problem, rule):
        return (f"the run keeps a {rule.averaging.describe()} (the native loop averages plain SGD on the "
                "linear models, from a start: polyak_average or tail_average)")
    if not rule.method.is_plain and not _native_method(problem, rule):
        return (f"the method is {rule.method.describe()} (the native loop runs plain SGD, heavy ball and Nesterov "
                "on the linear models, and SAGA and SVRG on least squares and logistic regression)")
    if rule.transformation is not None:
        return "an optax optimizer is given (its update runs on the JAX engine)"
    if isinstance(schedule, AdaptiveStep):
        return "the step adapts to the loss (Polyak's steps run on the JAX engine)"
    if placement is not None:
        return "devices are given (data-parallel runs are on the JAX engine)"
    if problem.dtype not in NATIVE_DTYPES:
        return f"the data are {problem.dtype} (the native loop reads {' or '.join(NATIVE_DTYPES)})"
    if importlib.util.find_spec("numba") is None:
        return "Numba is not installed"
    return None


def choose(engine: str, problem, sampler, rule: UpdateRule = PLAIN_RULE, placement=None, schedule=None) -> str:
    """The engine that runs a run asking for ``engine`` ("auto", "jax" or "native"): "jax", "native" or,
    for data on disk, "streamed".

    "auto" runs natively when the native loop supports the run, JAX computes on the CPU, and the
    run is gradient descent on a linear model of one margin on sparse X (two sparse products a step,
    :mod:`sgdlab.engines.native.linear_gd`), or a minibatch one on sparse X or with B · p · K at most
    AUTO_MAX_WORK, or B · H · (p + K) at most AUTO_MAX_WORK_NETWORK (a ReLU network).
    """
    if engine not in ENGINES:
        validation.fail("engine", f"one of {', '.join(map(repr, ENGINES))}", validation.shown(engine))
    if getattr(problem, "on_disk", False):
        return _streamed(engine, placement)
    reason = unsupported(problem, sampler, rule, placement, schedule)
    if engine == "native":
        if reason is not None:
            validation.fail("engine", "'auto' or 'jax' here", f"'native', but {reason}")
        return "native"
    if engine == "jax" or reason is not None or (sampler.is_full_batch and not is_sparse_single_margin(problem)):
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


def program(engine: str, problem, sampler, params, schedule, reference: Reference, *, lanes: int | None = None,
            rule: UpdateRule = PLAIN_RULE, chunk: int | None = None, placement=None) -> EpochProgram:
    """The epoch program of ``engine`` (as :func:`choose` names it) for this problem, sampler, kind of
    schedule, update rule, lanes (None: one run), chunk of steps (an expectation's loop unit, or a piece of a
    finite sum's epoch; None: an epoch) and placement on devices. ``params`` and ``schedule`` give the shapes
    the program is compiled for (stacked along a leading axis when there are lanes); ``reference`` holds θ*
    (or None) and the held-out problems a history row scores (:mod:`sgdlab.engines.evaluation`).

    Programs are kept with the problem (in its ``memo``), so they live as long as its data do and are
    reused, prepared, by every run that needs the same program."""
    if engine == "streamed":
        if lanes is not None:
            validation.fail("problem", _IN_MEMORY, repr(problem))
        from sgdlab.engines.streamed import StreamedRun

        return StreamedRun(problem, sampler, reference.solution, rule)
    compiled = _compiled(problem, sampler, params, schedule, reference, lanes, rule, chunk, placement)
    if engine == "native":
        from sgdlab.engines.native.run import NativeRun  # Numba loads with the first native run

        native = problem.memo.setdefault("native_runs", {})
        if compiled not in native:
            native[compiled] = NativeRun(compiled)
        return native[compiled]
    return compiled


def _compiled(problem, sampler, params, schedule, reference, lanes, rule, chunk, placement) -> CompiledRun:
    """The JAX engine's program, built once per problem and key."""
    cache = problem.memo.setdefault("compiled_runs", {})
    devices = None if placement is None else tuple(device.id for device in placement.mesh.devices.flat)
    key = (sampler, jax.tree.structure(schedule), reference.solution is None, reference.heldout, lanes, rule,
           chunk, devices)
    if key not in cache:
        cache[key] = CompiledRun(problem, sampler, params, schedule, reference, lanes, rule, chunk, placement)
    return cache[key]


def _sampler_reason(problem, sampler, rule: UpdateRule) -> str | None:
    """Why the native loop cannot run ``sampler``'s plans, or None: a sampler runs natively when its own class
    declares ``native`` ("plans": the loop needs its plans alone; "herded": GraB's orders, herded natively with
    plain SGD)."""
    native = declared(sampler, "native")
    if native is None:
        return (f"{type(sampler).__name__} declares no native support (a sampler's own class says native = "
                "'plans' when the native loop needs nothing but its plans)")
    if native == "herded" and not rule.is_plain:
        return ("the sampler's order depends on the run (the native loop herds GraB's orders with plain SGD; other "
                "runs of it are on the JAX engine)")
    return None


def _native_method(problem, rule: UpdateRule) -> bool:
    """Whether the native loop runs the rule's method on ``problem``, as the method's own class declares it
    (:func:`~sgdlab._helpers.declared.declared`): heavy ball and Nesterov on the linear models, and SAGA and SVRG
    with one margin (least squares, logistic regression)."""
    native = rule.native_kernels()[0]
    if is_network(problem) or native is None:
        return False
    if native in VARIANCE_REDUCED_KERNELS:
        return declared(problem, "native_loss") in SINGLE_MARGIN_LOSSES
    return native in ("heavy_ball", "nesterov")


def _native_weighted(problem, sampler, rule: UpdateRule) -> bool:
    """Whether the native loop runs a sampler that weighs its draws: with plain SGD or a Polyak–Ruppert average of
    it, on a linear model at any B (its batch loops weigh each row's derivative) and on a network at B = 1 (a
    step's weight then scales its step size)."""
    plain = rule.method.is_plain and rule.transformation is None
    return plain and (sampler.batch_size == 1 or not is_network(problem))


def _native_average(problem, rule: UpdateRule) -> bool:
    """Whether the native loop runs ``rule``'s averaging: a Polyak–Ruppert or tail average of plain SGD on a linear
    model, as the averaging's own class declares it."""
    method, averaging = rule.native_kernels()
    return method == "plain" and not is_network(problem) and averaging == "polyak_average"


def _model_reason(problem) -> str | None:
    """Why the native loop has no model for ``problem``, or None when it has one."""
    if not is_network(problem):
        if declared(problem, "native_loss") is None:
            return (f"{type(problem).__name__} is not a built-in linear model (least squares, logistic, softmax, "
                    "curve fit) or a ReLU network of one hidden layer")
        if getattr(problem, "scale", None) is not None:
            return "the classifier's losses are weighted (sample_weight, class_weight: runs on the JAX engine)"
        return None
    if problem.sample_weight is not None:
        return "the network's losses are weighted (sample_weight, class_weight: runs on the JAX engine)"
    if len(problem.hidden) != 1:
        return f"the network has {len(problem.hidden)} hidden layers (the native loop runs networks of one)"
    if problem.is_sparse:
        return "X is sparse (the native network loop reads dense rows)"
    return None


def _work_limit(problem) -> int:
    return AUTO_MAX_WORK_NETWORK if is_network(problem) else AUTO_MAX_WORK
