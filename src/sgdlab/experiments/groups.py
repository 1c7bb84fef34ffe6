"""Where a comparison's run groups execute: one after another in this process, or as the tasks of any
``concurrent.futures.Executor`` (local processes, or a Dask cluster's ``distributed.Client(...).get_executor()``).

A run group — the runs that share one compiled program — is one task of the executor; groups of one problem
too small to be worth a task's own cost (a few milliseconds of scheduling) travel together, a shipment of them
per task (:data:`SHIPMENT_WORK`). A task travels as cloudpickle payloads (the problem without its compiled
programs, pickled once for all its groups and sent to a worker once; the runs' options and the function that
runs them), so a loss written as a lambda goes too; the worker runs the groups and sends back each run's history
as columns. Groups come back as their tasks finish, and the caller saves each at once: an interrupted comparison
keeps every finished group. A group that raises does not stop the others; once all are done, one error names
every group that failed and why.

A study described in an experiment file sends its problems' descriptions instead, each worker reading the data
itself (:mod:`sgdlab.experiments.worker_problems`): the problem a group's task receives is then a stand-in that
pickles as its description and unpickles, in the worker, as the problem built there.

On a Dask cluster a problem is the result of a task that unpickles it (its bytes held by the scheduler), so when
a worker dies Dask reruns its groups, and the problem they need, on the others; a group cancelled because its
inputs were lost is submitted again (up to ``RETRIES`` times). When the executor itself is gone (the scheduler
lost, a process pool broken), :class:`ExecutorLost` says how many runs had finished: with a results folder they
are saved, and the same call again reuses them.

Every task is announced to ``on_epoch(label, 0, epochs)`` before any runs, so a progress display knows the whole
work from the start; a task run here then reports each epoch, a task run elsewhere its last one when it is back.

With processes, start them with the spawn method (``ProcessPoolExecutor(mp_context=multiprocessing.get_context(
"spawn"))``): JAX's threads do not survive a fork.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future, as_completed
from typing import Any, NamedTuple

import cloudpickle

from sgdlab._helpers import validation


class GroupsFailed(RuntimeError):
    """Some run groups raised in their workers; the others finished (and were saved)."""


class ExecutorLost(RuntimeError):
    """The executor can run nothing more (its scheduler or processes are gone); the groups that finished before
    were handed back (and saved, when the comparison has a folder)."""

    def __init__(self, what: str, finished: int, total: int):
        super().__init__(f"{what}: {finished} of {total} runs finished before")
        self.what, self.finished, self.total = what, finished, total


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

    @property
    def work(self) -> int:
        """What the group costs, roughly: examples visited, N × epochs × lanes (epochs × lanes for an
        expectation); the largest groups are submitted first, so that no large one is left to finish alone."""
        return (getattr(self.problem, "n", None) or 1) * self.epochs * len(self.lanes)


def checked_executor(executor: Any) -> Executor | None:
    """``executor=``: None (this process) or a ``concurrent.futures.Executor``."""
    if executor is not None and not isinstance(executor, Executor):
        validation.fail("executor", "None or a concurrent.futures.Executor (a ProcessPoolExecutor started with the "
                        "spawn method, or distributed.Client(...).get_executor())", validation.shown(executor),
                        error=TypeError)
    return executor


def computed(tasks: list[Task], on_epoch: Callable | None, executor: Executor | None, run_group: Callable,
             meanwhile: Callable[[], Any] | None = None) -> Iterator[tuple[int, tuple[dict, dict]]]:
    """``run_group(problem, lanes, group, on_unit)`` for each task: in order here without an executor, else as the
    executor's tasks; yields (the task's index, its (histories, paths)) as each finishes.

    ``meanwhile()`` is an early start of work this process does anyway and that needs no group's result (what a
    comparison's record says of its problem): it runs once every task is submitted, while the executor works,
    so that the workers do not wait idle for it after their groups. An error in it is left to the caller, who
    meets it again when it does the work for real (every finished group saved before)."""
    if on_epoch is not None:
        for task in tasks:
            on_epoch(task.label, 0, task.epochs)
    if executor is None:
        for index, task in enumerate(tasks):
            on_unit = None if on_epoch is None else _reporter(on_epoch, task)
            yield index, run_group(task.problem, task.lanes, task.group, on_unit)
        return
    yield from _computed_elsewhere(tasks, on_epoch, executor, run_group, meanwhile)


def _computed_elsewhere(tasks: list[Task], on_epoch: Callable | None, executor: Executor, run_group: Callable,
                        meanwhile: Callable[[], Any] | None) -> Iterator[tuple[int, tuple[dict, dict]]]:
    """:func:`computed` on an executor: the groups travel in shipments (:func:`_shipments`), largest first, each
    a task of the executor; a shipment cancelled because its inputs were lost is submitted again."""
    problems = _shipped_problems(tasks, executor)

    def submit(shipment: tuple[int, ...]) -> Future:
        problem = tasks[shipment[0]].problem
        work = sum(tasks[index].work for index in shipment)
        order = {"priority": work} if _on_dask(executor) else {}   # Dask runs ready tasks by priority
        runs = [(tasks[index].lanes, tasks[index].group) for index in shipment]
        return executor.submit(run_payload, problems[id(problem)], _pickled_without(problem, (run_group, runs)),
                               **order)

    pending = {submit(shipment): shipment for shipment in _shipments(tasks)}
    if meanwhile is not None:
        with contextlib.suppress(Exception):   # met again, and raised, where its work is needed
            meanwhile()
    failures, retries, finished = [], dict.fromkeys(pending.values(), RETRIES), 0
    while pending:   # a round over the submitted shipments (as_completed, not wait: linear in their number)
        submitted, pending = pending, {}
        for future in as_completed(submitted):
            shipment = submitted[future]
            try:
                outcomes = future.result()
            except Exception as error:
                lost = _executor_lost(executor, error)
                if lost:
                    raise ExecutorLost(lost, finished, sum(len(task.lanes) for task in tasks)) from None
                if isinstance(error, CancelledError) and retries[shipment]:   # its inputs were lost: again
                    retries[shipment] -= 1
                    pending[submit(shipment)] = shipment
                    continue
                outcomes = [error] * len(shipment)
            for index, outcome in zip(shipment, outcomes, strict=True):
                task = tasks[index]
                if isinstance(outcome, Exception):   # reported with the group's name once the rest are done
                    failures.append(f"{task.label}: {type(outcome).__name__}: {outcome}")
                    continue
                if on_epoch is not None:   # the group's program ran every epoch elsewhere
                    on_epoch(task.label, task.epochs, task.epochs)
                finished += len(task.lanes)
                yield index, outcome
    if failures:
        raise GroupsFailed(f"{len(failures)} of {len(tasks)} run group(s) failed (the others finished): "
                           + "; ".join(failures))


#: A shipment's work, N × epochs × lanes summed over its groups, below which groups of one problem travel
#: together: a task of the executor costs a few milliseconds of its own (the scheduler, the client, the
#: worker's bookkeeping), as much as a tiny group, so tiny groups go out by the dozen.
SHIPMENT_WORK = 100_000


def _shipments(tasks: list[Task]) -> list[tuple[int, ...]]:
    """The tasks' indices in shipments, largest first: each group alone, except groups of one problem whose work
    is below :data:`SHIPMENT_WORK`, packed together up to that much."""
    shipments: list[tuple[int, ...]] = []
    packing_by_problem: dict[int, tuple[list[int], int]] = {}   # a problem's open shipment and its work
    for index in sorted(range(len(tasks)), key=lambda index: -tasks[index].work):
        task = tasks[index]
        if task.work >= SHIPMENT_WORK:
            shipments.append((index,))
            continue
        packing, work = packing_by_problem.get(id(task.problem), ([], 0))
        if packing and work + task.work > SHIPMENT_WORK:
            shipments.append(tuple(packing))
            packing, work = [], 0
        packing.append(index)
        packing_by_problem[id(task.problem)] = (packing, work + task.work)
    shipments += [tuple(packing) for packing, _ in packing_by_problem.values()]
    return sorted(shipments, key=lambda shipment: -sum(tasks[index].work for index in shipment))


#: How many times a group whose task was cancelled (its worker's inputs lost) is submitted again.
RETRIES = 3


def _executor_lost(executor: Executor, error: Exception) -> str:
    """What was lost, in words, when ``error`` means the executor can run nothing more ('' otherwise): a process
    pool whose worker died abruptly, or a Dask client no longer connected to its scheduler."""
    if isinstance(error, BrokenExecutor):
        return "the pool's worker processes were lost"
    if _on_dask(executor) and isinstance(error, CancelledError):
        from distributed import get_client

        if get_client().status != "running":
            return "the Dask scheduler was lost"
    return ""


def _reporter(on_epoch: Callable, task: Task) -> Callable[[int], None]:
    """``on_unit(epoch)`` for a task run here: ``on_epoch(label, epoch, epochs)``."""
    return lambda epoch: on_epoch(task.label, epoch, task.epochs)


def _shipped_problems(tasks: list[Task], executor: Executor) -> dict[int, Any]:
    """What the tasks of each problem receive for it: the problem pickled once; for the executor of a Dask client
    (``distributed.Client(...).get_executor()``), the future of a task that unpickles those bytes, which the groups
    take as their input, so the data travel to a worker once and not with every group. The bytes are the task's
    argument, held by the scheduler: when the worker holding the problem dies, Dask recomputes it elsewhere
    (scattered data could not be recomputed, and its loss cancelled every group waiting on it). That task also
    computes θ* (:func:`_solved`), once for all the workers."""
    pickled = {id(task.problem): cloudpickle.dumps(task.problem) for task in tasks}
    if not _on_dask(executor):
        return pickled
    from distributed import get_client

    client = get_client()
    first = max(task.work for task in tasks) + 1   # before any group
    with warnings.catch_warnings():   # the bytes are sent once, by design: not the "large graph" Dask warns of
        warnings.filterwarnings("ignore", message="Sending large graph")
        return {key: client.submit(_solved, data, pure=False, priority=first) for key, data in pickled.items()}


def _on_dask(executor: Executor) -> bool:
    """Whether ``executor`` is a Dask client's (``distributed.Client(...).get_executor()``)."""
    return type(executor).__module__.partition(".")[0] == "distributed"


