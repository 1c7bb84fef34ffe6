"""What the theory predicts beside a comparison: each run's bound and exact expected curve, saved with
the results, drawn on the plots, and checked against the mean over seeds."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab import theory
from sgdlab.experiments.predictions import bounded_quantities, flags
from sgdlab.experiments.report import write_report

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    problem = sl.least_squares(X, X @ np.ones(3) + rng.normal(size=60))
    runs = {"GD": dict(sampler=sl.full_batch(), step="1/L"),
            "SGD": dict(sampler=sl.with_replacement(1), step="0.5/L_B"),
            "RR": dict(sampler=sl.shuffled_cyclic(1), step="0.5/L_B")}
    folder = tmp_path_factory.mktemp("out")
    return problem, sl.compare(problem, runs, seeds=20, epochs=5, out=folder), folder


def test_runs_with_a_theorem_get_its_bound_and_least_squares_its_exact_curve(comparison):
    problem, result, _ = comparison
    predicted = result.predictions
    bounds = predicted[predicted.curve == "bound"]
    assert set(bounds.run) == {"GD", "SGD"}   # random reshuffling has no theorem here
    assert set(predicted[predicted.curve == "expected"].run) == {"GD", "SGD"}   # its N! orders: too many
    sgd = bounds[(bounds.run == "SGD") & (bounds.quantity == "dist_sq")].sort_values("epoch")
    alpha = 0.5 / theory.minibatch_lipschitz(problem, 1, sl.with_replacement(1))
    expected = theory.bound(problem, sl.with_replacement(1), alpha, epochs=5)
    np.testing.assert_allclose(sgd.value, expected[expected.quantity == "dist_sq"].bound, rtol=1e-12)
    assert (flags(result.table, predicted).flagged == "none").all()


def test_a_run_above_its_bound_is_flagged():
    table = pd.DataFrame({"run": ["a"] * 4, "seed": [0, 1, 0, 1], "epoch": [0, 0, 1, 1],
                          "gap": [1.0, 1.0, 5.0, 5.2], "dist": [1.0, 1.0, 1.0, 1.0], "grad_norm": [1.0] * 4})
    predicted = pd.DataFrame({"run": ["a", "a"], "epoch": [0, 1], "quantity": ["gap", "gap"], "curve": ["bound"] * 2,
                              "value": [1.0, 2.0], "theorem": ["t", "t"]})
    checked = flags(table, predicted)
    assert checked.flagged.tolist() == ["1"] and checked["epochs checked"].tolist() == [2]


def test_predictions_are_saved_and_the_report_shows_them(comparison):
    _, result, folder = comparison
    saved = pd.read_parquet(folder / "predictions.parquet")
    pd.testing.assert_frame_equal(saved, result.predictions.reset_index(drop=True), check_dtype=False)
    page = write_report(folder).read_text()
    assert "Theory beside the runs" in page and "Gower et al. 2019, Theorem 3.1" in page
    assert "Runs with an exact expected curve: GD, SGD." in page


def test_the_plot_draws_each_bound_and_exact_curve(comparison):
    _, result, _ = comparison
    with_theory, without = (len(result.plot("gap", bounds=shown).axes[0].lines) for shown in (True, False))
    # a median a run, a bound and an exact curve for GD and SGD, and the target line
    assert (with_theory, without) == (3 + 4 + 1, 3 + 1)
    assert len(result.plot("gap", x="time").axes[0].lines) == 3 + 1   # the theory has no time axis


def test_bounded_quantities_take_the_smallest_gradient_before_each_recorded_epoch():
    table = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 3, "seed": 0, "epoch": [0, 1, 2, 3, 0, 2, 4],
                          "grad_norm": [3.0, 1.0, 2.0, 0.5, 1.0, 1.0, 1.0], "dist": 1.0})
    measured = bounded_quantities(table).set_index(["run", "epoch"]).min_grad_sq
    np.testing.assert_array_equal(measured.loc["a"].to_numpy(), [np.nan, 9.0, 1.0, 1.0])
    assert measured.loc["b"].iloc[1:].isna().all()   # epochs 1 and 3 were not recorded: no minimum claimed


def test_gradient_descent_on_logistic_without_l2_is_checked_on_the_gradient(mushrooms):
    X, y = mushrooms
    problem = sl.logistic_regression(X, y)   # not strongly convex: the summed descent lemma applies
    result = sl.compare(problem, {"GD": dict(sampler=sl.full_batch(), step="1/L")}, seeds=1, epochs=8)
    bounds = result.predictions[result.predictions.curve == "bound"]
    assert set(bounds.quantity) == {"min_grad_sq"} and list(bounds.epoch) == list(range(1, 9))
    checked = result.flags()
    assert checked["epochs checked"].tolist() == [8] and checked.flagged.tolist() == ["none"]
    assert len(result.plot("grad_norm").axes[0].lines) == 3   # the median, the bound and the target


def test_a_bound_far_above_the_run_at_its_end_is_said_to_say_nothing():
    """Bound 1, 0.5, 0.25 against means 0.9, 0.1, 1e-3: below the start after epoch 0, but 250× the mean at the
    end (more than 100×); the same bound against means 0.9, 0.4, 0.2 is a bound on the run."""
    predicted = pd.DataFrame({"run": "r", "epoch": [0, 1, 2], "quantity": "dist_sq", "curve": "bound",
                              "value": [1.0, 0.5, 0.25], "theorem": sl.theory.theorems.SGD})
    for means, says in (([0.9, 0.1, 1e-3], "nothing here: it ends 250 times the measured mean"),
                        ([0.9, 0.4, 0.2], "a bound on the run")):
        table = pd.DataFrame({"run": "r", "seed": 0, "epoch": [0, 1, 2], "dist": np.sqrt(means),
                              "gap": np.nan, "grad_norm": 1.0})
        row = flags(table, predicted, kappa=470.0).iloc[0]
        assert row.says.startswith(says) and row["bound ÷ mean at the end"] == pytest.approx(0.25 / means[-1])
        assert ("κ = 470" in row.says) is says.startswith("nothing")
