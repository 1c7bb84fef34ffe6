"""compare: vmapped runs equal minimize's, the table is tidy and deterministic, saved runs are reused."""

import re

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab import theory
from sgdlab.experiments.steps import parse_step
from sgdlab.experiments.summary import quantile

METRICS = ["loss", "grad_norm", "gap", "dist"]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(90, 4))
    return sl.least_squares(X, X @ np.array([1.0, -1.0, 2.0, 0.5]) + 0.2 * rng.normal(size=90))


RUNS = {
    "gd": dict(sampler=sl.full_batch(), step="1/L"),
    "sgd": dict(sampler=sl.with_replacement(1), step=0.02),
    "sgd big": dict(sampler=sl.with_replacement(1), step=0.05),                    # same program as "sgd"
    "rr": dict(sampler=sl.shuffled_cyclic(8), step=sl.inverse_time(0.1, 0.01)),
    "wor": dict(sampler=sl.without_replacement(8)),                                 # default step 1/L_B
}


def test_vmapped_runs_equal_minimize_one_at_a_time(problem):
    comparison = sl.compare(problem, RUNS, seeds=3, epochs=4)
    table = comparison.table
    for name, settings in RUNS.items():
        schedule = parse_step(settings.get("step", "1/L_B"), problem, settings["sampler"])[0]
        for seed in range(3):
            alone = sl.minimize(problem, sampler=settings["sampler"], step=schedule, epochs=4, seed=seed)
            together = table[(table.run == name) & (table.seed == seed)]
            np.testing.assert_array_equal(together[METRICS].to_numpy(), alone.history[METRICS].to_numpy())
            assert together.status.iloc[0] == alone.status and together.message.iloc[0] == alone.message


@pytest.mark.parametrize("engine", ["native", "jax"])
@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_a_run_has_the_same_bits_whatever_the_size_of_its_group(kind, engine):
    """A run recomputed alone (a group of one) equals the same run computed beside others, bit for bit."""
    dataset = sl.data.load("breast_cancer")
    X, y = sl.data.standardize(dataset.X), dataset.y
    problem = sl.least_squares(X, y.astype(float)) if kind == "least_squares" else sl.logistic_regression(X, y, 0.01)
    runs = {"RR": dict(sampler=sl.shuffled_cyclic(32), step="0.5/L_B"), "GD": dict(sampler=sl.full_batch()),
            "SGD": dict(sampler=sl.with_replacement(1), step="0.5/L_B")}
    alone = sl.compare(problem, runs, seeds=[3], epochs=3, engine=engine, predict=False).table
    together = sl.compare(problem, runs, seeds=range(6), epochs=3, engine=engine, predict=False).table
    columns = ["run", "epoch", *METRICS]
    np.testing.assert_array_equal(alone[columns].to_numpy(), together[together.seed == 3][columns].to_numpy())


def test_lanes_that_stop_early_keep_minimize_results(problem):
    L = problem.lipschitz()
    runs = {"stable": dict(sampler=sl.full_batch(), step=1.0 / L), "unstable": dict(sampler=sl.full_batch(), step=2.2 / L)}
    with pytest.warns(sl.StepSizeWarning):
        table = sl.compare(problem, runs, seeds=1, epochs=400, tol=1e-9).table
    with pytest.warns(sl.StepSizeWarning):
        unstable = sl.minimize(problem, step=2.2 / L, epochs=400, tol=1e-9)
    stable = sl.minimize(problem, step=1.0 / L, epochs=400, tol=1e-9)
    for name, alone in (("stable", stable), ("unstable", unstable)):
        together = table[table.run == name]
        assert together.status.iloc[0] == alone.status
        np.testing.assert_allclose(together[METRICS].to_numpy(), alone.history[METRICS].to_numpy(), rtol=1e-10, atol=1e-12)
    assert {stable.status, unstable.status} == {"converged", "diverged"}


def test_same_comparison_twice_gives_the_same_table_apart_from_time(problem):
    first = sl.compare(problem, RUNS, seeds=2, epochs=3).table
    second = sl.compare(problem, RUNS, seeds=2, epochs=3).table
    pd.testing.assert_frame_equal(first.drop(columns="time"), second.drop(columns="time"))


def test_table_keeps_the_order_of_runs_whatever_the_programs(problem):
    runs = {"a": dict(sampler=sl.cyclic(4), step=0.01), "b": dict(sampler=sl.full_batch()), "c": dict(sampler=sl.cyclic(4), step=0.02)}
    table = sl.compare(problem, runs, seeds=2, epochs=1).table
    assert list(dict.fromkeys(table.run)) == ["a", "b", "c"]
    assert list(sl.compare(problem, runs, seeds=2, epochs=1).summary().run) == ["a", "b", "c"]


def test_table_is_tidy_with_settings(problem):
    table = sl.compare(problem, RUNS, seeds=2, epochs=3, record_every=2).table
    assert {"run", "seed", "epoch", "iteration", "loss", "grad_norm", "gap", "dist", "time", "sampler",
            "batch_size", "step", "alpha0", "alpha_L", "status", "message"} <= set(table.columns)
    assert len(table) == len(RUNS) * 2 * 3   # epochs 0, 2, 3 recorded
    gd = table[table.run == "gd"].iloc[0]
    assert gd.step == "1/L" and gd.alpha0 == pytest.approx(1 / problem.lipschitz()) and gd.alpha_L == pytest.approx(1.0)
    wor = table[table.run == "wor"].iloc[0]
    assert wor.alpha0 == pytest.approx(1 / theory.minibatch_lipschitz(problem, 8)) and wor.batch_size == 8


