"""A study's results folder: the same runs on several problems, each problem's comparison in a folder of its own.

Layout of DIR::

    study.json           the study: its title and settings, its problems in order with each one's experiment
                         fingerprint, and whether it finished
    problems/<name>/     each problem's comparison (:mod:`sgdlab.experiments.store`: its runs, table, report)
    table.parquet        every problem's table stacked under a first column ``problem``, with the study's
                         fingerprint and the SHA-256 of its content
    report.html          the study's report (:mod:`sgdlab.experiments.study_page`)

Trust after faults is the comparisons' own: each finished run group is saved in its problem's folder at once,
and a study run again reuses every run that verifies. One process writes the folder at a time (the lock of a
comparison's folder). A folder that holds a comparison is refused unless asked to overwrite it (its table,
predictions, record, report and runs are then removed). A study may take over the folder of another study: the
problems they share keep their own guard (a problem's folder holding another experiment is refused unless
``overwrite``), and a problem the new study leaves out keeps its folder.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from sgdlab._helpers import validation
from sgdlab.experiments.store import (
    EXPERIMENT,
    EXPERIMENT_FILES,
    STUDY,
    LockedFolder,
    environment,
    read_comparison,
    write_frame,
)

#: The subfolder holding each problem's comparison.
PROBLEMS = "problems"


def problem_folder(folder: Any, name: str) -> Path:
    """Where a study in ``folder`` keeps the comparison of its problem ``name``."""
    return Path(folder) / PROBLEMS / name


def study_fingerprint(fingerprints: dict[str, str]) -> str:
    """The identity of a study: a hash of its problems' names, in order, and their experiments' fingerprints."""
    return hashlib.sha256("\n".join(f"{name}\t{key}" for name, key in fingerprints.items()).encode()).hexdigest()


class StudyFolder(LockedFolder):
    """An open study folder (a context manager): locked for this process and claimed for a study.

    Parameters
    ----------
    folder : path
        The study's folder (created when missing).
    overwrite : bool
        Take over a folder that holds a comparison.
    about : dict
        Recorded in study.json from the start (title, settings, the problems' names).
    """

    def __init__(self, folder: Any, overwrite: bool, about: dict):
        super().__init__(folder)
        self.about = about
        with self.released_on_error():
            self._claim(overwrite)
            self._write_record({**about, "finished": False})

    def finish(self, table: pd.DataFrame, fingerprints: dict[str, str]) -> None:
        """Write the stacked table (with the study's fingerprint) and the finished study.json, which names each
        problem's experiment fingerprint."""
        fingerprint = study_fingerprint(fingerprints)
        self._write(self.folder / "table.parquet", lambda path: write_frame(path, table, fingerprint))
        self._write_record({**self.about, "problems": fingerprints, "fingerprint": fingerprint, "finished": True})

    def _claim(self, overwrite: bool) -> None:
        """Refuse a comparison's folder unless ``overwrite`` (then clear it)."""
        if not (self.folder / EXPERIMENT).is_file():
            return
        if not overwrite:
            validation.fail("out", "a new folder, a study's folder, or overwrite=True (--overwrite)",
                            f"{self.folder}, which holds a comparison of one problem")
        for name in EXPERIMENT_FILES:
            (self.folder / name).unlink(missing_ok=True)
        shutil.rmtree(self.folder / "runs", ignore_errors=True)

    def _write_record(self, document: dict) -> None:
        document = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), **document,
                    "environment": environment()}
        self._write(self.folder / STUDY, lambda path: path.write_text(json.dumps(document, indent=2) + "\n"))


def is_study(folder: Any) -> bool:
    """Whether ``folder`` holds a study (its study.json)."""
    return (Path(folder) / STUDY).is_file()


def read_study(folder: Any) -> tuple[dict, dict[str, tuple[pd.DataFrame, dict, pd.DataFrame | None]]]:
    """A finished study's record and each problem's (table, experiment record, predictions), in the study's order,
    every file verified: each problem's against its own record, and each record's fingerprint against the one the
    study names (a problem folder since taken over by another experiment is not this study's)."""
    folder = Path(folder)
    try:
        record = json.loads((folder / STUDY).read_text(encoding="utf-8"))
        problems = record["problems"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        validation.fail("folder", f"a study folder with a readable {STUDY}", f"{folder / STUDY}: {error}")
    if record.get("finished") is not True or not isinstance(problems, dict):
        validation.fail("folder", "the folder of a finished study",
                        f"{folder}, whose study has not finished (run it again: its saved runs are reused)")
    comparisons = {}
    for name, fingerprint in problems.items():
        table, experiment, predicted = read_comparison(problem_folder(folder, name))
        if experiment.get("fingerprint") != fingerprint:
            validation.fail("folder", "a study whose problem folders hold its own comparisons",
                            f"{problem_folder(folder, name)}, which holds another experiment now; run the study "
                            "again to rebuild it")
        comparisons[name] = (table, experiment, predicted)
    return record, comparisons

