"""A results folder: one experiment's saved runs (runs/<key>.parquet), its table and its settings.

Trust after faults:

- every file is written to a temporary name of its own (host and process) and renamed, so a killed
  run leaves no partial file, and a failed write removes its temporary file;
- each run file carries the key of the run it belongs to (:func:`sgdlab.run.identity.run_key`, a hash
  of everything that determines its history) and a SHA-256 of its content, in the Parquet metadata: a
  file that is cut, flipped, emptied or another run's is never trusted, but recomputed;
- one process writes a folder at a time (an ``flock`` on .sgdlab.lock, released when the process ends,
  however it ends); a second is refused with a message;
- the folder belongs to one experiment: experiment.json records its fingerprint (the keys of all its
  runs) from the start, and a different experiment is refused unless asked to overwrite it;
- a write that fails (disk full, read-only) ends with :class:`ResultsFolderError` naming the file;
  the runs saved before it stay intact.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import jax
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab.experiments.folder_lock import ResultsFolderError, library_versions, locked, reason
from sgdlab.experiments.receipt import RECEIPT

EXPERIMENT = "experiment.json"
#: What marks the folder of a study of several problems (:mod:`sgdlab.experiments.study_folder`).
STUDY = "study.json"
#: The files that describe a whole experiment (removed when another experiment takes the folder over).
EXPERIMENT_FILES = ("table.parquet", "predictions.parquet", "report.html", EXPERIMENT, RECEIPT)
KEY_FIELD, DIGEST_FIELD = b"sgdlab.run_key", b"sgdlab.sha256"


class LockedFolder:
    """A results folder held by this process (a context manager): created and locked when opened (:func:`locked`),
    released by :meth:`close`; its files written whole or not at all."""

    def __init__(self, folder: Any):
        self.folder = Path(folder)
        self._lock = self._locked()

    def _locked(self):
        return locked(self.folder)

    @contextlib.contextmanager
    def released_on_error(self) -> Iterator[None]:
        """Release the folder when the block raises (an opening that failed holds nothing)."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the folder to other processes."""
        if not self._lock.closed:
            self._lock.close()

    def _write(self, path: Path, write: Callable[[Path], Any]) -> None:
        try:
            atomic_write(path, write)
        except OSError as error:
            raise ResultsFolderError(f"cannot write {path}: {reason(error)}; the runs saved before it are intact "
                                     "(make room, or choose another folder, and run again to finish)") from error


class ResultStore(LockedFolder):
    """An open results folder (a context manager: ``with ResultStore(...) as store``).

    Parameters
    ----------
    folder : path
        The results folder (created when missing).
    fingerprint : str
        The experiment's identity (:func:`experiment_fingerprint`); a folder holding another one is
        refused unless ``overwrite``.
    overwrite : bool
        Take over a folder that holds another experiment: its table, predictions, settings and report
        are removed at once, its runs when this experiment finishes.
    about : dict
        Recorded in experiment.json from the start (title, settings, data source).
    """

    def __init__(self, folder: Any, fingerprint: str, overwrite: bool = False, about: dict | None = None):
        self.runs = Path(folder) / "runs"
        self.fingerprint = fingerprint
        self.rejected = 0
        super().__init__(folder)
        with self.released_on_error():
            self._remove_stale_temporaries()
            self._claim(overwrite, about or {})

    def load(self, key: str, name: str) -> dict | None:
        """A saved run's history as columns (name → array) named ``name``, or None when there is no file
        or it does not verify (then counted in ``rejected``)."""
        path = self.runs / f"{key}.parquet"
        if not path.is_file():
            return None
        frame = read_frame(path, key)
        if frame is None:
            self.rejected += 1
            return None
        frame["run"] = name
        return {column: frame[column].to_numpy() for column in frame.columns}

    def save(self, key: str, frame: pd.DataFrame) -> None:
        """Save a run's history with its key and the SHA-256 of its content."""
        self._write(self.runs / f"{key}.parquet", lambda path: write_frame(path, frame, key))

    def finish(self, table: pd.DataFrame, predictions: pd.DataFrame, document: dict, keys: set[str]) -> None:
        """Write table.parquet and predictions.parquet (each with the experiment's fingerprint and its
        digest) and the finished experiment.json, and remove the run files of no run of this experiment
        (a previous experiment's, when overwritten)."""
        self._write(self.folder / "table.parquet", lambda path: write_frame(path, table, self.fingerprint))
        self._write(self.folder / "predictions.parquet",
                    lambda path: write_frame(path, predictions, self.fingerprint))
        self._write_experiment({**document, "finished": True})
        for path in self.runs.glob("*.parquet"):
            if path.stem not in keys:
                path.unlink(missing_ok=True)

    def _locked(self):
        """The folder (and its runs/) created and locked for this process, or ResultsFolderError."""
        lock = super()._locked()
        try:
            self.runs.mkdir(exist_ok=True)
        except OSError as error:
            lock.close()
            raise ResultsFolderError(f"cannot write the results folder {self.folder}: {reason(error)}; "
                                     "choose another folder (--out)") from error
        return lock

    def _remove_stale_temporaries(self) -> None:
        """Remove the temporary files this host's processes left when killed (the lock is held, so no
        process is writing here now)."""
        host = socket.gethostname()
        for path in [*self.folder.glob(".*.tmp"), *self.runs.glob(".*.tmp")]:
            *_, writer_host, pid, _ = path.name.rsplit(".", 3)
            if writer_host == host and pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)

    def _claim(self, overwrite: bool, about: dict) -> None:
        """Refuse a folder of another experiment (or of a study) unless ``overwrite``; then record this one's
        fingerprint."""
        if (self.folder / STUDY).is_file():
            if not overwrite:
                validation.fail("out", "a new folder, this experiment's folder, or overwrite=True (--overwrite)",
                                f"{self.folder}, which holds a study of several problems")
            for name in (STUDY, *EXPERIMENT_FILES):
                (self.folder / name).unlink(missing_ok=True)
        saved = read_experiment(self.folder, strict=False) or {}
        previous = saved.get("fingerprint")
        if previous is not None and previous != self.fingerprint:
            if not overwrite:
                title = saved.get("settings", {}).get("title") or "untitled"
                validation.fail("out", "a new folder, this experiment's folder, or overwrite=True (--overwrite)",
                                f"{self.folder}, which holds another experiment ({title!r}, created "
                                f"{saved.get('created', '?')})")
            for name in EXPERIMENT_FILES:
                (self.folder / name).unlink(missing_ok=True)
        self._write_experiment({**about, "finished": False})

    def _write_experiment(self, document: dict) -> None:
        document = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), **document,
                    "fingerprint": self.fingerprint, "environment": environment()}
        self._write(self.folder / EXPERIMENT,
                    lambda path: path.write_text(json.dumps(document, indent=2, default=_plain) + "\n"))



