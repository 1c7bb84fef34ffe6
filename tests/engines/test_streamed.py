"""Data on disk (memory-mapped .npy, Parquet columns): epochs streamed through blocks of gathered rows
give the in-memory run."""

import re

import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sgdlab as sl
from sgdlab.engines import streamed
from sgdlab.problems import chunked


def _loss(theta, example):
    x, y = example
    return 0.5 * (jnp.dot(x, theta) - y) ** 2


@pytest.fixture()
def problems(tmp_path, monkeypatch):
    """The same data in memory and as .npy files opened with mmap_mode="r"; blocks of 64 rows and
    chunks of 100 rows, so an epoch spans many blocks, the last ones short."""
    monkeypatch.setattr(streamed, "BLOCK_ROWS", 64)
    monkeypatch.setattr(chunked, "EVAL_ROWS", 100)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = X.sum(axis=1) + 0.1 * rng.normal(size=500)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    on_disk = (np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r"))
    return sl.finite_sum(_loss, (X, y), np.zeros(4)), sl.finite_sum(_loss, on_disk, np.zeros(4))


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.without_replacement(8), sl.cyclic(7),
                                     sl.shuffled_cyclic(16), sl.shuffle_once(5, drop_last=True),
                                     sl.shuffled_chunks(8, chunk=70)], ids=repr)
def test_memory_mapped_data_give_the_in_memory_run(problems, sampler):
    memory, disk = problems
    assert disk.on_disk and not memory.on_disk
    assert all(isinstance(leaf, np.memmap) for leaf in disk.data)   # never read whole into an array
    expected = sl.minimize(memory, sampler, step=0.05, epochs=3, seed=2)
    streamed_run = sl.minimize(disk, sampler, step=0.05, epochs=3, seed=2)
    np.testing.assert_array_equal(streamed_run.params, expected.params)
    np.testing.assert_allclose(streamed_run.history.loss, expected.history.loss, rtol=1e-13)
    np.testing.assert_allclose(streamed_run.history.grad_norm, expected.history.grad_norm, rtol=1e-12)


def test_gradient_descent_and_the_friendly_layer_sum_over_chunks(problems):
    memory, disk = problems
    theta = np.array([1.0, -1.0, 0.5, 2.0])
    assert float(disk.loss(theta)) == pytest.approx(float(memory.loss(theta)), rel=1e-13)
    np.testing.assert_allclose(disk.grad(theta), memory.grad(theta), rtol=1e-13)
    runs = [sl.minimize(problem, step=0.1, epochs=5) for problem in (memory, disk)]
    np.testing.assert_allclose(runs[1].params, runs[0].params, rtol=0, atol=1e-13)


