"""Where a comparison's run groups execute: one after another in this process, or as the tasks of any
``concurrent.futures.Executor`` (local processes, or a Dask cluster's ``distributed.Client(...).get_executor()``).

A run group — the runs that share one compiled program — is one task. It travels as one cloudpickle payload (the
problem without its compiled programs, the runs' options and the function that runs them), so a loss written as
a lambda goes too; the worker runs it and sends back each run's history as columns. Groups come back as they
finish, and the caller saves each at once: an interrupted comparison keeps every finished group. A group that
raises does not stop the others; once all are done, one error names every group that failed and why.

With processes, start them with the spawn method (``ProcessPoolExecutor(mp_context=multiprocessing.get_context(
"spawn"))``): JAX's threads do not survive a fork.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed

import cloudpickle


class GroupsFailed(RuntimeError):
    """Some run groups raised in their workers; the others finished (and were saved)."""


def computed(problem, todo: list, on_epoch: Callable | None, executor: Executor | None,
             run_group: Callable) -> Iterator[tuple[dict, dict]]:
    """``run_group(problem, lanes, group, on_epoch)`` for each (group, lanes) of ``todo``: in order here without
    an executor, else as the executor's tasks, yielded as they finish ((histories, paths) each)."""
    if executor is None:
        for group, lanes in todo:
            yield run_group(problem, lanes, group, on_epoch)
        return
    futures = {executor.submit(run_payload, cloudpickle.dumps((run_group, problem, lanes, group))): (group, lanes)
               for group, lanes in todo}
    failures = []
    for future in as_completed(futures):
        group, lanes = futures[future]
        try:
            result = future.result()
        except Exception as error:   # reported with the group's name once the rest are done
            failures.append(f"{', '.join(spec.name for spec in group)}: {type(error).__name__}: {error}")
            continue
        if on_epoch is not None:   # the group's program ran every epoch elsewhere
            options = next(iter(lanes.values()))
            on_epoch(repr(options.sampler), options.budget.units, options.budget.units)
        yield result
    if failures:
        raise GroupsFailed(f"{len(failures)} of {len(futures)} run group(s) failed (the others finished): "
                           + "; ".join(failures))


def run_payload(payload: bytes) -> tuple[dict, dict]:
    """In a worker: unpickle one group and run it."""
    run_group, problem, lanes, group = cloudpickle.loads(payload)
    return run_group(problem, lanes, group, None)
