"""compare and study with an executor (sgdlab.experiments.groups): run groups as tasks of two spawned processes give
the serial table; a group that raises in its worker is named, the others are saved, and a rerun computes only it."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.experiments.groups import GroupsFailed

RUNS = {"GD": dict(sampler="full_batch", step="1/L"), "RR": dict(sampler=sl.shuffled_cyclic(8), step=0.01),
        "SGD": dict(sampler=sl.with_replacement(8), step=0.01), "cyclic": dict(sampler=sl.cyclic(8), step=0.01)}


@pytest.fixture(scope="module")
def workers():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    return X, X @ np.arange(1.0, 5.0) + 0.1 * rng.normal(size=120)


def without_time(table):
    return table.drop(columns="time")


def test_groups_run_by_worker_processes_give_the_serial_table(data, workers):
    X, y = data
    own = sl.finite_sum(lambda theta, example: 0.5 * (example[0] @ theta - example[1]) ** 2, (X, y), np.zeros(4))
    for problem in (sl.least_squares(X, y), own):   # a lambda loss travels too (cloudpickle)
        serial = sl.compare(problem, RUNS, seeds=2, epochs=2).table
        spread = sl.compare(problem, RUNS, seeds=2, epochs=2, executor=workers).table
        pd.testing.assert_frame_equal(without_time(spread), without_time(serial))
    problems = {"a": sl.least_squares(X, y), "b": sl.least_squares(X[:60], y[:60])}
    pd.testing.assert_frame_equal(without_time(sl.study(problems, RUNS, seeds=2, epochs=2, executor=workers).table),
                                  without_time(sl.study(problems, RUNS, seeds=2, epochs=2).table))


def test_progress_knows_every_group_first_then_counts_each_once_it_is_back(data, workers):
    def recorded(**options):
        calls = []
        sl.compare(sl.least_squares(*data), RUNS, seeds=2, epochs=3,
                   on_epoch=lambda label, epoch, epochs: calls.append((label, epoch, epochs)), **options)
        return calls

    serial, spread = recorded(), recorded(executor=workers)
    announced = [(label, 0, 3) for label, *_ in serial[:len(RUNS)]]
    assert serial[:len(RUNS)] == announced and len({label for label, *_ in announced}) == len(RUNS)
    assert serial[len(RUNS):] == [(label, epoch, 3) for label, *_ in announced for epoch in (1, 2, 3)]
    assert spread[:len(RUNS)] == announced   # every group announced before any runs, then its last epoch, once
    assert sorted(spread[len(RUNS):]) == sorted((label, 3, 3) for label, *_ in announced)


def test_a_study_submits_every_problems_groups_at_once(data, workers):
    X, y = data
    problems = {"a": sl.least_squares(X, y), "b": sl.least_squares(X[:60], y[:60])}
    calls = []
    sl.study(problems, RUNS, seeds=2, epochs=3, executor=workers,
             on_epoch=lambda label, epoch, epochs: calls.append((label, epoch)))
    groups = len(problems) * len(RUNS)
    assert [epoch for _, epoch in calls[:groups]] == [0] * groups   # all announced, then each comes back once
    assert sorted(label.split(":")[0] for label, _ in calls[:groups]) == ["a"] * len(RUNS) + ["b"] * len(RUNS)
    assert sorted(calls[groups:]) == sorted((label, 3) for label, _ in calls[:groups])


def failing_in_workers(k):
    """A step that raises in a worker process (as a data file missing there would), and is 0.01 here."""
    if multiprocessing.parent_process() is not None:
        raise OSError("data file missing on this worker")
    return 0.01 + 0.0 * k


def test_a_group_that_raises_is_named_and_the_rest_are_saved_then_reused(data, workers, tmp_path):
    runs = {**RUNS, "broken": dict(sampler=sl.shuffled_cyclic(5), step=lambda k: failing_in_workers(k))}
    problem = sl.least_squares(*data)
    with pytest.raises(GroupsFailed, match=r"1 of 5 run group\(s\) failed .*broken: OSError: data file missing"):
        sl.compare(problem, runs, seeds=2, epochs=2, out=tmp_path, executor=workers)
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == len(RUNS) * 2
    again = sl.compare(problem, runs, seeds=2, epochs=2, out=tmp_path)   # here the step works
    assert again.reused == len(RUNS) * 2 and set(again.table.run) == set(runs)


def test_tiny_groups_of_one_problem_travel_together_and_large_ones_alone():
    from types import SimpleNamespace

    from sgdlab.experiments.groups import SHIPMENT_WORK, Task, _shipments

    def task(problem, lanes=1):   # work = N × 10 epochs × lanes
        return Task("t", problem, [], dict.fromkeys(range(lanes), SimpleNamespace(budget=SimpleNamespace(units=10))))

    small, other, large = SimpleNamespace(n=20), SimpleNamespace(n=30), SimpleNamespace(n=SHIPMENT_WORK)
    tasks = [task(small) for _ in range(7)] + [task(other) for _ in range(3)] + [task(large)] * 2
    shipments = _shipments(tasks)
    assert sorted(index for shipment in shipments for index in shipment) == list(range(len(tasks)))
    assert shipments[:2] == [(10,), (11,)]   # each large group alone, first
    assert sorted(map(sorted, shipments[2:])) == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]   # one shipment a problem
    crowded = [task(small, lanes=SHIPMENT_WORK // 600) for _ in range(4)]   # 0.3 of the limit each
    assert sorted(len(shipment) for shipment in _shipments(crowded)) == [1, 3]   # packed up to the limit


def test_the_problem_task_on_dask_computes_theta_star_once_for_every_worker(data, monkeypatch):
    """The Dask task that unpickles a problem also computes θ*, and the problem a second worker receives from the
    first carries it: no second Newton solve. A problem whose θ* raises is still handed over (its groups meet the
    error themselves)."""
    import cloudpickle

    from sgdlab.experiments import groups
    from sgdlab.problems import logistic

    X, y = data
    problem = groups._solved(cloudpickle.dumps(sl.logistic_regression(X, y > 0, l2=0.1)))
    received = cloudpickle.loads(cloudpickle.dumps(problem))   # what a worker fetching it unpickles
    monkeypatch.setattr(logistic, "_newton", lambda *args: pytest.fail("θ* computed a second time"))
    np.testing.assert_array_equal(received.solution(), problem.solution())

    def unsolvable(*args):
        raise FloatingPointError("Newton diverged")

    monkeypatch.setattr(logistic, "_newton", unsolvable)
    fresh = groups._solved(cloudpickle.dumps(sl.logistic_regression(X, y > 0, l2=0.1)))
    with pytest.raises(FloatingPointError):
        fresh.solution()
