"""The conformance check of a sampler: its plans, its runs on both engines, its theorem, its experiment-file form."""

from __future__ import annotations

import numpy as np

from sgdlab._helpers.declared import declared
from sgdlab.experiments.building import run_settings
from sgdlab.samplers import SAMPLERS, Sampler
from sgdlab.testing.conformance import Conformance
from sgdlab.testing.runs import (
    check_theorem,
    compare_engines,
    experiment_settings,
    registered_name,
    small_least_squares,
)
from sgdlab.theory import check_step, minibatch_lipschitz


def check_sampler(sampler: Sampler) -> Conformance:
    """Run ``sampler`` through the plan contract (every index in range, each epoch replayable from (seed, epoch)),
    a run on both engines (native only when its class declares it), ``check_step`` (its own theorem, or "no theorem
    known"), the run identity and an experiment file (its registered name and parameters build it again)."""
    report, problem = Conformance(repr(sampler)), small_least_squares()
    _check_plans(report, sampler, problem.n)
    alpha = 0.25 / minibatch_lipschitz(problem, getattr(sampler, "batch_size", problem.n), sampler)
    compare_engines(report, declared(sampler, "native"), "least squares", problem, sampler, alpha)
    check_theorem(report, check_step(problem, alpha, sampler), tuple(declared(sampler, "theorems", ())),
                  repr(sampler))
    name = registered_name(SAMPLERS, sampler)
    if name is None:
        report.lacks.append("registration (SAMPLERS.register): experiment files and the command line cannot name it")
        return report
    rebuilt = run_settings({"sampler": name, **experiment_settings(SAMPLERS, name, sampler)}, "[runs.check]")
    report.expect(rebuilt["sampler"] == sampler, f"an experiment file builds it as sampler = {name!r}",
                  f"an experiment file naming {name!r} with its parameters builds {rebuilt['sampler']!r}")
    return report


def _check_plans(report: Conformance, sampler: Sampler, n: int) -> None:
    """Every epoch's plan: S × B indices in [0, N) with a mask, S = steps_per_epoch(N), the same for the same
    (seed, epoch) (the first epoch's alone for a sampler whose later plans depend on the run)."""
    for epoch in (0,) if sampler.depends_on_run else (0, 1):
        indices, mask = sampler.plan(n, 5, epoch)
        again, _ = sampler.plan(n, 5, epoch)
        shaped = indices.shape == mask.shape and indices.shape[0] == sampler.steps_per_epoch(n)
        report.expect(shaped, f"epoch {epoch}'s plan has steps_per_epoch(N) rows",
                      f"epoch {epoch}'s plan has shape {indices.shape} (mask {mask.shape}), not "
                      f"{sampler.steps_per_epoch(n)} rows")
        inside = bool(np.all((indices >= 0) & (indices < n)))
        report.expect(inside, f"epoch {epoch}'s indices lie in [0, N)", f"epoch {epoch} has indices outside [0, {n})")
        report.expect(np.array_equal(indices, again), f"epoch {epoch} replays from (seed, epoch)",
                      f"epoch {epoch}'s plan differs when drawn twice from the same (seed, epoch)")
