"""`sgdlab run` on a study ([[problems]]): each problem's table is its own comparison's, the folder holds the
study's verified table, record and report (an overview and a section per problem); two local processes give the
serial table; a study killed with SIGKILL and run again computes only what was not saved; a study and a
comparison do not take each other's folder unless asked."""

import json
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from sgdlab.experiments.cli import main
from sgdlab.experiments.store import read_frame
from sgdlab.experiments.study_folder import study_fingerprint

from experiment_files import STUDY_PROBLEMS, single_experiment, study_experiment


def _run(folder, text: str, *options) -> int:
    (folder / "exp.toml").write_text(text)
    return main(["run", str(folder / "exp.toml"), *options])


def _counts(stdout: str) -> tuple[int, int]:
    computed, reused = re.search(r"(\d+) runs computed, (\d+) reused", stdout).groups()
    return int(computed), int(reused)


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    """A finished study of the three runs on breast_cancer (logistic) and diabetes (least squares), and what
    `sgdlab run` printed."""
    folder = tmp_path_factory.mktemp("study")
    (folder / "exp.toml").write_text(study_experiment("out"))
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "run", str(folder / "exp.toml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return folder / "out", result.stdout


def test_each_problems_rows_are_its_own_comparison(study_folder, tmp_path, capsys):
    out, printed = study_folder
    table = pd.read_parquet(out / "table.parquet")
    assert list(table.columns[:2]) == ["problem", "run"] and list(table.problem.unique()) == ["breast", "diabetes"]
    assert _counts(printed) == (12, 0)
    for problem in STUDY_PROBLEMS:
        assert _run(tmp_path, single_experiment(f"alone-{problem[0]}", problem)) == 0
        alone = pd.read_parquet(tmp_path / f"alone-{problem[0]}" / "table.parquet").drop(columns="time")
        mine = table[table.problem == problem[0]].drop(columns=["problem", "time"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone)
    assert "breast: logistic on breast_cancer" in printed and "diabetes: least squares on diabetes" in printed
    assert "overview: final grad_norm" in printed   # logistic regression without ℓ2 on breast_cancer has no p*


def test_the_folder_holds_the_verified_table_the_record_and_the_report(study_folder):
    out, _ = study_folder
    record = json.loads((out / "study.json").read_text())
    assert record["finished"] is True and list(record["problems"]) == ["breast", "diabetes"]
    for name, fingerprint in record["problems"].items():   # each problem's comparison, by its own fingerprint
        assert json.loads((out / "problems" / name / "experiment.json").read_text())["fingerprint"] == fingerprint
    assert record["fingerprint"] == study_fingerprint(record["problems"])
    saved = read_frame(out / "table.parquet", record["fingerprint"])
    pd.testing.assert_frame_equal(saved, pd.read_parquet(out / "table.parquet"))
    page = (out / "report.html").read_text()
    assert page.count("<h2>Overview</h2>") == 1 and "final grad_norm / initial (median over seeds)" in page
    for name in ("breast", "diabetes"):
        assert page.count(f"<h2 id='problem-{name}'>") == 1
        assert f"href='problems/{name}/report.html'" in page and (out / "problems" / name / "report.html").is_file()
    assert page.count("<img ") == 1 + 1 + 2   # the heat map, ‖∇F‖ on breast (no p*), F − p* and ‖∇F‖ on diabetes


def test_a_report_refuses_a_problem_table_that_does_not_verify(study_folder, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(study_folder[0], out)
    table_path = out / "problems" / "diabetes" / "table.parquet"
    table = pd.read_parquet(table_path)
    table.loc[0, "loss"] *= 0.5
    table.to_parquet(table_path)   # altered by another program: without the key and digest it was saved with
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "report", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{table_path}: it does not verify" in result.stderr


def test_two_worker_processes_give_the_serial_table(study_folder, tmp_path, capsys):
    assert _run(tmp_path, study_experiment("out"), "--workers", "2") == 0
    assert _counts(capsys.readouterr().out) == (12, 0)
    spread = pd.read_parquet(tmp_path / "out" / "table.parquet").drop(columns="time")
    serial = pd.read_parquet(study_folder[0] / "table.parquet").drop(columns="time")
    pd.testing.assert_frame_equal(spread, serial)


def test_a_killed_study_run_again_computes_only_what_was_not_saved(tmp_path):
    text = study_experiment("killed", runs=("rr", "sgd"), epochs=150, seeds=3)
    (tmp_path / "exp.toml").write_text(text)
    command = [sys.executable, "-m", "sgdlab.experiments.cli", "run", str(tmp_path / "exp.toml")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    problems = tmp_path / "killed" / "problems"
    deadline = time.monotonic() + 180
    while not list(problems.glob("*/runs/*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = {path: path.read_bytes() for path in problems.glob("*/runs/*.parquet")}
    assert 0 < len(saved) < 12, "the kill should land after the first group and before the last"
    assert not (tmp_path / "killed" / "table.parquet").exists()

    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert _counts(again.stdout) == (12 - len(saved), len(saved))
    assert all(path.read_bytes() == content for path, content in saved.items())
    assert not list((tmp_path / "killed").rglob("*.tmp"))
    (tmp_path / "whole.toml").write_text(text.replace('out = "killed"', 'out = "whole"'))
    assert main(["run", str(tmp_path / "whole.toml")]) == 0
    resumed, whole = (pd.read_parquet(tmp_path / name / "table.parquet").drop(columns="time")
                      for name in ("killed", "whole"))
    pd.testing.assert_frame_equal(resumed, whole)


def test_a_study_and_a_comparison_take_each_others_folder_only_when_asked(tmp_path, capsys):
    assert _run(tmp_path, single_experiment("shared", STUDY_PROBLEMS[0], runs=("gd",))) == 0
    assert _run(tmp_path, study_experiment("shared", runs=("gd",))) == 2
    assert "holds a comparison of one problem" in capsys.readouterr().err
    assert (tmp_path / "shared" / "experiment.json").is_file()   # untouched
    assert _run(tmp_path, study_experiment("shared", runs=("gd",)), "--overwrite") == 0
    assert not (tmp_path / "shared" / "experiment.json").exists() and not (tmp_path / "shared" / "runs").exists()
    capsys.readouterr()
    assert _run(tmp_path, single_experiment("shared", STUDY_PROBLEMS[0], runs=("gd",))) == 2
    assert "holds a study of several problems" in capsys.readouterr().err
    assert (tmp_path / "shared" / "study.json").is_file()


@pytest.mark.parametrize("toml, text", [
    ('[[problems]]\nkind = "logistic"\n\n[[problems]]\nkind = "logistic"\n',
     "[[problems]] name must be a different name for each problem (give name = \"...\"); got the names "
     "['breast_cancer', 'breast_cancer']."),
    ('[problem]\nkind = "logistic"\n\n[[problems]]\nkind = "logistic"\n',
     "exp.toml must be one [problem] table, or [[problems]] tables for a study, not both; got both."),
    ('[[problems]]\nname = "a b"\n', "[[problems]] name must be letters, digits, '.', '_' and '-'"),
    ('[[problems]]\nnam = "a"\n', "[problems] must be made of the keys kind, data, target, standardize, intercept, "
     "test_fraction, name, sample_weight; got unknown key 'nam'."),
    ('problems = 3\n', "exp.toml [[problems]] must be one or more [[problems]] tables; got 3."),
    ('[[problems]]\nkind = "logistic"\ndata = "nope.svm"\n',
     "[[problems]] 'nope': data must be a bundled name (diabetes, breast_cancer, digits, synthetic) or an existing "
     "file; got"),
])
def test_bad_study_files_are_one_line_naming_the_table(tmp_path, toml, text):
    (tmp_path / "exp.toml").write_text(toml)
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "run", "exp.toml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert text in result.stderr and "Traceback" not in result.stderr
