"""Whole epochs run in one call of the native loop (NativeRun.epochs) when nothing needs the host between them.

The reference is the same run with every epoch its own call (``epochs_per_call`` forced to 1): θ, every history
column but the clock, the status and its message must be equal bit for bit — including float32 runs (θ rounded to
float32 between epochs in both), ℓ2 problems (the scale W = s·V folded between epochs in both), lanes, schedules,
every method the native loop runs (momentum, averages, variance reduction), and a run that diverges inside a call
(its epochs replayed one at a time, so it stops at the same epoch).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import sgdlab as sl
from fused_epochs import assert_divergence_stops_alike, helpers, small_regression
from sgdlab.engines.base import Metrics
from sgdlab.engines.native.run import NativeRun
from sgdlab.run import loop
from sgdlab.run.history import RunLog
from sgdlab.run.options import MINIMIZE, validated

SAMPLERS = [sl.shuffled_cyclic(1), sl.with_replacement(1), sl.without_replacement(3), sl.cyclic(4),
            sl.shuffle_once(2), sl.flip_flop(1), sl.shuffled_cyclic(5)]


def _problems():
    X, y = small_regression()
    labels = np.where(y > np.median(y), 1.0, -1.0)
    classes = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    sparse = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    return {"least squares": sl.least_squares(X, y),
            "least squares float32": sl.least_squares(X.astype(np.float32), y.astype(np.float32)),
            "logistic l2 CSR": sl.logistic_regression(sparse, labels, l2=0.05),
            "softmax l2": sl.softmax_regression(X, classes, l2=0.01)}


PROBLEMS = _problems()


calls, _one_epoch_a_call, _same_runs = helpers(NativeRun, "native")


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("sampler", SAMPLERS, ids=repr)
def test_many_epochs_in_one_call_equal_one_epoch_a_call(monkeypatch, calls, name, sampler):
    problem = PROBLEMS[name]
    step = 0.3 / problem.lipschitz_max()
    fused = sl.minimize(problem, sampler, step, epochs=23, record_every=7, engine="native", seed=3)
    assert calls["epochs"] == 4   # epochs 1–7, 8–14, 15–21 and 22–23, each in one call
    _one_epoch_a_call(monkeypatch)
    _same_runs(fused, sl.minimize(problem, sampler, step, epochs=23, record_every=7, engine="native", seed=3))
    assert calls["epochs"] == 4


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("method", [sl.heavy_ball(0.8), sl.nesterov(0.5)], ids=repr)
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(1), sl.with_replacement(3)], ids=repr)
def test_momentum_in_one_call_equals_one_epoch_a_call(monkeypatch, calls, name, method, sampler):
    _twelve_epochs_fused_and_alone(monkeypatch, calls, PROBLEMS[name], sampler, 0.05, method=method)


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("average", [sl.polyak_average(), sl.tail_average(0.5)], ids=repr)
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(1), sl.with_replacement(3)], ids=repr)
def test_averages_in_one_call_equal_one_epoch_a_call(monkeypatch, calls, name, average, sampler):
    """θ̄ handed between epochs as the host hands it (θ̄ = (U + wV)/count, U = θ̄ · count), a tail average's
    first counted iterate inside a call (half of 12 epochs, calls of 5)."""
    fused, alone = _twelve_epochs_fused_and_alone(monkeypatch, calls, PROBLEMS[name], sampler, 0.2, average=average)
    np.testing.assert_array_equal(np.asarray(fused.averaged_params), np.asarray(alone.averaged_params))


@pytest.mark.parametrize("name", ["least squares", "least squares float32", "logistic l2 CSR"])
@pytest.mark.parametrize("method", [sl.saga(), sl.svrg(), sl.loopless_svrg()], ids=repr)
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(1), sl.with_replacement(3)], ids=repr)
def test_variance_reduction_in_one_call_equals_one_epoch_a_call(monkeypatch, calls, name, method, sampler):
    """The table φ and mean ḡ carried across epochs inside a call, refreshed at the method's flags of each epoch
    (SAGA's first step, SVRG's snapshots, loopless SVRG's coin flips)."""
    _twelve_epochs_fused_and_alone(monkeypatch, calls, PROBLEMS[name], sampler, 0.1, method=method)


def _twelve_epochs_fused_and_alone(monkeypatch, calls, problem, sampler, alpha_l, **settings):
    """12 epochs at step ``alpha_l``/L_max with a row every 5, in three calls, then one epoch a call: the same run
    (asserted); both results."""
    step = alpha_l / problem.lipschitz_max()
    fused = sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="native", **settings)
    assert calls["epochs"] == 3
    _one_epoch_a_call(monkeypatch)
    alone = sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="native", **settings)
    _same_runs(fused, alone)
    return fused, alone


def test_a_loop_that_sums_its_batches_in_parts_runs_one_epoch_a_call(calls):
    """Gradient descent on 1,000 × 8 rows: each step's batch is summed in parts (another summation than the loop of
    many epochs), so every epoch is its own call."""
    X, y = small_regression(n=1000, p=8)
    problem = sl.least_squares(X, y)
    result = sl.minimize(problem, sl.full_batch(), 1.0 / problem.lipschitz(), epochs=20, record_every=10,
                         engine="native")
    assert result.engine == "native" and calls["epochs"] == 0


