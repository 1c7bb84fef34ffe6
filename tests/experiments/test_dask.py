"""Run groups on a real Dask cluster: a scheduler and two worker processes started here on 127.0.0.1 (as
`dask scheduler` / `dask worker`); a study through the client's executor and `sgdlab run --scheduler` give the
serial tables, and a worker killed with SIGKILL mid-study still leaves the complete table."""

import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.experiments.cli import main

from dask_cluster import free_port, start_scheduler, start_worker, without_time
from experiment_files import logistic_experiment, study_experiment

distributed = pytest.importorskip("distributed")

RUNS = {"GD": dict(sampler="full_batch", step="1/L"), "RR": dict(sampler=sl.shuffled_cyclic(8), step=0.01),
        "SGD": dict(sampler=sl.with_replacement(8), step=0.01), "cyclic": dict(sampler=sl.cyclic(8), step=0.01)}


@pytest.fixture(scope="module")
def cluster():
    """(address, worker processes): a scheduler and two single-threaded workers, stopped at the end."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start_scheduler(port)
    workers = [start_worker(address, f"w{i}", nanny=False) for i in range(2)]
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in [*workers, scheduler]:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def problems(regression_data):
    X, y = regression_data
    return {"all": sl.least_squares(X, y), "half": sl.least_squares(X[:30], y[:30]),
            "own": sl.finite_sum(lambda theta, e: 0.5 * (e[0] @ theta - e[1]) ** 2, (X, y), np.zeros(4))}


def test_a_study_on_a_dask_cluster_gives_the_serial_table(cluster, problems):
    address, _ = cluster
    serial = sl.study(problems, RUNS, seeds=2, epochs=2).table
    with distributed.Client(address) as client:
        spread = sl.study(problems, RUNS, seeds=2, epochs=2, executor=client.get_executor()).table
        assert len(client.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(without_time(spread), without_time(serial))


@pytest.mark.parametrize("experiment, runs", [(logistic_experiment, 4), (study_experiment, 12)],
                         ids=["comparison", "study"])
def test_sgdlab_run_with_a_scheduler_gives_the_serial_table(cluster, tmp_path, capsys, experiment, runs):
    address, _ = cluster
    tables = {}
    for name, extra in (("serial", []), ("dask", ["--scheduler", address])):
        (tmp_path / f"{name}.toml").write_text(experiment(f"out-{name}"))
        assert main(["run", str(tmp_path / f"{name}.toml"), *extra]) == 0
        assert f"{runs} runs computed, 0 reused" in capsys.readouterr().out
        tables[name] = pd.read_parquet(tmp_path / f"out-{name}" / "table.parquet").drop(columns="time")
    pd.testing.assert_frame_equal(tables["dask"], tables["serial"])


def test_a_worker_killed_mid_study_still_leaves_the_complete_table(cluster, problems, tmp_path):
    """Dask reruns the killed worker's task on the other; the study's table is whole and equals the serial one."""
    address, workers = cluster
    runs = {f"RR {k}": dict(sampler=sl.shuffled_cyclic(k), step=0.01) for k in (1, 2, 3, 5, 7, 9)}
    many = dict.fromkeys(("a", "b", "c"), problems["all"])
    with distributed.Client(address) as client:
        executor = client.get_executor()
        killer = _kill_soon(workers[0], client)
        spread = sl.study(many, runs, seeds=2, epochs=30, executor=executor, out=tmp_path).table
        killer.join()
    assert workers[0].wait(timeout=30) == -signal.SIGKILL
    serial = sl.study(many, runs, seeds=2, epochs=30).table
    pd.testing.assert_frame_equal(without_time(spread), without_time(serial))


def _kill_soon(worker: subprocess.Popen, client):
    """A thread that kills ``worker`` with SIGKILL once the cluster has started on the tasks."""
    import threading

    def kill():
        deadline = time.time() + 60
        while time.time() < deadline and not any(client.processing().values()):
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread
