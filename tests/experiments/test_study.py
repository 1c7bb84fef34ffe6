"""sl.study: the same runs on several problems is each problem's own comparison, stacked under a problem column;
its overview is the median over seeds of final / initial metric; a results folder is reused."""

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl

RUNS = {"GD": dict(sampler="full_batch", step="1/L"), "RR": dict(sampler=sl.shuffled_cyclic(16), step="0.5/L_max"),
        "SGD": dict(sampler=sl.with_replacement(16), step="0.5/L_max")}


@pytest.fixture(scope="module")
def problems(mushrooms, w8a):
    """Logistic regression on the first 1,500 rows of mushrooms (dense) and of w8a (sparse), least squares on
    mushrooms: three problems whose constants differ, so text steps differ per problem."""
    X, y = mushrooms
    W, z = w8a
    return {"mushrooms": sl.logistic_regression(X[:1500], y[:1500], l2=1e-3),
            "w8a": sl.logistic_regression(W[:1500], z[:1500], l2=1e-3),
            "mushrooms-ls": sl.least_squares(X[:1500], y[:1500].astype(float))}


def without_time(table):
    return table.drop(columns=["time"]).reset_index(drop=True)


def test_a_study_is_each_problems_comparison_under_a_problem_column(problems):
    result = sl.study(problems, RUNS, seeds=2, epochs=3)
    assert list(result.table.columns[:2]) == ["problem", "run"]
    assert list(result.table.problem.unique()) == list(problems)
    for name, problem in problems.items():
        alone = sl.compare(problem, RUNS, seeds=2, epochs=3).table
        mine = result.table[result.table.problem == name].drop(columns="problem")
        pd.testing.assert_frame_equal(without_time(mine), without_time(alone))
    steps = result.table.groupby(["problem", "run"]).alpha0.first()
    assert steps["mushrooms", "RR"] != steps["w8a", "RR"]   # "0.5/L_max" read against each problem
    summary = result.summary()
    assert list(summary.columns[:2]) == ["problem", "run"] and len(summary) == len(problems) * len(RUNS)


def test_the_overview_is_the_median_over_seeds_of_final_over_initial(problems):
    result = sl.study(problems, RUNS, seeds=3, epochs=2)
    grid = result.overview("grad_norm")
    assert list(grid.index) == list(RUNS) and list(grid.columns) == list(problems)
    table = result.table
    for name in problems:
        for run in RUNS:
            rows = table[(table.problem == name) & (table.run == run)].sort_values(["seed", "epoch"])
            ratios = [seed.grad_norm.iloc[-1] / seed.grad_norm.iloc[0] for _, seed in rows.groupby("seed")]
            assert grid.loc[run, name] == pytest.approx(np.median(ratios), rel=1e-12)
    assert result.overview().attrs["metric"] == "gap"   # every problem knows p*
    figure = result.plot()
    assert len(figure.axes[0].images) == 1 and len(figure.axes[0].texts) == grid.size


def test_a_study_saved_to_a_folder_is_reused_when_run_again(problems, tmp_path):
    first = sl.study(problems, RUNS, seeds=2, epochs=2, out=tmp_path)
    assert sorted(p.name for p in (tmp_path / "problems").iterdir()) == sorted(problems)
    saved = pd.read_parquet(tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(saved, first.table)
    again = sl.study(problems, RUNS, seeds=2, epochs=2, out=tmp_path)
    assert all(c.reused == len(RUNS) * 2 for c in again.comparisons.values())
    pd.testing.assert_frame_equal(without_time(again.table), without_time(first.table))


@pytest.mark.parametrize(("problems_given", "error", "message"), [
    ({}, TypeError, "problems must be a non-empty dict of name to finite-sum problem"),
    ([1], TypeError, "problems must be a non-empty dict"),
    ({"a b": None}, ValueError, "problems must be names of letters, digits"),
    ({"../up": None}, ValueError, "problems must be names of letters, digits"),
    ({"ok": "least_squares"}, TypeError, "problems must be finite-sum problems such as sl.least_squares"),
])
def test_bad_problems_are_refused_naming_the_parameter(problems_given, error, message):
    with pytest.raises(error, match=message):
        sl.study(problems_given, RUNS, seeds=1, epochs=1)
