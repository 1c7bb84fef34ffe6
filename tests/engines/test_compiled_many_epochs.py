"""Whole epochs run in one call of the JAX engine's program (CompiledRun.epochs: a ``jax.lax.fori_loop`` over the
epochs' plans) when nothing needs the host between them.

The reference is the same run with every epoch its own call (``epochs_per_call`` forced to 1): θ, every history
column but the clock, the status and its message must be equal bit for bit — float32 and CSR problems, lanes,
schedules, gradient descent, momentum, SAGA's table, an average, an optax optimizer, and a run that diverges inside
a call (its epochs replayed one at a time, so it stops at the same epoch).
"""

from __future__ import annotations

import numpy as np
import optax
import pytest
import scipy.sparse as sp

import sgdlab as sl
from fused_epochs import assert_divergence_stops_alike, helpers, small_regression
from sgdlab.engines.compiled import FUSED_EPOCHS, FUSED_MAX_EPOCH_ENTRIES, CompiledRun


def _problems():
    X, y = small_regression()
    labels = np.where(y > np.median(y), 1.0, -1.0)
    sparse = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    return {"least squares": sl.least_squares(X, y),
            "least squares float32": sl.least_squares(X.astype(np.float32), y.astype(np.float32)),
            "logistic l2 CSR": sl.logistic_regression(sparse, labels, l2=0.05),
            "network": sl.mlp(X, np.digitize(y, [-0.5, 0.5]), hidden=(6,), seed=1)}


PROBLEMS = _problems()


calls, _one_epoch_a_call, _same_runs = helpers(CompiledRun, "jax")


def _twelve_epochs(monkeypatch, calls, problem, sampler, step, **settings):
    """12 epochs with a row every 5, in three calls, then one epoch a call: the same run (asserted); both results."""
    fused = sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="jax", **settings)
    assert calls["epochs"] == 3   # epochs 1–5, 6–10 and 11–12
    _one_epoch_a_call(monkeypatch)
    alone = sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="jax", **settings)
    _same_runs(fused, alone)
    return fused, alone


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(1), sl.with_replacement(3), sl.full_batch()], ids=repr)
def test_many_epochs_in_one_call_equal_one_epoch_a_call(monkeypatch, calls, name, sampler):
    _twelve_epochs(monkeypatch, calls, PROBLEMS[name], sampler, 0.05)


@pytest.mark.parametrize("settings", [dict(method=sl.heavy_ball(0.8)), dict(method=sl.saga()),
                                      dict(average=sl.polyak_average()), dict(optimizer=optax.adam(0.01))],
                         ids=["heavy ball", "SAGA", "Polyak average", "adam"])
def test_methods_averages_and_optimizers_in_one_call(monkeypatch, calls, settings):
    step = None if "optimizer" in settings else 0.05
    fused, alone = _twelve_epochs(monkeypatch, calls, PROBLEMS["least squares"], sl.shuffled_cyclic(2), step,
                                  **settings)
    if "average" in settings:
        np.testing.assert_array_equal(np.asarray(fused.averaged_params), np.asarray(alone.averaged_params))


def test_a_schedule_and_lanes_in_one_call(monkeypatch, calls):
    problem = PROBLEMS["logistic l2 CSR"]
    runs = {"decaying": dict(sampler=sl.shuffled_cyclic(1), step=sl.schedules.inverse_time(0.5, 0.01)),
            "constant": dict(sampler=sl.shuffled_cyclic(1), step=0.4)}

    def table():
        return sl.compare(problem, runs, seeds=3, epochs=20, record_every=10, predict=False,
                          engine="jax").table.drop(columns="time")

    fused = table()
    assert calls["epochs"] == 2 * 2   # each setting's lanes: epochs 1–10 and 11–20
    _one_epoch_a_call(monkeypatch)
    alone = table()
    np.testing.assert_array_equal(fused.select_dtypes("number").to_numpy(), alone.select_dtypes("number").to_numpy())


def test_a_run_diverging_inside_a_call_stops_where_it_would_alone(monkeypatch, calls):
    assert_divergence_stops_alike(monkeypatch, calls, PROBLEMS["least squares"], CompiledRun, "jax")


def test_stretches_longer_than_a_call_are_cut(calls):
    problem = PROBLEMS["least squares"]
    result = sl.minimize(problem, sl.shuffled_cyclic(37), 0.1, epochs=2 * FUSED_EPOCHS + 10, record_every=10_000,
                         engine="jax")
    assert result.history.epoch.tolist() == [0, 2 * FUSED_EPOCHS + 10] and calls["epochs"] == 3


def test_what_the_loop_must_see_every_epoch_runs_one_epoch_a_call(calls):
    """A projection (it may make a non-finite θ finite again, and the loop reads θ's finiteness at a call's end
    only) and GraB (its order is herded at every epoch's end) run one epoch a call; so does an epoch larger than
    FUSED_MAX_EPOCH_ENTRIES plan entries (a call's dispatch is a small share of it)."""
    large = sl.least_squares(*small_regression(n=FUSED_MAX_EPOCH_ENTRIES + 1, p=2))
    sl.minimize(large, sl.shuffled_cyclic(1), 0.01, epochs=4, record_every=2, engine="jax")
    problem = PROBLEMS["least squares"]
    sl.minimize(problem, sl.shuffled_cyclic(1), 0.05, epochs=6, record_every=3, engine="jax",
                constraint=sl.box(-0.5 * np.ones(5), 0.5 * np.ones(5)))
    sl.minimize(problem, sl.grab(1), 0.05, epochs=6, record_every=3, engine="jax")
    assert calls["epochs"] == 0
