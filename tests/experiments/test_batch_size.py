"""Choosing the batch size: the study over batch sizes and the sgdlab batch-size command."""

import json
import subprocess
import sys

import pytest

import sgdlab as sl
from sgdlab.experiments import batch_size
from sgdlab.experiments.report import write_report


def test_study_compares_sizes_and_saves_both_views(tmp_path, regression_data):
    problem = sl.least_squares(*regression_data)
    comparison, analysis = batch_size.study(problem, [1, 4, 16], seeds=2, epochs=3, out=tmp_path)
    assert sorted(comparison.table.batch_size.unique()) == [1, 4, 16]
    assert analysis["b_simple"] == pytest.approx(sl.theory.noise_scale(problem).b_simple, rel=1e-12)
    assert analysis["knee"] in (1, 4, 16) and [row["batch_size"] for row in analysis["probe"]] == [1, 4, 16]
    saved = json.loads((tmp_path / "experiment.json").read_text())
    assert saved["batch_size"]["sizes"] == [1, 4, 16]
    page = write_report(tmp_path).read_text()
    assert "Batch size: per iteration and per second" in page and "B_simple" in page


def test_the_command_writes_the_report(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "batch-size", "--sizes", "1,8,32", "--epochs", "3",
                             "--seeds", "2", "--out", str(tmp_path / "bs")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "B_simple at θ⁰ =" in result.stdout and "throughput knee B =" in result.stdout
    assert (tmp_path / "bs" / "report.html").is_file()


@pytest.mark.parametrize("sizes, text", [("8,4", "sizes must be increasing batch sizes; got [8, 4]."),
                                         ("1,x", "expected comma-separated integers")])
def test_bad_sizes_are_one_line_errors(tmp_path, sizes, text):
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "batch-size", "--sizes", sizes, "--out",
                             str(tmp_path / "bs")], capture_output=True, text=True)
    assert result.returncode == 2 and text in result.stderr and result.stderr.count("\n") == 1