def _unpickled(problem: bytes) -> Any:
    """In a worker: the problem of a group's tasks, unpickled once."""
    return cloudpickle.loads(problem)


def _solved(pickled: bytes) -> Any:
    """In a Dask worker: the problem unpickled once, with θ* computed (every group of it asks for θ* first, for
    ‖θ − θ*‖), so that the other workers receive θ* with the problem rather than each computing it again (a Newton
    solve: 0.6 s on w8a). A failure is left to the groups, which meet it again and report it each."""
    problem = _unpickled(pickled)
    with contextlib.suppress(Exception):
        problem.solution()
    return problem


class _ReferencePickler(cloudpickle.Pickler):
    """Pickles everything but some objects, each written as a reference by name (a group's runs hold their
    problem; a planned comparison its problem and held-out problems)."""

    def __init__(self, file, references: dict[int, str]):
        super().__init__(file)
        self.references = references

    def persistent_id(self, obj):
        return self.references.get(id(obj))


class _ReferenceUnpickler(pickle.Unpickler):
    """Reads what :class:`_ReferencePickler` wrote, each reference resolved to the object given under its name."""

    def __init__(self, file, objects: dict[str, Any]):
        super().__init__(file)
        self.objects = objects

    def persistent_load(self, pid):
        if pid not in self.objects:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self.objects[pid]


