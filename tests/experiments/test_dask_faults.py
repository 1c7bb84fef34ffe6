"""Faults on a real Dask cluster (a scheduler and three workers, each with its nanny, started here on 127.0.0.1):
a worker killed with its nanny at a random moment of a study, ten times in a row, costs nothing (every study
equals the serial table); a scheduler killed mid-run ends `sgdlab run` with one line and exit 2, the finished
runs saved, and the same command completes the rest."""

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.experiments import groups as sgdlab_groups

from dask_cluster import kill_group, running_cluster, start_worker, without_time
from experiment_files import study_experiment

distributed = pytest.importorskip("distributed")


@pytest.fixture
def cluster():
    """(address, the list of live workers' nannies, the scheduler): three workers, the list kept up to date by the
    test."""
    with running_cluster(3) as running:
        yield running


def test_ten_workers_killed_with_their_nannies_at_random_moments_cost_nothing(cluster, regression_data,
                                                                             monkeypatch):
    """Each round kills one of three workers (and its nanny) once a random number of the study's groups has come
    back, then starts a fresh one; Dask reruns the lost groups and the problem they need on the others. The
    groups (4,800 and 2,400 units of work) travel two and four to a shipment: five tasks, not two."""
    monkeypatch.setattr(sgdlab_groups, "SHIPMENT_WORK", 10_000)
    address, workers, _ = cluster
    X, y = regression_data
    problems = {"all": sl.least_squares(X, y), "half": sl.least_squares(X[:30], y[:30])}
    runs = {f"RR {k}": dict(sampler=sl.shuffled_cyclic(k), step=0.01) for k in (1, 2, 3, 5, 7, 9)}
    serial = without_time(sl.study(problems, runs, seeds=2, epochs=40).table)
    groups = len(problems) * len(runs)
    rng = np.random.default_rng(37)
    with distributed.Client(address, timeout=60) as client:
        for round_ in range(10):
            came_back, victim = threading.Event(), workers[int(rng.integers(len(workers)))]
            threshold, finished = int(rng.integers(0, groups - 2)), []

            def count(label, epoch, epochs, finished=finished, came_back=came_back, threshold=threshold):
                if epoch == epochs:
                    finished.append(label)
                    if len(finished) > threshold:
                        came_back.set()

            killer = threading.Thread(target=lambda: (came_back.wait(120), kill_group(victim)))   # noqa: B023
            killer.start()
            table = sl.study(problems, runs, seeds=2, epochs=40, executor=client.get_executor(), on_epoch=count).table
            killer.join()
            assert victim.returncode == -signal.SIGKILL, f"round {round_}: the worker was not killed"
            assert len(finished) == groups
            pd.testing.assert_frame_equal(without_time(table), serial, obj=f"round {round_}")
            workers.remove(victim)
            workers.append(start_worker(address))
            client.wait_for_workers(3, timeout=90)


def test_a_lost_scheduler_ends_with_one_line_and_the_same_command_completes(cluster, tmp_path):
    address, _, scheduler = cluster
    experiment = tmp_path / "study.toml"
    experiment.write_text(study_experiment("out", runs=("gd", "rr", "sgd"), epochs=300, seeds=3))
    command = [sys.executable, "-m", "sgdlab.experiments.cli", "run", str(experiment)]
    running = subprocess.Popen([*command, "--scheduler", address], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    saved = tmp_path / "out" / "problems"
    deadline = time.time() + 180
    while time.time() < deadline and not list(saved.glob("*/runs/*.parquet")):
        time.sleep(0.05)
    scheduler.kill()
    scheduler.wait()
    _, stderr = running.communicate(timeout=120)
    kept = len(list(saved.glob("*/runs/*.parquet")))
    assert running.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sgdlab: error: the Dask scheduler was lost: ") and "run the same command again" \
        in lines[0], lines[0]
    assert kept >= 1
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "reused" in finished.stdout
    serial = tmp_path / "serial.toml"
    serial.write_text(study_experiment("serial", runs=("gd", "rr", "sgd"), epochs=300, seeds=3))
    assert subprocess.run([*command[:-1], str(serial)], capture_output=True, timeout=300).returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "table.parquet").drop(columns="time"),
                                  pd.read_parquet(tmp_path / "serial" / "table.parquet").drop(columns="time"))
