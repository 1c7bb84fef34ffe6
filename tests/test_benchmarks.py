"""The benchmark runner runs end to end at tiny size (a smoke test: no timing is asserted)."""

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
NEEDS_TORCH = {"b64", "mlp"}


def test_quick_run_writes_a_table(tmp_path, monkeypatch, capsys):
    cases = ["b1", "gd", "sweep", "f32", "startup", "ooc", "large", "saga", "methods"]
    if importlib.util.find_spec("torch") is not None:
        cases += sorted(NEEDS_TORCH)
    out = tmp_path / "RESULTS.md"
    monkeypatch.setattr(sys, "argv", ["run.py", "--quick", "--repeats", "1", "--cases", ",".join(cases), "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(RUNNER), run_name="__main__")
    assert stop.value.code == 0
    table = out.read_text()
    for case in cases:
        assert f"| {case} |" in table
    assert "| met |" in table and "Machine:" in table