#: How a group's payload names its problem.
PROBLEM_REFERENCE = "sgdlab.problem"


def pickled_with_references(value: Any, objects: dict[str, Any]) -> bytes:
    """``value`` pickled with every occurrence of each of ``objects`` written as a reference to its name."""
    buffer = io.BytesIO()
    _ReferencePickler(buffer, {id(obj): name for name, obj in objects.items()}).dump(value)
    return buffer.getvalue()


def unpickled_with_references(data: bytes, objects: dict[str, Any]) -> Any:
    """What :func:`pickled_with_references` pickled, each reference resolved to the object of that name."""
    return _ReferenceUnpickler(io.BytesIO(data), objects).load()


def _pickled_without(problem, value) -> bytes:
    """``value`` pickled with every reference to ``problem`` left as a reference: the group's payload stays small,
    its problem's data travel once (:func:`_shipped_problems`)."""
    return pickled_with_references(value, {PROBLEM_REFERENCE: problem})


def run_payload(problem: Any, payload: bytes) -> list:
    """In a worker: a shipment of groups, unpickled against their problem (pickled bytes, or on Dask the problem
    itself), run one after another; each group's (histories, paths), or the exception it raised (the others
    run on)."""
    if isinstance(problem, bytes):
        problem = _unpickled(problem)
    run_group, runs = unpickled_with_references(payload, {PROBLEM_REFERENCE: problem})
    outcomes: list = []
    for lanes, group in runs:
        try:
            outcomes.append(run_group(problem, lanes, group, None))
        except Exception as error:   # sent back, and named with its group, by computed
            outcomes.append(error)
    return outcomes
