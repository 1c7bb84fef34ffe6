"""The benchmark runner runs end to end at tiny size (a smoke test: no timing is asserted)."""

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
NEEDS_TORCH = {"b64", "mlp", "peers_mlp"}


def test_quick_run_writes_a_table(tmp_path, monkeypatch, capsys):
    cases = ["b1", "gd", "sweep", "f32", "startup", "ooc", "large", "saga", "svrg", "tiny_epochs", "grab_mlp", "methods", "peers_lsq", "peers_w8a",
             "peers_mlp_one_core", "jax_mlp", "jax_lsq", "jax_probe", "importance"]
    if importlib.util.find_spec("torch") is not None:
        cases += sorted(NEEDS_TORCH)
    out = tmp_path / "RESULTS.md"
    monkeypatch.syspath_prepend(str(RUNNER.parent))   # its peers.py, as when the script runs
    monkeypatch.setattr(sys, "argv", ["run.py", "--quick", "--repeats", "1", "--cases", ",".join(cases), "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(RUNNER), run_name="__main__")
    assert stop.value.code == 0
    table = out.read_text()
    for case in cases:
        assert f"| {case} |" in table
    assert "| met |" in table and "Machine:" in table


def test_device_gpu_without_a_gpu_says_so_and_exits_0(monkeypatch, capsys, tmp_path):
    monkeypatch.syspath_prepend(str(RUNNER.parent))
    monkeypatch.setattr(sys, "argv", ["run.py", "--device", "gpu", "--out", str(tmp_path / "RESULTS-gpu.md")])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(RUNNER), run_name="__main__")
    assert stop.value.code == 0
    assert "JAX sees no GPU here (its devices: cpu)" in capsys.readouterr().out
    assert not (tmp_path / "RESULTS-gpu.md").exists()
