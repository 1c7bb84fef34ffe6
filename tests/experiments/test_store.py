"""A results folder under faults: run files cut, flipped, emptied or swapped are recomputed (and counted),
never trusted; one writer at a time; one experiment a folder; a full disk or a read-only folder ends with
a clear error, no temporary file, every saved run intact."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab._helpers.validation import InvalidValue
from sgdlab.experiments.report import write_report
from sgdlab.experiments.store import ResultsFolderError, ResultStore, read_frame

RUNS = {"GD": dict(sampler=sl.full_batch()), "RR": dict(sampler=sl.shuffled_cyclic(8), step="0.5/L_B"),
        "SGD": dict(sampler=sl.with_replacement(1), step="0.5/L_B")}


@pytest.fixture(scope="module")
def problem():
    dataset = sl.data.load("diabetes")
    return sl.least_squares(sl.data.standardize(dataset.X), dataset.y.astype(float))


def _compare(problem, out, **keywords):
    return sl.compare(problem, RUNS, seeds=3, epochs=4, out=out, predict=False, **keywords)


def _without_time(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="time").reset_index(drop=True)


def _run_files(folder):
    return sorted((folder / "runs").glob("*.parquet"))


def _flip_a_bit(path):
    """Flip one bit of the file, the first from its middle on whose flip changes what it holds (a flip in
    padding or in unused statistics changes nothing the run is read for: see the test below)."""
    original = path.read_bytes()
    for position in range(len(original) // 2, len(original)):
        content = bytearray(original)
        content[position] ^= 0x10
        path.write_bytes(bytes(content))
        if read_frame(path, path.stem) is None:
            return
    raise AssertionError("no flip changed the file")


def test_every_single_bit_flip_is_caught_or_harmless(problem, tmp_path):
    """Whatever byte of a run file flips, it reads back exactly as saved or not at all."""
    _compare(problem, tmp_path)
    path = _run_files(tmp_path)[0]
    original, saved = path.read_bytes(), read_frame(path, path.stem)
    for position in range(0, len(original), 23):
        content = bytearray(original)
        content[position] ^= 0x04
        path.write_bytes(bytes(content))
        frame = read_frame(path, path.stem)
        assert frame is None or frame.equals(saved), position


def _swap(first, second):
    first_bytes = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(first_bytes)


FAULTS = {
    "cut": lambda files: files[0].write_bytes(files[0].read_bytes()[: files[0].stat().st_size // 2]),
    "emptied": lambda files: files[0].write_bytes(b""),
    "bit flipped": lambda files: _flip_a_bit(files[0]),
    "swapped": lambda files: _swap(files[0], files[1]),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_damaged_run_file_is_recomputed_and_counted(problem, tmp_path, fault):
    whole = _compare(problem, tmp_path)
    files = _run_files(tmp_path)
    FAULTS[fault](files)
    damaged = 2 if fault == "swapped" else 1
    with pytest.warns(UserWarning, match=f"{damaged} saved run\\(s\\) in .* did not verify"):
        again = _compare(problem, tmp_path)
    assert (again.recomputed, again.reused) == (damaged, 9 - damaged)
    # recomputed alone, the runs have the bits they had beside the others
    pd.testing.assert_frame_equal(_without_time(again.table), _without_time(whole.table))
    for path in _run_files(tmp_path):   # and the folder is whole again
        assert read_frame(path, path.stem) is not None


def test_a_bit_flip_in_a_number_is_caught_by_the_digest(problem, tmp_path):
    """A file rewritten with one value changed but valid Parquet (what a flip inside a page may give)."""
    _compare(problem, tmp_path)
    path = _run_files(tmp_path)[0]
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[2, "loss"] = np.nextafter(frame.loc[2, "loss"], np.inf)
    altered = pq.read_table(path).from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata)
    pq.write_table(altered, path)
    assert read_frame(path, path.stem) is None
    with pytest.warns(UserWarning, match="1 saved run"):
        assert _compare(problem, tmp_path).recomputed == 1


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(problem, tmp_path):
    _compare(problem, tmp_path)
    fingerprint = json.loads((tmp_path / "experiment.json").read_text())["fingerprint"]
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from sgdlab.experiments.store import ResultStore
with ResultStore({str(tmp_path)!r}, {fingerprint!r}):
    print("holding", flush=True)
    time.sleep(60)
"""], stdout=subprocess.PIPE, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(ResultsFolderError, match=f"{tmp_path} is in use by sgdlab process {holder.pid} on "):
            _compare(problem, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # once it is gone (killed: the lock goes with the process), the folder is free and intact
    assert _compare(problem, tmp_path).reused == 9


def test_only_dead_writers_temporary_files_are_removed(problem, tmp_path):
    _compare(problem, tmp_path)
    host = socket.gethostname()
    dead = _a_dead_pid()
    stale = tmp_path / "runs" / f".x.parquet.{host}.{dead}.tmp"
    alive = tmp_path / "runs" / f".y.parquet.{host}.{os.getppid()}.tmp"
    elsewhere = tmp_path / f".table.parquet.another-host.{dead}.tmp"
    for path in (stale, alive, elsewhere):
        path.write_bytes(b"partial")
    _compare(problem, tmp_path)
    assert not stale.exists() and alive.exists() and elsewhere.exists()


def _a_dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_folder_holds_one_experiment(problem, tmp_path):
    _compare(problem, tmp_path, title="first")
    with pytest.raises(InvalidValue, match=r"out must be a new folder, this experiment's folder, or overwrite=True "
                                           r"\(--overwrite\).*holds another experiment \('first', created"):
        sl.compare(problem, RUNS, seeds=2, epochs=4, out=tmp_path, predict=False)
    assert json.loads((tmp_path / "experiment.json").read_text())["settings"]["seeds"] == [0, 1, 2]   # untouched
    taken = sl.compare(problem, RUNS, seeds=2, epochs=4, out=tmp_path, predict=False, overwrite=True)
    assert taken.reused == 6 and len(_run_files(tmp_path)) == 6
    assert pd.read_parquet(tmp_path / "table.parquet").seed.nunique() == 2


def test_the_report_refuses_a_cut_table_or_settings_file(problem, tmp_path):
    _compare(problem, tmp_path)
    table = tmp_path / "table.parquet"
    content = table.read_bytes()
    table.write_bytes(content[: len(content) // 3])
    with pytest.raises(InvalidValue, match=r"table\.parquet.*run the comparison again"):
        write_report(tmp_path)
    table.write_bytes(content)
    settings = tmp_path / "experiment.json"
    settings.write_text(settings.read_text()[:100])
    with pytest.raises(InvalidValue, match=r"folder must be a results folder with a readable experiment\.json"):
        write_report(tmp_path)
    with pytest.warns(UserWarning, match="does not read"):   # a rerun rewrites it; every run is reused
        assert _compare(problem, tmp_path).reused == 9
    assert write_report(tmp_path).is_file()


@contextlib.contextmanager
def _tmpfs(folder, size: str):
    """A small tmpfs mounted at ``folder`` (root only: skipped elsewhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_ends_cleanly_and_keeps_every_saved_run(problem, tmp_path):
    with _tmpfs(tmp_path / "disk", "256k") as disk:   # a run file takes 12 KiB of it (10 KiB in 4 KiB pages)
        out = disk / "out"
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (256 - 48) * 1024)
        with pytest.raises(ResultsFolderError, match=r"cannot write .*: no space left on device; the runs saved "
                                                     r"before it are intact"):
            _compare(problem, out)
        saved = _run_files(out)
        assert not list(out.rglob("*.tmp"))
        for path in saved:
            assert read_frame(path, path.stem) is not None
        filler.unlink()
        finished = _compare(problem, out)
        assert finished.reused == len(saved) and finished.recomputed == 0


def test_a_read_only_folder_is_a_clear_error(problem, tmp_path):
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        _compare(problem, disk / "out")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        for out in (disk / "out", disk / "new"):
            with pytest.raises(ResultsFolderError, match=f"cannot write the results folder {out}: read-only file "
                                                         "system; choose another folder"):
                _compare(problem, out)


def test_the_store_holds_its_lock_until_closed(tmp_path):
    with ResultStore(tmp_path, "a"), pytest.raises(ResultsFolderError, match="in use"):
        ResultStore(tmp_path, "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ResultStore(tmp_path, "a").close()


def test_a_diverged_run_is_saved_and_reused(problem, tmp_path):
    """Non-finite and huge values survive the round trip: the saved file of a diverged run verifies."""
    runs = {"SGD": dict(sampler=sl.with_replacement(1), step="5/L")}
    with pytest.warns(sl.StepSizeWarning):
        first = sl.compare(problem, runs, seeds=2, epochs=2, out=tmp_path, predict=False)
    assert set(first.table.status) == {"diverged"} and not np.isfinite(first.table.loss).all()
    again = sl.compare(problem, runs, seeds=2, epochs=2, out=tmp_path, predict=False)   # read back: no step check
    assert (again.reused, again.recomputed) == (2, 0)
