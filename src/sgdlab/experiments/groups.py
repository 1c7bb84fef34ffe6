"""Where a comparison's run groups execute: one after another in this process, or as the tasks of any
``concurrent.futures.Executor`` (local processes, or a Dask cluster's ``distributed.Client(...).get_executor()``).

A run group — the runs that share one compiled program — is one task. It travels as cloudpickle payloads (the
problem without its compiled programs, pickled once for all its groups and, on a Dask cluster, scattered to the
workers once; the runs' options and the function that runs them), so a loss written as a lambda goes too; the
worker runs it and sends back each run's history as columns. Groups come back as they finish, and the caller
saves each at once: an interrupted comparison keeps every finished group. A group that
raises does not stop the others; once all are done, one error names every group that failed and why.

Every task is announced to ``on_epoch(label, 0, epochs)`` before any runs, so a progress display knows the whole
work from the start; a task run here then reports each epoch, a task run elsewhere its last one when it is back.

With processes, start them with the spawn method (``ProcessPoolExecutor(mp_context=multiprocessing.get_context(
"spawn"))``): JAX's threads do not survive a fork.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed
from typing import Any, NamedTuple

import cloudpickle


class GroupsFailed(RuntimeError):
    """Some run groups raised in their workers; the others finished (and were saved)."""


class Task(NamedTuple):
    """One run group to execute: its label (progress and errors), its problem, its runs and their lanes' options."""

    label: str
    problem: Any
    group: list
    lanes: dict

    @property
    def epochs(self) -> int:
        """The group's budget in epochs (its progress total)."""
        return next(iter(self.lanes.values())).budget.units


def computed(tasks: list[Task], on_epoch: Callable | None, executor: Executor | None,
             run_group: Callable) -> Iterator[tuple[int, tuple[dict, dict]]]:
    """``run_group(problem, lanes, group, on_unit)`` for each task: in order here without an executor, else as the
    executor's tasks; yields (the task's index, its (histories, paths)) as each finishes."""
    if on_epoch is not None:
        for task in tasks:
            on_epoch(task.label, 0, task.epochs)
    if executor is None:
        for index, task in enumerate(tasks):
            on_unit = None if on_epoch is None else _reporter(on_epoch, task)
            yield index, run_group(task.problem, task.lanes, task.group, on_unit)
        return
    problems = _shipped_problems(tasks, executor)
    futures = {executor.submit(run_payload, problems[id(task.problem)],
                               _pickled_without(task.problem, (run_group, task.lanes, task.group))): index
               for index, task in enumerate(tasks)}
    failures = []
    for future in as_completed(futures):
        task = tasks[futures[future]]
        try:
            result = future.result()
        except Exception as error:   # reported with the group's name once the rest are done
            failures.append(f"{task.label}: {type(error).__name__}: {error}")
            continue
        if on_epoch is not None:   # the group's program ran every epoch elsewhere
            on_epoch(task.label, task.epochs, task.epochs)
        yield futures[future], result
    if failures:
        raise GroupsFailed(f"{len(failures)} of {len(futures)} run group(s) failed (the others finished): "
                           + "; ".join(failures))


def _reporter(on_epoch: Callable, task: Task) -> Callable[[int], None]:
    """``on_unit(epoch)`` for a task run here: ``on_epoch(label, epoch, epochs)``."""
    return lambda epoch: on_epoch(task.label, epoch, task.epochs)


def _shipped_problems(tasks: list[Task], executor: Executor) -> dict[int, Any]:
    """What the tasks of each problem receive for it: the problem pickled once; for the executor of a Dask client
    (``distributed.Client(...).get_executor()``), those bytes scattered to the workers once, each task naming them
    (Dask hands a task the copy held where it runs), so the data do not travel with every task."""
    pickled = {id(task.problem): cloudpickle.dumps(task.problem) for task in tasks}
    if type(executor).__module__.partition(".")[0] != "distributed":
        return pickled
    from distributed import get_client

    client = get_client()
    return {key: client.scatter(data, broadcast=True, hash=False) for key, data in pickled.items()}


class _ProblemPickler(cloudpickle.Pickler):
    """Pickles everything but one problem, which it writes as a reference (the runs' options hold their problem)."""

    def __init__(self, file, problem):
        super().__init__(file)
        self.problem = problem

    def persistent_id(self, obj):
        return PROBLEM_REFERENCE if obj is self.problem else None


class _ProblemUnpickler(pickle.Unpickler):
    """Reads what :class:`_ProblemPickler` wrote, the reference resolved to the problem given."""

    def __init__(self, file, problem):
        super().__init__(file)
        self.problem = problem

    def persistent_load(self, pid):
        if pid != PROBLEM_REFERENCE:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self.problem


#: How a group's payload names its problem.
PROBLEM_REFERENCE = "sgdlab.problem"


def _pickled_without(problem, value) -> bytes:
    """``value`` pickled with every reference to ``problem`` left as a reference: the group's payload stays small,
    its problem's data travel once (:func:`_shipped_problems`)."""
    buffer = io.BytesIO()
    _ProblemPickler(buffer, problem).dump(value)
    return buffer.getvalue()


def run_payload(problem: bytes, payload: bytes) -> tuple[dict, dict]:
    """In a worker: unpickle one group and its problem, and run it."""
    unpickled = cloudpickle.loads(problem)
    run_group, lanes, group = _ProblemUnpickler(io.BytesIO(payload), unpickled).load()
    return run_group(unpickled, lanes, group, None)
