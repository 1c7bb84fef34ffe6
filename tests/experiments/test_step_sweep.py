"""The stability edge: gradient descent's measured edge at the theorem's α·L = 2, stochastic samplers'
lower, from the command line and from Python."""

import json

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.experiments.cli import main


def test_the_default_data_put_gradient_descents_edge_at_two(tmp_path, capsys):
    assert main(["step-sweep", "--schemes", "full_batch,with_replacement", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "measured edge (α·L)" in out and "report:" in out
    table = pd.read_parquet(tmp_path / "sweep.parquet")
    assert set(table.sampler) == {"GD", "with_replacement B=1"} and table.ratio.nunique() == 31
    fraction = table[table.sampler == "GD"].groupby("ratio").diverged.mean()
    unstable = fraction[fraction >= 0.5].index.min()
    edge = np.sqrt(fraction[fraction.index < unstable].index.max() * unstable)
    assert abs(edge - 2) <= 0.05 * 2
    assert "<img" in (tmp_path / "report.html").read_text()


def test_stochastic_samplers_diverge_below_gradient_descent(regression_data):
    problem = sl.least_squares(*regression_data)
    sweep = sl.step_sweep(problem, [sl.full_batch(), sl.with_replacement(1)], seeds=3, epochs=10)
    assert sweep.edges["with_replacement B=1"] < sweep.edges["GD"]
    assert sweep.limits["GD"] == pytest.approx(2.0)
    assert sweep.limits["with_replacement B=1"] == pytest.approx(2 * problem.lipschitz() / sl.theory.lipschitz_max(problem))
    assert sweep.edges_table().columns.tolist() == ["sampler", "measured edge (α·L)", "α·L at α = 2/L_B"]
    json.dumps(sweep.edges)   # plain numbers


def test_a_sweep_needs_L():
    problem = sl.finite_sum(lambda t, c: (t - c) ** 2, np.arange(5.0), 0.0)
    with pytest.raises(TypeError, match="problem must be a finite sum whose L is known"):
        sl.step_sweep(problem, [sl.full_batch()])