def test_a_schedule_and_importance_sampling_in_one_call(monkeypatch, calls):
    problem = PROBLEMS["least squares"]
    schedule = sl.schedules.inverse_time(0.5 / problem.lipschitz_max(), 0.01)
    runs = [(sl.shuffled_cyclic(2), schedule), (sl.importance(1), 0.2 / problem.lipschitz_max()),
            (sl.importance(3), 0.2 / problem.lipschitz_max())]
    fused = [sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="native") for sampler, step in runs]
    assert calls["epochs"] == 3 * 3
    _one_epoch_a_call(monkeypatch)
    for (sampler, step), result in zip(runs, fused, strict=True):
        _same_runs(result, sl.minimize(problem, sampler, step, epochs=12, record_every=5, engine="native"))


def test_lanes_of_a_comparison_in_one_call(monkeypatch, calls):
    problem = PROBLEMS["logistic l2 CSR"]
    runs = {"small": dict(sampler=sl.shuffled_cyclic(1), step=0.1), "large": dict(sampler=sl.shuffled_cyclic(1),
                                                                                step=0.4)}

    def table():
        return sl.compare(problem, runs, seeds=3, epochs=20, record_every=10, predict=False,
                          engine="native").table.drop(columns="time")

    fused = table()
    assert calls["epochs"] == 2
    _one_epoch_a_call(monkeypatch)
    alone = table()
    np.testing.assert_array_equal(fused.select_dtypes("number").to_numpy(), alone.select_dtypes("number").to_numpy())


def test_a_run_diverging_inside_a_call_stops_where_it_would_alone(monkeypatch, calls):
    assert_divergence_stops_alike(monkeypatch, calls, PROBLEMS["least squares"], NativeRun, "native")


def test_a_lane_that_diverged_does_not_stop_the_others_from_running_in_one_call(monkeypatch, calls):
    problem = PROBLEMS["least squares"]
    L = problem.lipschitz_max()
    runs = {"diverges": dict(sampler=sl.shuffled_cyclic(1), step=10.0 / L),
            "converges": dict(sampler=sl.shuffled_cyclic(1), step=0.2 / L)}

    def table():
        return sl.compare(problem, runs, seeds=2, epochs=300, record_every=100, predict=False,
                          engine="native").table.drop(columns="time")

    fused = table()
    assert calls["epochs"] >= 3   # the call that saw the divergence, then calls of the live lanes
    _one_epoch_a_call(monkeypatch)
    alone = table()
    np.testing.assert_array_equal(fused.select_dtypes("number").to_numpy(), alone.select_dtypes("number").to_numpy())


def test_the_host_gets_every_unit_it_needs(calls):
    """Rows, tol's per-epoch test, checkpoints and a last partial epoch end calls where they must."""
    problem = PROBLEMS["least squares"]
    step = 0.2 / problem.lipschitz_max()
    result = sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=10, record_every=4, engine="native")
    assert result.history.epoch.tolist() == [0, 4, 8, 10] and calls["epochs"] == 3
    sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=10, tol=1e-12, engine="native")
    assert calls["epochs"] == 3   # ‖∇F‖ ≤ tol is tested after every epoch: one a call
    partial = sl.minimize(problem, sl.shuffled_cyclic(4), step, steps=10 * 10 + 3, record_every=5, engine="native")
    assert partial.history.epoch.tolist() == [0, 5, 10, 10.3] and calls["epochs"] == 5


def test_stretches_end_at_checkpoints_and_rows():
    class Program:
        epochs_per_call = 6

    problem = PROBLEMS["least squares"]
    options = [loop_options(problem, record_every=5, epochs=17)]
    logs = [RunLog(options[0], _start())]
    assert [loop.stretch(Program(), logs, unit) for unit in (0, 3, 5, 10, 15, 16)] == [5, 2, 5, 5, 2, 1]
    assert [loop.stretch(Program(), logs, unit, pause_every=3) for unit in (0, 3, 5)] == [3, 2, 1]
    Program.epochs_per_call = 2
    assert loop.stretch(Program(), logs, 0) == 2


def test_checkpointed_run_resumes_bit_for_bit_across_calls(tmp_path):
    problem = PROBLEMS["least squares"]
    step, path = 0.2 / problem.lipschitz_max(), tmp_path / "run.ckpt"
    whole = sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=30, record_every=10, engine="native")
    sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=13, record_every=10, engine="native", checkpoint=path,
                checkpoint_every=4)
    resumed = sl.minimize(problem, sl.shuffled_cyclic(1), step, epochs=30, record_every=10, engine="native",
                          checkpoint=path, checkpoint_every=4, resume=True)
    np.testing.assert_array_equal(np.asarray(resumed.params), np.asarray(whole.params))


def loop_options(problem, **settings):
    return validated(problem, MINIMIZE, sl.shuffled_cyclic(1), 0.01, settings)


def _start():
    return Metrics(True, 1.0, 1.0, np.nan, np.nan, {})
