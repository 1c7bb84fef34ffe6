"""The terminal's summary table: a run's name printed whole on one line however narrow the terminal, and no cell
cut short (a number folds onto a second line rather than losing digits)."""

from __future__ import annotations

import pytest

from sgdlab.experiments import console

NAMES = ["shuffled_cyclic B=8", "importance_shuffled B=32", "with_replacement B=1"]


@pytest.mark.parametrize("width", [80, 100, 110, 130])
def test_run_names_are_whole_and_no_cell_is_cut(capsys, width):
    columns = ["run", "α·L", "median loss", "q25–q75", "passes", "reached", "epochs to target", "status"]
    rows = [[name, "0.5", "0.0123", "0.0101–0.0144", "10", "3/5", "7.5", "5 max_epochs, 2 diverged"]
            for name in NAMES]
    console.print_rows({"title": "least squares on diabetes: final loss across seeds", "columns": columns,
                        "rows": rows}, width=width)
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= width for line in lines)
    for name in NAMES:
        assert any(f"│ {name} " in line for line in lines), (name, width)
    assert not any("…" in line for line in lines)
    if width >= 110:   # wide enough for every column at its own width: each number on one line
        assert sum("0.0101–0.0144" in line for line in lines) == len(NAMES)
    if width == 130:   # and the status too
        assert sum("5 max_epochs, 2 diverged" in line for line in lines) == len(NAMES)
