"""Whether a results folder's saved report was rendered from the folder as it is now.

A report names on its first line the SHA-256 of what it was rendered from (a study's report: of its record and
of each of its problems' inputs): the table and predictions files
(byte for byte), the experiment record without its creation time (a rerun that reuses every run rewrites
only that), and the source of the modules that draw the page, so an sgdlab that renders differently
renders again. ``write_report`` keeps a saved report whose first line names the digest of the folder's
present contents and which is whole (ends with ``</html>``): the figures of an unchanged comparison are
drawn once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sgdlab.experiments.study_folder import problem_folder

#: The first line of a report: this, the digest, " -->".
PREFIX = "<!-- sgdlab report of "
#: The modules whose code decides what a report shows.
RENDERING_MODULES = ("report.py", "page.py", "comparison_page.py", "study_page.py", "plots.py", "summary.py",
                     "predictions.py", "rendered.py")


def inputs_digest(folder: Path, experiment: dict) -> str:
    """The SHA-256 (hex) of what the report of ``folder`` shows (see the module docstring)."""
    digest = hashlib.sha256()
    for name in ("table.parquet", "predictions.parquet"):
        path = folder / name
        digest.update(path.read_bytes() if path.is_file() else b"absent")
    record = {key: value for key, value in experiment.items() if key != "created"}
    digest.update(json.dumps(record, sort_keys=True, default=str).encode())
    here = Path(__file__).parent
    for module in RENDERING_MODULES:
        digest.update((here / module).read_bytes())
    return digest.hexdigest()


def study_digest(folder: Path, record: dict, experiments: dict[str, dict]) -> str:
    """The SHA-256 (hex) of what the report of the study in ``folder`` shows: its record without its creation time
    and each problem's inputs (:func:`inputs_digest` of folder/problems/<name> and its ``experiments`` record)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({key: value for key, value in record.items() if key != "created"}, sort_keys=True,
                             default=str).encode())
    for name, experiment in experiments.items():
        digest.update(f"{name}\t{inputs_digest(problem_folder(folder, name), experiment)}".encode())
    return digest.hexdigest()


def first_line(digest: str) -> str:
    """The line that opens a report rendered from inputs of this digest."""
    return f"{PREFIX}{digest} -->\n"


def rendered_from(report: Path) -> str | None:
    """The digest a whole saved report names, or None (no report, one of an older sgdlab, or one cut short)."""
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    line, _, page = text.partition("\n")
    if not (line.startswith(PREFIX) and line.endswith(" -->") and page.rstrip().endswith("</html>")):
        return None
    return line[len(PREFIX):-len(" -->")]
