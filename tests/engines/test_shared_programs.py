"""Problems of one structure share their compiled programs in a process, and only they do."""

import numpy as np
import pytest

import sgdlab as sl
from sgdlab._helpers import shared_programs

RUNS = {"RR": dict(sampler=sl.shuffled_cyclic(4), step="0.5/L_B")}


def _logistic(seed: int, l2: float = 1e-2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(24, 3))
    return sl.logistic_regression(X, X @ rng.normal(size=3) > 0, l2=l2)


def _compared(problem):
    return sl.compare(problem, RUNS, seeds=2, epochs=3, predict=False, engine="jax").table.drop(columns="time")


def _epoch_programs(problem) -> list:
    return [program for run in problem.memo["compiled_runs"].values() for program in run._epoch.values()]


def test_same_structure_shares_the_executable_and_changes_no_number():
    first, second = _logistic(0), _logistic(1)
    _compared(first)
    shared = _compared(second)
    assert [id(p) for p in _epoch_programs(second)] == [id(p) for p in _epoch_programs(first)]
    shared_programs._programs.clear()
    fresh = _logistic(1)
    alone = _compared(fresh)   # the same data, compiled afresh
    assert not {id(p) for p in _epoch_programs(fresh)} & {id(p) for p in _epoch_programs(first)}
    np.testing.assert_array_equal(shared.select_dtypes("number").to_numpy(),
                                  alone.select_dtypes("number").to_numpy())


def test_a_constant_in_the_program_keeps_programs_apart():
    weak, strong = _logistic(0, l2=1e-2), _logistic(0, l2=1.0)
    _compared(weak)
    _compared(strong)
    assert not {id(p) for p in _epoch_programs(weak)} & {id(p) for p in _epoch_programs(strong)}


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="Linux's memory maps")
def test_many_problems_do_not_grow_the_memory_maps():
    """Each loaded executable maps its own pages: one per problem ran a study of 1,000 problems out of maps."""
    def maps() -> int:
        with open("/proc/self/maps") as lines:
            return sum(1 for _ in lines)

    kept = [_logistic(seed) for seed in range(3)]
    for problem in kept:
        _compared(problem)
    before = maps()
    kept += [_logistic(seed) for seed in range(3, 15)]
    for problem in kept[3:]:
        _compared(problem)
    assert maps() - before < 100   # was about 170 a problem (2,000 here)