def test_saved_runs_are_reused_and_files_complete(problem, tmp_path):
    first = sl.compare(problem, RUNS, seeds=2, epochs=3, out=tmp_path)
    assert first.reused == 0 and len(list((tmp_path / "runs").glob("*.parquet"))) == len(RUNS) * 2
    # one more seed is another experiment: taken over when asked, its first two seeds reused
    again = sl.compare(problem, RUNS, seeds=3, epochs=3, out=tmp_path, overwrite=True)
    assert again.reused == len(RUNS) * 2
    saved = pd.read_parquet(tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(saved, again.table)
    assert (tmp_path / "experiment.json").is_file() and not list(tmp_path.rglob("*.tmp"))
    renamed = sl.compare(problem, {"GD again": RUNS["gd"]}, seeds=2, epochs=3, out=tmp_path, overwrite=True)
    assert renamed.reused == 2 and set(renamed.table.run) == {"GD again"}
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == 2   # the folder holds this experiment's runs only


def test_summary_against_a_hand_count(problem):
    comparison = sl.compare(problem, RUNS, seeds=4, epochs=6)
    table, target = comparison.table, 1e-2
    summary = comparison.summary(metric="gap", target=target).set_index("run")
    for name in RUNS:
        finals = table[table.run == name].groupby("seed").gap.last()
        assert summary.loc[name, "final gap"] == pytest.approx(np.median(finals))
        assert summary.loc[name, "final gap q25"] == pytest.approx(np.quantile(finals, 0.25))
        first_hit = [run[run.gap <= target].epoch.min() for _, run in table[table.run == name].groupby("seed")]
        reached = [e for e in first_hit if not np.isnan(e)]
        assert summary.loc[name, "reached"] == f"{len(reached)}/4"
        if len(reached) == 4:
            assert summary.loc[name, "epochs to target"] == pytest.approx(np.median(reached))
    assert summary.loc["gd", "α·L"] == pytest.approx(1.0) and summary.loc["gd", "α·L < 2"]


def test_quantile_treats_never_reached_as_infinite():
    assert quantile(np.array([1.0, 3.0]), 0.5) == 2.0
    assert quantile(np.array([1.0, np.inf]), 0.5) == np.inf
    assert quantile(np.array([1.0, 2.0, np.inf]), 0.5) == 2.0


def test_plot_returns_a_figure_with_one_line_per_run(problem):
    import matplotlib

    matplotlib.use("Agg")
    figure = sl.compare(problem, RUNS, seeds=2, epochs=3).plot("dist", x="time")
    assert len(figure.axes[0].get_lines()) == len(RUNS) + 1 and figure.axes[0].get_yscale() == "log"   # + target


@pytest.mark.parametrize("step, value", [("0.5/L", lambda p: 0.5 / p.lipschitz()), ("2/L_max", lambda p: 2 / theory.lipschitz_max(p)),
                                         (" 1 / L_B ", lambda p: 1 / theory.minibatch_lipschitz(p, 4)), (0.25, lambda p: 0.25)])
def test_parse_step(problem, step, value):
    schedule, _ = parse_step(step, problem, sl.shuffled_cyclic(4))
    assert float(schedule(0)) == pytest.approx(value(problem))


def test_parse_step_schedule_table(problem):
    schedule, text = parse_step({"schedule": "inverse_time", "alpha0": "1/L", "decay": 0.5}, problem, sl.full_batch())
    assert float(schedule(2)) == pytest.approx(1 / problem.lipschitz() / 2) and "1 + 0.5 k" in text


@pytest.mark.parametrize("call, error, text", [
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic", stepsize=0.1)}), ValueError, "runs['a'] must be a dict with keys among sampler, step, optimizer, method, average; got unknown keys ['stepsize']"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic", step="1/K")}), ValueError, "step must be a number, or text 'c/L', 'c/L_B' or 'c/L_max'"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic", step="-1/L")}), ValueError, "step must be a positive finite number; got -1.0"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic", step="1e/L")}), ValueError, "or a step rule (polyak:optimal, stochastic_polyak:c); got '1e/L'"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic", step={"schedule": "warm"})}), ValueError, "step schedule must be one of constant, inverse_time, inverse_sqrt, step_decay, cosine; got 'warm'"),
    (lambda p: sl.compare(p, {"a": dict(sampler="zigzag")}), ValueError, "sampler must be one of full_batch"),
    (lambda p: sl.compare(p, {}), TypeError, "runs must be a non-empty dict"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic")}, seeds=0), ValueError, "seeds must be an integer >= 1; got 0"),
    (lambda p: sl.compare(p, {"a": dict(sampler="cyclic")}, seeds=[1, 1]), ValueError, "seeds must be a non-empty list of distinct seeds"),
])
def test_bad_comparisons_are_refused(problem, call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call(problem)
