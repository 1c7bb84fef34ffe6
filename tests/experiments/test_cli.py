"""The sgdlab command: the main job, experiment files, reports, one-line errors, and resuming after SIGKILL."""

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sgdlab.experiments.cli import main

from experiment_files import logistic_experiment

SMALL = ["--schemes", "full_batch,shuffled_cyclic", "--batch-sizes", "8", "--epochs", "3", "--seeds", "2"]


def _sgdlab(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", *args], capture_output=True, text=True, **kwargs)


def test_help_does_not_import_jax():
    code = "import sys; from sgdlab.experiments.cli import main; main(['--help']); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "compare" in out and out.strip().endswith("False")


def test_compare_prints_the_summary_and_writes_the_report(tmp_path, capsys):
    assert main(["compare", *SMALL, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "GD" in out and "shuffled_cyclic B=8" in out and "4 runs computed, 0 reused" in out
    assert f"report: {tmp_path / 'report.html'}" in out
    page = (tmp_path / "report.html").read_text()
    assert page.count("<img ") == 6 and page.count("data:image/png;base64,") == 6   # gap, ‖∇F‖, ‖θ − θ*‖ × epoch, time
    for text in ("Runs and the theorem for each", "Theory beside the runs", "shuffled_cyclic B=8", "L (smoothness)", "κ = L/μ", "p* (optimal value)",
                 "Environment", "jaxlib", "Summary across seeds"):
        assert text in page
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", page), "the report must not load anything from the network"


def test_report_is_rebuilt_from_the_saved_folder_alone(tmp_path, capsys):
    main(["compare", *SMALL, "--out", str(tmp_path)])
    (tmp_path / "report.html").unlink()
    for path in (tmp_path / "runs").iterdir():
        path.unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_text().count("<img ") == 6


def test_run_an_experiment_file(tmp_path, capsys):
    (tmp_path / "exp.toml").write_text("""
[problem]
kind = "logistic"
data = "breast_cancer"
l2 = 0.01

[compare]
epochs = 3
seeds = 2
out = "out"
title = "Logistic, two schemes"

[runs.gd]
sampler = "full_batch"
step = "1/L"

[runs.rr]
sampler = "shuffled_cyclic"
batch_size = 16
step = { schedule = "inverse_time", alpha0 = "1/L_B", decay = 0.01 }
""")
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    table = pd.read_parquet(tmp_path / "out" / "table.parquet")
    assert set(table.run) == {"gd", "rr"} and table.seed.nunique() == 2
    assert json.loads((tmp_path / "out" / "experiment.json").read_text())["settings"]["title"] == "Logistic, two schemes"
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<title>Logistic, two schemes</title>" in page and "<h1>Logistic, two schemes</h1>" in page


def test_run_with_two_worker_processes_gives_the_serial_table(tmp_path, capsys):
    tables = {}
    for workers in ("1", "2"):
        (tmp_path / f"exp{workers}.toml").write_text(logistic_experiment(f"out-{workers}", ("gd", "rr", "sgd")))
        assert main(["run", str(tmp_path / f"exp{workers}.toml"), "--workers", workers]) == 0
        assert "6 runs computed, 0 reused" in capsys.readouterr().out
        tables[workers] = pd.read_parquet(tmp_path / f"out-{workers}" / "table.parquet").drop(columns="time")
    pd.testing.assert_frame_equal(tables["2"], tables["1"])


BAD = [
    (["compare", "--schemes", "zigzag"], "Invalid value for --schemes: 'zigzag' is not one of full_batch"),
    (["compare", "--problem", "ridge"], "sgdlab compare [problem] kind must be one of least_squares, logistic, mlp, robust_regression, softmax; got 'ridge'."),
    (["compare", "--step", "1/K"], "step must be a number, or text 'c/L', 'c/L_B' or 'c/L_max'"),
    (["compare", "--data", "no/such/file.csv"], "data must be a bundled name (diabetes, breast_cancer, digits, synthetic) or an existing file; got 'no/such/file.csv'."),
    (["compare", "--seeds", "0"], "Invalid value for '--seeds': 0 is not in the range x>=1."),
    (["compare", "--batch-sizes", "1,x"], "Invalid value for --batch-sizes: expected comma-separated integers"),
    (["run", "missing.toml"], "EXPERIMENT must be an existing TOML file; got missing.toml."),
    (["run", "exp.toml", "--workers", "0"], "Invalid value for '--workers': 0 is not in the range x>=1."),
    (["run", "exp.toml", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "give either --workers or --scheduler"),
    (["report", "nowhere"], "folder must be a results folder written by compare(out=...), study(out=...), sgdlab compare or sgdlab run"),
]


@pytest.mark.parametrize("args, text", BAD, ids=[" ".join(args) for args, _ in BAD])
def test_bad_input_is_one_line_and_exit_code_2(args, text, tmp_path):
    result = _sgdlab(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sgdlab: error: ")
    assert text in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("toml, text", [
    ('[compare]\nepochs = "ten"\n', "exp.toml [compare] epochs must be an integer >= 1; got 'ten'."),
    ('[compare]\nepoch = 3\n', "exp.toml [compare] must be made of the keys epochs, seeds, record_every, out, title, goal, patience, patience_on, curvature_every; got unknown key 'epoch'."),
    ('[runs.a]\nsampler = "cyclic"\nbatchsize = 4\n', "exp.toml [runs.a] must be made of the keys sampler, step, method, average, batch_size, drop_last; got unknown key 'batchsize'."),
    ('[runs.a]\nbatch_size = 4\n', "exp.toml [runs.a] must be a table with a sampler key"),
    ('[problem]\nkind = "ridge"\n', "exp.toml [problem] kind must be one of least_squares, logistic, mlp, robust_regression, softmax; got 'ridge'."),
    ('[compare]\nseeds = 0\n', "seeds must be an integer >= 1; got 0."),
    ('[problem]\ndata = "prices.csv"\ntarget = "price"\n', "target must be a column of prices.csv (a, b); got 'price'."),
    ('[oops]\n', "exp.toml must be made of the tables [problem] (or [[problems]]), [compare] and [runs.NAME]; got unknown "
     "table(s) ['oops']."),
    ('[problem\n', "EXPERIMENT must be a readable TOML file"),
    ('[problem]\nclass_weight = "balanced"\n', "exp.toml [problem] must be made of the keys kind, data, target, "
     "standardize, intercept, test_fraction, sample_weight; got unknown key 'class_weight'."),   # least squares's keys
    ('[problem]\nkind = "logistic"\nclass_weight = "equal"\n', "class_weight must be 'balanced' or a dict from class "
     "label to weight; got 'equal'."),
    ('[problem]\nl2 = 0.1\n', "got unknown key 'l2'"),
    ('[runs.a]\nsampler = { name = "importance", weights = "uniform" }\n', "weights must be 'lipschitz' or N "
     "nonnegative numbers; got 'uniform'."),
    ('[runs.a]\nsampler = "cyclic"\nmethod = { name = "heavy_ball", gamma = 0.5 }\n', "[runs.a] method gamma must be a "
     "parameter of heavy_ball (its keys: beta); got unknown key 'gamma'."),
])
def test_bad_experiment_files(tmp_path, toml, text):
    (tmp_path / "prices.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "exp.toml").write_text(toml)
    result = _sgdlab("run", "exp.toml", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert text in result.stderr and "Traceback" not in result.stderr


def _counts(stdout: str) -> tuple[int, int]:
    computed, reused = re.search(r"(\d+) runs computed, (\d+) reused", stdout).groups()
    return int(computed), int(reused)


def test_killed_comparison_resumes_without_recomputing(tmp_path):
    args = ["compare", "--schemes", "full_batch,cyclic,shuffled_cyclic,with_replacement", "--batch-sizes", "1",
            "--epochs", "60", "--seeds", "3"]
    killed_out = tmp_path / "killed"
    runs = killed_out / "runs"
    process = subprocess.Popen([sys.executable, "-m", "sgdlab.experiments.cli", *args, "--out", str(killed_out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not (runs.is_dir() and list(runs.glob("*.parquet"))) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in runs.glob("*.parquet")}
    assert 0 < len(saved) < 12, "the kill should land after the first program and before the last"
    assert not (killed_out / "table.parquet").exists()

    resumed = _sgdlab(*args, "--out", str(killed_out))
    assert resumed.returncode == 0, resumed.stderr
    assert _counts(resumed.stdout) == (12 - len(saved), len(saved))
    for name, (mtime, content) in saved.items():   # finished runs were read, not rewritten
        path = runs / name
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content

    whole = _sgdlab(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0 and _counts(whole.stdout) == (12, 0)
    resumed_table = pd.read_parquet(killed_out / "table.parquet").drop(columns="time")
    whole_table = pd.read_parquet(tmp_path / "whole" / "table.parquet").drop(columns="time")
    pd.testing.assert_frame_equal(resumed_table, whole_table)
    for path in killed_out.rglob("*"):   # nothing half-written: every file reads back
        assert not path.name.endswith(".tmp")
        if path.suffix == ".parquet":
            pd.read_parquet(path)
    json.loads((killed_out / "experiment.json").read_text())


def test_chosen_schemes_take_the_same_default_steps_as_the_main_job():
    """GD at 1/L and every stochastic run at 0.5/L_B, whether the schemes are the defaults or chosen."""
    from sgdlab.experiments import run_tables

    for runs in (run_tables.default_runs(), run_tables.product_runs(["full_batch", "cyclic", "with_replacement"], [1, 8])):
        steps = {name: run["step"] for name, run in runs.items()}
        assert steps.pop("GD") == "1/L" and set(steps.values()) == {"0.5/L_B"}


def test_each_method_of_a_product_starts_from_the_plain_run():
    """An averaged run's averaging and a variance-reduced run's method and step do not carry over to the methods
    listed after them (SVRG once ran with the previous entry's Polyak averaging)."""
    from sgdlab.experiments import run_tables

    runs = run_tables.product_runs(["with_replacement"], [1], ["polyak_average", "svrg", "heavy_ball:0.9", "plain"])
    assert runs["with_replacement B=1 polyak_average"] == {"sampler": "with_replacement", "batch_size": 1, "step": "0.5/L_B",
                                              "method": "plain", "average": "polyak_average"}
    assert runs["with_replacement B=1 svrg"] == {"sampler": "with_replacement", "batch_size": 1, "step": "0.125/L_max",
                                    "method": "svrg"}
    momentum = runs["with_replacement B=1 heavy_ball:0.9"]
    assert momentum["step"] == "0.05/L_B" and "average" not in momentum
    assert runs["with_replacement B=1"] == {"sampler": "with_replacement", "batch_size": 1, "step": "0.5/L_B"}


def test_a_plain_number_is_a_step_on_the_command_line_and_in_a_file(tmp_path, capsys):
    """`--step 0.1` and `step = "0.1"` are the constant step 0.1, as --help and the README offer."""
    assert main(["compare", "--schemes", "cyclic", "--batch-sizes", "8", "--epochs", "1", "--seeds", "1",
                 "--step", "0.1", "--out", str(tmp_path / "cli")]) == 0
    assert pd.read_parquet(tmp_path / "cli" / "table.parquet").alpha0.unique().tolist() == [0.1]
    (tmp_path / "exp.toml").write_text('[compare]\nepochs = 1\nseeds = 1\nout = "file"\n\n'
                                       '[runs.a]\nsampler = "cyclic"\nbatch_size = 8\nstep = "0.25"\n')
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    assert pd.read_parquet(tmp_path / "file" / "table.parquet").alpha0.unique().tolist() == [0.25]


def test_diverged_runs_say_why_in_the_terminal_and_the_report(tmp_path, capsys):
    assert main(["compare", "--schemes", "full_batch,with_replacement", "--batch-sizes", "1", "--step", "5/L",
                 "--epochs", "5", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err.count("StepSizeWarning") == 1 and ".py" not in err   # once, as one line, no source code
    for seed in (0, 1):
        assert re.search(rf"with_replacement B=1, seed {seed}: diverged at epoch 1: F became inf\. .*α·L_B = 61\.9",
                         out)
        assert re.search(rf"GD, seed {seed}: diverged at epoch 5: F rose from 1\.45e\+04 to 9\.59e\+08, past the "
                         r"divergence threshold 1\.31e\+08\. .*α·L = 5 ≥ 2", out)
    page = (tmp_path / "report.html").read_text()
    assert "Runs that stopped early" in page and page.count("diverged at epoch") == 4


def test_a_results_folder_keeps_its_experiment_and_how_to_rebuild_it(tmp_path, capsys):
    """experiment.json records the data file and its hash, the target, the preprocessing, each run's engine
    and the versions; another experiment is refused there unless --overwrite."""
    import hashlib

    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    data = tmp_path / "diabetes.csv"
    frame.to_csv(data, index=False)
    args = ["compare", "--data", str(data), "--target", "progression", "--no-intercept", *SMALL, "--out",
            str(tmp_path / "out")]
    assert main(args) == 0
    saved = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert saved["source"] == {"kind": "least_squares", "data": str(data), "target": "progression",
                               "standardize": True, "intercept": False,
                               "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    assert {run["engine"] for run in saved["runs"].values()} <= {"native", "jax"}
    assert {"numba", "jax", "numpy", "scipy", "pyarrow"} <= set(saved["environment"]["versions"])
    assert saved["finished"] is True
    page = (tmp_path / "out" / "report.html").read_text()
    assert "data SHA-256" in page and saved["source"]["data_sha256"] in page and "numba" in page
    capsys.readouterr()

    assert main([*args, "--seeds", "3"]) == 2
    err = capsys.readouterr().err
    assert "holds another experiment" in err and "--overwrite" in err and err.count("\n") == 1
    assert main([*args, "--seeds", "3", "--overwrite"]) == 0
    assert "2 runs computed, 4 reused" in capsys.readouterr().out


def test_a_text_target_is_refused_for_least_squares_and_labels_for_classifiers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40),
                          "grade": np.where(np.arange(40) % 2 == 0, "low", "high")})
    frame.to_csv(tmp_path / "grades.csv", index=False)
    common = ["--data", str(tmp_path / "grades.csv"), "--epochs", "1", "--seeds", "1", "--schemes", "full_batch"]
    assert main(["compare", *common, "--out", str(tmp_path / "ls")]) == 2
    assert "y must be an array of numbers; got text values such as 'low'" in capsys.readouterr().err
    assert main(["compare", "--problem", "logistic", *common, "--out", str(tmp_path / "logistic")]) == 0


def test_the_goal_sets_the_summary_target_in_the_terminal_and_the_report(tmp_path, capsys):
    assert main(["compare", *SMALL, "--goal", "1e-6", "--out", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "table.parquet")
    target = 1e-6 * table[table.epoch == 0].gap.median()
    assert f"target gap ≤ {target:.3g}" in capsys.readouterr().out
    assert json.loads((tmp_path / "experiment.json").read_text())["settings"]["goal"] == 1e-6
    page = (tmp_path / "report.html").read_text()
    assert f"gap ≤ {target:.3g} (1e-06 of its value at the start, dotted on the plots)" in page
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    assert page.count("<div class='scroll'><table") >= 4 and "@media (max-width: 700px)" in page
    assert main(["compare", *SMALL, "--goal", "2", "--out", str(tmp_path / "bad")]) == 2
    assert "--goal" in capsys.readouterr().err


def test_a_network_from_the_command_line_asks_for_a_step_then_runs(tmp_path, capsys):
    common = ["compare", "--problem", "mlp", "--hidden", "16,8", "--epochs", "2", "--seeds", "1",
              "--schemes", "full_batch,shuffled_cyclic", "--batch-sizes", "32"]
    assert main([*common, "--out", str(tmp_path / "default")]) == 2
    err = capsys.readouterr().err
    assert "step must be given as a number or a schedule for MLP, whose L_B and L_max are not known" in err
    assert "--step 0.05" in err and err.count("\n") == 1
    assert main([*common, "--step", "0.05", "--out", str(tmp_path / "net")]) == 0
    saved = json.loads((tmp_path / "net" / "experiment.json").read_text())
    assert saved["problem"]["kind"] == "MLP" and saved["source"]["hidden"] == [16, 8]
    # digits: 64 pixels and the intercept column in, 10 classes out; a bias a unit
    assert saved["problem"]["parameters"] == (65 + 1) * 16 + (16 + 1) * 8 + (8 + 1) * 10


def test_methods_from_the_command_line_and_an_experiment_file(tmp_path, capsys):
    args = ["compare", "--schemes", "shuffled_cyclic", "--batch-sizes", "8", "--methods", "plain,heavy_ball:0.5",
            "--epochs", "2", "--seeds", "1"]
    assert main([*args, "--out", str(tmp_path / "cli")]) == 0
    runs = json.loads((tmp_path / "cli" / "experiment.json").read_text())["runs"]
    assert {name: run["method"] for name, run in runs.items()} == {
        "shuffled_cyclic B=8": "plain", "shuffled_cyclic B=8 heavy_ball:0.5": "heavy ball (β = 0.5)"}
    assert runs["shuffled_cyclic B=8 heavy_ball:0.5"]["engine"] == "native"   # a linear model
    assert runs["shuffled_cyclic B=8 heavy_ball:0.5"]["step"] == "0.25/L_B"   # (1 − β) × 0.5/L_B: α/(1 − β) alike
    (tmp_path / "exp.toml").write_text('[compare]\nepochs = 1\nseeds = 1\nout = "file"\n\n'
                                       '[runs.nag]\nsampler = "cyclic"\nbatch_size = 8\nmethod = "nesterov:0.8"\n')
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    saved = json.loads((tmp_path / "file" / "experiment.json").read_text())["runs"]["nag"]
    assert saved["method"] == "Nesterov (β = 0.8)"
    capsys.readouterr()
    assert main([*args[:-4], "--methods", "momentum", "--out", str(tmp_path / "bad")]) == 2
    assert "--methods must be plain, heavy_ball:beta, nesterov:beta, svrg:snapshot_every" in capsys.readouterr().err
    assert main([*args[:-4], "--methods", "heavy_ball:1.5", "--out", str(tmp_path / "bad")]) == 2
    assert "beta must be a number in [0, 1) for heavy_ball; got 1.5" in capsys.readouterr().err
    assert main([*args[:-4], "--methods", "svrg:0", "--out", str(tmp_path / "bad")]) == 2
    assert "snapshot_every must be an integer >= 1 for svrg; got 0" in capsys.readouterr().err
    assert main([*args[:-4], "--methods", "saga+ema:2", "--out", str(tmp_path / "bad")]) == 2
    assert "decay must be a number in [0, 1) for ema; got 2.0" in capsys.readouterr().err


def test_variance_reduction_and_averaging_from_the_command_line(tmp_path):
    """--methods takes svrg, saga and averagings (alone: averaged plain SGD); each variance-reduced run gets its
    theorem's step, gradient descent none of them, and the table counts gradients."""
    args = ["compare", "--schemes", "full_batch,with_replacement", "--batch-sizes", "1", "--methods",
            "plain,svrg,saga,polyak_average:1", "--epochs", "3", "--seeds", "2", "--out", str(tmp_path / "vr")]
    assert main(args) == 0
    runs = json.loads((tmp_path / "vr" / "experiment.json").read_text())["runs"]
    assert sorted(runs) == ["GD", "GD polyak_average:1", "with_replacement B=1", "with_replacement B=1 polyak_average:1",
                            "with_replacement B=1 saga", "with_replacement B=1 svrg"]
    assert runs["with_replacement B=1 saga"]["step"] == "0.33/L_max"
    assert runs["with_replacement B=1 polyak_average:1"]["average"] == "Polyak–Ruppert average from epoch 1"
    assert "SAGA (Defazio" in runs["with_replacement B=1 saga"]["step_check"]
    table = pd.read_parquet(tmp_path / "vr" / "table.parquet")
    last = table.groupby("run").grad_evals.max()
    assert last["with_replacement B=1"] == 3.0 and last["with_replacement B=1 saga"] == 4.0
    assert last["with_replacement B=1 svrg"] == 9.0 and "avg_gap" in table.columns


def test_polyak_steps_in_an_experiment_file(tmp_path):
    (tmp_path / "exp.toml").write_text('[compare]\nepochs = 3\nseeds = 1\nout = "polyak"\n\n'
                                       '[runs.gd]\nsampler = "full_batch"\nstep = "polyak"\n\n'
                                       '[runs.sps]\nsampler = "shuffled_cyclic"\nbatch_size = 8\nstep = "stochastic_polyak"\n')
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    runs = json.loads((tmp_path / "polyak" / "experiment.json").read_text())["runs"]
    assert runs["gd"]["step"] == "polyak" and "needs no L" in runs["gd"]["step_check"]
    assert "stochastic Polyak step needs no L" in runs["sps"]["step_check"] and runs["sps"]["engine"] == "jax"
    table = pd.read_parquet(tmp_path / "polyak" / "table.parquet")
    gd = table[table.run == "gd"].gap.to_numpy()
    assert gd[-1] < gd[0]


@pytest.mark.parametrize("scheme", ["flip_flop", "grab"])
def test_new_orders_run_from_the_command_line_and_from_a_file(tmp_path, scheme):
    """The scheme's name is known to --schemes and to [runs.*] sampler, and its runs are the Python API's."""
    assert main(["compare", "--schemes", scheme, "--batch-sizes", "4", "--epochs", "2", "--seeds", "1",
                 "--out", str(tmp_path / "cli")]) == 0
    table = pd.read_parquet(tmp_path / "cli" / "table.parquet")
    assert table.run.unique().tolist() == [f"{scheme} B=4"]
    (tmp_path / "exp.toml").write_text('[compare]\nepochs = 2\nseeds = 1\nout = "file"\n\n'
                                       f'[runs.ours]\nsampler = "{scheme}"\nbatch_size = 4\nstep = "0.5/L_B"\n')
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    from_file = pd.read_parquet(tmp_path / "file" / "table.parquet")
    np.testing.assert_allclose(from_file.loss.to_numpy(), table.loss.to_numpy(), rtol=1e-12)


def test_balanced_class_weights_from_the_command_line_and_a_file(tmp_path):
    """--class-weight balanced and [problem] class_weight build the problem sl.logistic_regression(...,
    class_weight="balanced") does: the same runs, and the report's problem table says so."""
    import sgdlab as sl
    from sgdlab.experiments import building, config

    assert main(["compare", "--problem", "logistic", "--class-weight", "balanced", "--schemes", "shuffled_cyclic",
                 "--batch-sizes", "8", "--step", "0.05", "--epochs", "2", "--seeds", "1", "--out", str(tmp_path / "cli")]) == 0
    table = pd.read_parquet(tmp_path / "cli" / "table.parquet")
    built = building.build(config.validated({"problem": {"kind": "logistic", "class_weight": "balanced"}}))
    labels = (built.problem.y > 0).astype(int)
    expected = len(labels) / (2 * np.bincount(labels))
    np.testing.assert_allclose(built.problem.sample_weight, expected[labels], rtol=1e-14)
    run = sl.minimize(built.problem, sl.shuffled_cyclic(8), step=0.05, epochs=2, seed=0)
    assert table.loss.iloc[-1] == pytest.approx(run.history.loss.iloc[-1], rel=1e-10)
    assert "class weights" in (tmp_path / "cli" / "report.html").read_text()


def test_compare_records_curvature_and_the_report_draws_it(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", "compare", "--epochs", "2", "--seeds", "1",
                           "--schemes", "full_batch,with_replacement", "--batch-sizes", "32", "--curvature-every", "1",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Curvature and the edge of stability</h2>" in page
