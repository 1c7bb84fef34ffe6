"""Held-out data and early stopping everywhere a user looks: the command line, experiment files, the summary
and the report's figures."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.experiments import building, config
from sgdlab.experiments.cli import main
from sgdlab.experiments.plots import generalization_figure
from sgdlab.experiments.summary import summarize


def test_the_command_line_holds_out_a_test_set_and_reports_it(tmp_path, capsys):
    args = ["compare", "--problem", "logistic", "--schemes", "full_batch,shuffled_cyclic", "--batch-sizes", "8",
            "--epochs", "4", "--seeds", "2", "--test-fraction", "0.25", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test acc" in out and "at epoch" in out
    table = pd.read_parquet(tmp_path / "table.parquet")
    assert {"accuracy", "test_loss", "test_accuracy"} <= set(table.columns)
    page = (tmp_path / "report.html").read_text()
    assert "Generalization: training and held-out data" in page and "best test_accuracy" in page
    assert page.count("alt='training and test curves against") == 2   # against epochs and time


def test_the_split_is_stratified_and_standardized_by_the_training_rows():
    experiment = config.validated({"problem": {"kind": "logistic", "test_fraction": 0.2}})
    built = building.build(experiment)
    dataset = sl.data.load("breast_cancer")
    (X_train, y_train), (X_test, y_test) = sl.data.split(dataset.X, dataset.y, fractions=(0.8, 0.2), seed=0,
                                                         stratify=dataset.y)
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    test = built.heldout["test"]
    np.testing.assert_allclose(np.asarray(test.X)[:, :-1], (X_test - mean) / scale, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(test.X)[:, -1], 1.0)   # the intercept column
    assert built.problem.n == len(y_train) and test.n == len(y_test)
    assert abs(np.mean(y_test) - np.mean(dataset.y)) < 1 / len(y_test)   # class proportions kept
    assert built.stop is None


def test_an_experiment_file_stops_runs_early_on_test_accuracy(tmp_path, capsys):
    (tmp_path / "exp.toml").write_text("""
[problem]
kind = "mlp"
data = "digits"
hidden = [32]
test_fraction = 0.3

[compare]
epochs = 40
seeds = 2
out = "out"
patience = 3
patience_on = "test_accuracy"

[runs.rr]
sampler = "shuffled_cyclic"
batch_size = 8
step = 0.2
""")
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    table = pd.read_parquet(tmp_path / "out" / "table.parquet")
    ends = table.groupby("seed").tail(1)
    assert set(ends.status) == {"stopped_early"} and ends.epoch.max() < 40
    for _, history in table.groupby("seed"):
        best = history.test_accuracy.idxmax()
        assert history.epoch.iloc[-1] - history.epoch[best] == 3
    assert "test_accuracy has not improved for 3 epochs" in capsys.readouterr().out


def test_the_summary_gives_final_and_best_heldout_scores_and_the_epoch_of_the_best(classification_data):
    X, y = classification_data
    (X_train, y_train), (X_test, y_test) = sl.data.split(X, y, seed=2)
    train = sl.logistic_regression(X_train, y_train)
    comparison = sl.compare(train, {"rr": dict(sampler=sl.shuffled_cyclic(1), step=1.0)}, seeds=3, epochs=6,
                            heldout={"test": train.with_data(X_test, y_test)})
    summary = summarize(comparison.table)
    per_seed = comparison.table.groupby("seed")
    assert summary["final test_accuracy"][0] == np.median(per_seed.test_accuracy.last())
    assert summary["best test_accuracy"][0] == np.median(per_seed.test_accuracy.max())
    epochs_of_best = [history.epoch[history.test_accuracy.idxmax()] for _, history in per_seed]
    assert summary["epoch of best test_accuracy"][0] == np.median(epochs_of_best)
    figure = generalization_figure(comparison.table, "test")
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "accuracy"]
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)   # one run: training and test


@pytest.mark.parametrize(("toml", "text"), [
    ("[problem]\ntest_fraction = 1.5\n", "exp.toml [problem] test_fraction must be a number in (0, 1); got 1.5."),
    ("[problem]\ntest_fraction = 0.9999\n", "test_fraction must be a fraction that leaves training rows (at most "
     "0.9977 of the 442 rows); got 0.9999."),
    ("[compare]\npatience_on = 'test_loss'\n", "[compare] patience_on must be given with patience; got 'test_loss'."),
    ("[compare]\npatience = 2\npatience_on = 'test_loss'\n",
     "on must be a column this run records: loss, grad_norm, gap, dist for patience; got 'test_loss'."),
])
def test_bad_heldout_settings(tmp_path, toml, text):
    (tmp_path / "exp.toml").write_text(toml)
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "run", "exp.toml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and text in result.stderr and "Traceback" not in result.stderr


def test_a_test_fraction_of_zero_is_refused_on_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "compare", "--test-fraction", "0"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "Invalid value for '--test-fraction'" in result.stderr
