"""A finished command's receipt: the same command again is answered from its folder, and only when nothing changed."""

import json
import subprocess
import sys

import numpy as np
import pytest

from sgdlab.experiments import building, receipt
from sgdlab.experiments.cli import main
from sgdlab.experiments.folder_lock import locked

SMALL = ["--schemes", "full_batch,shuffled_cyclic", "--batch-sizes", "8", "--epochs", "3", "--seeds", "2"]


@pytest.fixture()
def builds(monkeypatch):
    """How many times a command built its problem (0: it was answered from the receipt)."""
    calls = []
    real = building.build
    monkeypatch.setattr(building, "build", lambda experiment: calls.append(1) or real(experiment))
    return calls


def _compare(folder, *extra) -> str:
    assert main(["compare", *SMALL, *extra, "--out", str(folder)]) == 0
    return folder


def test_the_same_command_again_prints_what_it_printed_from_the_receipt(tmp_path, capsys, builds):
    _compare(tmp_path)
    first = capsys.readouterr().out
    files = receipt.folder_files(tmp_path)
    _compare(tmp_path)
    again = capsys.readouterr().out
    assert len(builds) == 1 and receipt.folder_files(tmp_path) == files   # not built again, nothing rewritten
    assert "4 runs computed, 0 reused" in first and "0 runs computed, 4 reused" in again
    summary = first[first.index("┏"):first.index("4 runs computed")]
    assert summary and summary in again and f"report: {tmp_path / 'report.html'}" in again


@pytest.mark.parametrize("change", ["a run file altered", "the report removed", "a file added", "the receipt altered"])
def test_a_changed_folder_runs_the_command_again(tmp_path, capsys, builds, change):
    _compare(tmp_path)
    if change == "a run file altered":
        path = next((tmp_path / "runs").iterdir())
        path.write_bytes(path.read_bytes() + b"x")
    elif change == "the report removed":
        (tmp_path / "report.html").unlink()
    elif change == "a file added":
        (tmp_path / "notes.txt").write_text("mine")
    else:
        saved = json.loads((tmp_path / receipt.RECEIPT).read_text())
        saved["files"]["table.parquet"] = "0" * 64
        (tmp_path / receipt.RECEIPT).write_text(json.dumps(saved))
    capsys.readouterr()
    _compare(tmp_path)
    rerun = capsys.readouterr().out
    assert len(builds) == 2 and (tmp_path / "report.html").is_file()
    assert ("1 of them recomputed" in rerun) == (change == "a run file altered")
    _compare(tmp_path)   # the folder as the command left it: answered again
    assert len(builds) == 2


def test_another_option_runs_the_command_again(tmp_path, capsys, builds):
    _compare(tmp_path)
    assert main(["compare", *SMALL, "--goal", "0.01", "--out", str(tmp_path)]) == 0
    assert len(builds) == 2


def test_a_folder_another_process_holds_is_not_answered(tmp_path, capsys):
    _compare(tmp_path)
    experiment_key = json.loads((tmp_path / receipt.RECEIPT).read_text())["key"]
    assert receipt.answered(tmp_path, experiment_key) is not None
    with locked(tmp_path):
        assert receipt.answered(tmp_path, experiment_key) is None
    assert receipt.answered(tmp_path, None) is None and receipt.answered(tmp_path, "0" * 64) is None


def test_the_key_depends_on_the_description_the_data_the_sources_and_the_libraries(tmp_path, monkeypatch):
    experiment = {"problem": {"kind": "least_squares", "data": "diabetes"}, "compare": {"epochs": 3}}
    key = receipt.command_key(experiment, "data")
    assert receipt.command_key(json.loads(json.dumps(experiment)), "data") == key
    assert receipt.command_key({**experiment, "compare": {"epochs": 4}}, "data") != key
    assert receipt.command_key(experiment, "other data") != key
    monkeypatch.setattr(receipt, "sources_digest", lambda folder: "edited")
    assert receipt.command_key(experiment, "data") != key
    monkeypatch.undo()
    monkeypatch.setattr(receipt, "library_versions", lambda: {"numpy": "0.0"})
    assert receipt.command_key(experiment, "data") != key
    assert receipt.command_key({**experiment, "runs": {"a": object()}}, "data") is None   # not keyed: never answered


def test_a_data_files_digest_is_its_bytes(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.ones((4, 3)))
    first = receipt.data_digest(str(path))
    np.save(path, np.full((4, 3), 2.0))
    assert receipt.data_digest(str(path)) != first
    assert receipt.data_digest("diabetes").startswith("diabetes:") and len(receipt.data_digest("diabetes")) > 100


def test_an_answered_command_imports_no_jax(tmp_path):
    _compare(tmp_path)
    code = ("import sys; from sgdlab.experiments.cli import main; "
            f"main(['compare', *{SMALL!r}, '--out', {str(tmp_path)!r}]); print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "0 runs computed, 4 reused" in out and out.strip().endswith("False")
