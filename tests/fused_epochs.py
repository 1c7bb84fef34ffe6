"""What the tests of many epochs in one call share, for any engine's program class (NativeRun, CompiledRun): a
count of the fused calls, the same runs with one epoch a call, and the comparison of the two runs."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import sgdlab as sl


def counted_calls(monkeypatch: pytest.MonkeyPatch, program: type) -> dict:
    """Counts the calls of ``program.epochs`` (so a test knows the fused path ran): {"epochs": count}."""
    counted = {"epochs": 0}
    fused = program.epochs

    def counting(self, *args, **kwargs):
        counted["epochs"] += 1
        return fused(self, *args, **kwargs)

    monkeypatch.setattr(program, "epochs", counting)
    return counted


def one_epoch_a_call(monkeypatch: pytest.MonkeyPatch, program: type) -> None:
    """Every later run of ``program`` runs one epoch a call."""
    monkeypatch.setattr(program, "epochs_per_call", property(lambda self: 1))


def small_regression(n=37, p=5, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a small noisy linear model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X @ rng.normal(size=p) + 0.1 * rng.normal(size=n)


def assert_same_runs(fused: sl.Result, alone: sl.Result, engine: str) -> None:
    """The two runs on ``engine`` end alike bit for bit: status, message, θ and every history column but the clock."""
    assert fused.engine == alone.engine == engine
    assert (fused.status, fused.message) == (alone.status, alone.message)
    for mine, theirs in zip(jax.tree.leaves(fused.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    columns = [column for column in alone.history.columns if column != "time"]
    assert list(fused.history.columns) == list(alone.history.columns)
    np.testing.assert_array_equal(fused.history[columns].to_numpy(), alone.history[columns].to_numpy())


def helpers(program: type, engine: str) -> tuple:
    """(the fixture ``calls``, one_epoch_a_call(monkeypatch), assert_same_runs(fused, alone)) for ``program``'s
    runs on ``engine``: a test module assigns them to its own names."""
    @pytest.fixture
    def calls(monkeypatch):
        """Counts the calls of the program's ``epochs``."""
        return counted_calls(monkeypatch, program)

    return (calls, functools.partial(one_epoch_a_call, program=program),
            functools.partial(assert_same_runs, engine=engine))


def assert_divergence_stops_alike(monkeypatch: pytest.MonkeyPatch, calls: dict, problem, program: type,
                                  engine: str) -> None:
    """A run of ``problem`` far beyond the edge of stability (θ overflows to inf within tens of epochs) sees θ
    non-finite at its first call's end, runs those epochs again one at a time, and stops where one epoch a call
    stops."""
    step = 10.0 / problem.lipschitz_max()
    fused = sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=400, record_every=200, engine=engine)
    assert fused.status == "diverged" and "non-finite" in fused.message
    assert calls["epochs"] == 1
    assert 0 < fused.epochs < 200
    one_epoch_a_call(monkeypatch, program)
    alone = sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=400, record_every=200, engine=engine)
    assert_same_runs(fused, alone, engine)