def experiment_fingerprint(runs: dict[tuple[str, int], str]) -> str:
    """The identity of an experiment: a hash of every (run name, seed, run key)."""
    lines = sorted(f"{name}\t{seed}\t{key}" for (name, seed), key in runs.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def content_digest(frame: pd.DataFrame) -> bytes:
    """SHA-256 (hex) of a history's columns: names, dtypes and values (text joined by a unit separator;
    every NaN as NumPy's: Parquet stores a float NaN as missing, which reads back as that one)."""
    digest = hashlib.sha256()
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values)
        digest.update(f"\x1e{name}\x1f".encode())
        if values.dtype.kind in "biufc":
            digest.update(f"{values.dtype.str}\x1f".encode() + np.ascontiguousarray(values).tobytes())
        else:
            digest.update("\x1f".join(map(str, values)).encode())
    return digest.hexdigest().encode()


def write_frame(path: Path, frame: pd.DataFrame, key: str) -> None:
    """Write ``frame`` as Parquet with ``key`` (whose it is) and the SHA-256 of its content in its metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), KEY_FIELD: key.encode(), DIGEST_FIELD: content_digest(frame)}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def read_frame(path: Path, key: str) -> pd.DataFrame | None:
    """The frame :func:`write_frame` wrote at ``path`` for ``key``: None when the file does not read,
    is another key's, or its content does not match its digest."""
    try:
        table = pq.read_table(path)
        metadata = table.schema.metadata or {}
        if metadata.get(KEY_FIELD) != key.encode():
            return None
        frame = table.to_pandas()
    except Exception:   # a damaged file fails in many ways; any of them means "not verified"
        return None
    return frame if metadata.get(DIGEST_FIELD) == content_digest(frame) else None


def read_experiment(folder: Path, strict: bool = True) -> dict | None:
    """folder/experiment.json as a dict (None when absent). A file that does not parse is an error
    naming it when ``strict``, else a warning and None."""
    path = Path(folder) / EXPERIMENT
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        if strict:
            validation.fail("folder", f"a results folder with a readable {EXPERIMENT}", f"{path}: {error}")
        warnings.warn(f"{path} does not read ({error}); it is replaced", stacklevel=3)
        return None
    return document


def read_comparison(folder: Path) -> tuple[pd.DataFrame, dict, pd.DataFrame | None]:
    """A finished comparison's (table, experiment record, predictions or None) from its folder, each file verified
    against the experiment's fingerprint and its digest (a folder of an sgdlab before they were recorded: read as
    it is), or an error naming the folder and the file."""
    folder = Path(folder)
    experiment = read_experiment(folder)
    if experiment is None or not (folder / "table.parquet").is_file():
        lacking = "experiment.json" if experiment is None else "table.parquet"
        validation.fail("folder", "a results folder written by compare(out=...), study(out=...), sgdlab compare "
                        "or sgdlab run", f"{folder} without {lacking}")
    if experiment.get("finished") is False:
        validation.fail("folder", "the folder of a finished comparison",
                        f"{folder}, whose comparison has not finished (run it again: its saved runs are reused)")
    predicted = folder / "predictions.parquet"
    return (_verified_frame(folder / "table.parquet", experiment), experiment,
            _verified_frame(predicted, experiment) if predicted.is_file() else None)


def _verified_frame(path: Path, experiment: dict) -> pd.DataFrame:
    """A table of a comparison's folder, verified (see :func:`read_comparison`), or an error naming the file."""
    fingerprint = experiment.get("fingerprint")
    try:
        frame = pd.read_parquet(path) if fingerprint is None else read_frame(path, fingerprint)
    except (OSError, ValueError) as error:
        frame, why = None, str(error)
    else:
        why = "it does not verify (cut, altered or another experiment's)"
    if frame is None:
        validation.fail("folder", f"a results folder whose {path.name} reads",
                        f"{path}: {why}; run the comparison again to rebuild it (its saved runs are reused)")
    return frame


def environment() -> dict:
    """Versions (Python and the libraries a run depends on), the device and the machine."""
    device = jax.devices()[0]
    return {"versions": library_versions(),
            "device": f"{device.platform}: {device.device_kind} ({jax.device_count()} device(s))",
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"}


def _plain(value):
    """JSON for NumPy numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def _alive(pid: int) -> bool:
    """Whether a process of this host has ``pid``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
