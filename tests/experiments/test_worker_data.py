"""A study's problems read by the workers from their files: the submitting process never holds their data (its
peak of traced memory stays below one problem's arrays), its table equals the one-process study's, and a file
that changed after submission is refused by the worker that reads it."""

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sgdlab._helpers.files import file_sha256
from sgdlab.experiments import worker_problems
from sgdlab.experiments.cli import main

from dask_cluster import running_cluster

distributed = pytest.importorskip("distributed")

ROWS, COLUMNS = 400_000, 30   # 96 MB of float64 features a problem (the report alone peaks near 45 MB)


@pytest.fixture(scope="module")
def two_workers():
    with running_cluster(2) as (address, _, _):
        yield address


def _study_file(folder, out: str) -> str:
    rng = np.random.default_rng(5)
    tables = ""
    for name in ("first", "second"):
        X = rng.normal(size=(ROWS, COLUMNS))
        np.savez(folder / f"{name}.npz", X=X, y=X @ rng.normal(size=COLUMNS) + rng.normal(size=ROWS))
        tables += f'[[problems]]\nname = "{name}"\nkind = "least_squares"\ndata = "{folder / name}.npz"\n\n'
    path = folder / f"{out}.toml"
    path.write_text(tables + f'[compare]\nepochs = 2\nseeds = 2\nout = "{folder / out}"\n\n'
                    '[runs.rr]\nsampler = "shuffled_cyclic"\nbatch_size = 16\n\n'
                    '[runs.sgd]\nsampler = "with_replacement"\nbatch_size = 16\n')
    return str(path)


def test_the_client_never_holds_a_problems_data_and_the_table_is_the_serial_one(two_workers, tmp_path):
    experiment = _study_file(tmp_path, "remote")
    tracemalloc.start()
    try:
        code = main(["run", experiment, "--scheduler", two_workers])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    one_problem = ROWS * COLUMNS * 8
    assert peak < one_problem, f"the client's peak traced memory {peak / 2**20:.1f} MiB"
    serial = tmp_path / "serial.toml"
    serial.write_text(Path(experiment).read_text().replace(str(tmp_path / "remote"), str(tmp_path / "serial")))
    assert main(["run", str(serial)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "remote" / "table.parquet").drop(columns="time"),
                                  pd.read_parquet(tmp_path / "serial" / "table.parquet").drop(columns="time"))


def test_a_data_file_changed_after_submission_is_refused_by_the_worker(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=X[:, 0])
    submitted = file_sha256(path)
    np.savez(path, X=X, y=X[:, 1])
    description = {"problem": {"kind": "least_squares", "data": str(path)}}
    with pytest.raises(ValueError, match=r"data must be the file the study was submitted with \(SHA-256 "
                       + submitted + r"\); got .*data\.npz with SHA-256 [0-9a-f]{64} on this worker"):
        worker_problems.problem_here(description, submitted, worker_problems.TRAINING)
