"""Every script in examples/ runs as a newcomer would run it."""

import runpy
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, tmp_path, monkeypatch, capsys):
    """Each runs as `python examples/NAME.py` and writes nothing into the current folder (a figure goes into
    a new temporary folder, whose path it prints)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(script)])
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out
    assert not list(tmp_path.iterdir())