@pytest.mark.parametrize("call, text", [
    (lambda disk: sl.compare(disk, {"a": dict(sampler=sl.cyclic(4), step=0.1)}, seeds=2, epochs=1),
     "problem must be data in memory for compare and for devices="),
    (lambda disk: sl.minimize(disk, sl.cyclic(4), step=0.1, epochs=1, constraint=sl.ball(1.0)),
     "constraint must be left out for data on disk"),
])
def test_what_streamed_runs_cannot_do_is_refused(problems, call, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        call(problems[1])


ROW_GROUP = 70   # 500 rows: seven row groups of 70 and one of 10


@pytest.fixture()
def parquet_file(tmp_path, monkeypatch):
    """The problems' data also as a Parquet file of row groups of 70 rows, with a text column beside."""
    monkeypatch.setattr(streamed, "BLOCK_ROWS", 64)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = X.sum(axis=1) + 0.1 * rng.normal(size=500)
    columns = {**{f"x{j}": X[:, j] for j in range(4)}, "y": y, "name": [f"row {i}" for i in range(500)]}
    pq.write_table(pa.table(columns), tmp_path / "data.parquet", row_group_size=ROW_GROUP)
    return tmp_path / "data.parquet", sl.finite_sum(_loss, (X, y), np.zeros(4))


def _parquet_problem(path):
    return sl.finite_sum(_loss, (sl.parquet_columns(path, ["x0", "x1", "x2", "x3"]), sl.parquet_columns(path, "y")),
                         np.zeros(4))


@pytest.mark.parametrize("sampler", [sl.without_replacement(8), sl.cyclic(7), sl.shuffled_cyclic(16),
                                     sl.shuffled_chunks(8, chunk=ROW_GROUP), sl.full_batch()], ids=repr)
def test_parquet_columns_give_the_in_memory_run(parquet_file, sampler):
    path, memory = parquet_file
    disk = _parquet_problem(path)
    assert disk.on_disk and disk.n == 500
    expected = sl.minimize(memory, sampler, step=0.05, epochs=3, seed=2)
    streamed_run = sl.minimize(disk, sampler, step=0.05, epochs=3, seed=2)
    np.testing.assert_allclose(streamed_run.params, expected.params, rtol=0, atol=1e-13)
    np.testing.assert_allclose(streamed_run.history.loss, expected.history.loss, rtol=1e-13)


def test_parquet_rows_are_read_a_row_group_at_a_time(parquet_file):
    path, memory = parquet_file
    columns = sl.parquet_columns(path, ["x0", "x1", "x2", "x3"])
    X = np.asarray(memory.data[0])
    rows = np.array([499, 3, 140, 141, 3, 0])
    np.testing.assert_array_equal(columns[rows], X[rows])
    np.testing.assert_array_equal(columns[65:150], X[65:150])
    np.testing.assert_array_equal(sl.parquet_columns(path, "y")[:], np.asarray(memory.data[1]))


def test_shuffled_chunks_reads_a_parquet_file_about_once_an_epoch(parquet_file, monkeypatch):
    """Blocks of 64 rows: shuffled chunks of a row group read about one row group a block (each row group
    about once an epoch), where a uniform shuffle reads nearly every row group for every block."""
    path, _ = parquet_file
    reads = {}
    for sampler in (sl.shuffled_chunks(8, chunk=ROW_GROUP), sl.shuffled_cyclic(8)):
        problem = _parquet_problem(path)
        name = repr(sampler)
        for leaf in problem.data:
            original = leaf._file.read_row_group
            monkeypatch.setattr(leaf._file, "read_row_group",
                                lambda *a, _read=original, _name=name, **k: (
                                    reads.__setitem__(_name, reads.get(_name, 0) + 1), _read(*a, **k))[1])
        sl.minimize(problem, sampler, step=0.05, epochs=1)
        reads[repr(sampler)] = reads[repr(sampler)] // 2 - 2 * 8   # per leaf (X, y); less F at the start and end
    assert reads[repr(sl.shuffled_chunks(8, chunk=ROW_GROUP))] <= 2 * 8   # ≤ 2 row groups for each of 8 blocks
    assert reads[repr(sl.shuffled_cyclic(8))] >= 6 * 8                      # ≥ 6 of the 8 row groups a block


@pytest.mark.parametrize("arguments, error, text", [
    (("missing.parquet", "y"), ValueError, "path must be an existing Parquet file; got"),
    ((None, ["x0", "z"]), ValueError, "columns must be names of columns of data.parquet (x0, x1, x2, x3, y, name); "
                                      "got ['z']."),
    ((None, ["x0", "name"]), TypeError, "columns must be columns of numbers or booleans; got ['name'] of types "
                                        "['string']."),
    ((None, []), TypeError, "columns must be a column name or a non-empty list of column names; got []."),
])
def test_bad_parquet_columns_are_refused(parquet_file, arguments, error, text):
    path, _ = parquet_file
    with pytest.raises(error, match=re.escape(text)):
        sl.parquet_columns(path if arguments[0] is None else path.parent / arguments[0], arguments[1])


def test_a_parquet_column_with_missing_values_is_refused(tmp_path):
    pq.write_table(pa.table({"x": [1.0, None, 3.0], "y": [1.0, 2.0, 3.0]}), tmp_path / "gaps.parquet")
    columns = (sl.parquet_columns(tmp_path / "gaps.parquet", ["x"]), sl.parquet_columns(tmp_path / "gaps.parquet", "y"))
    with pytest.raises(ValueError, match="data must be finite"):
        sl.finite_sum(_loss, columns, np.zeros(1))
