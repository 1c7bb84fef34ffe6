"""A finished command's receipt: the same command again, with nothing changed, answered from its results folder.

When ``sgdlab compare`` or ``sgdlab run`` finishes a comparison it writes receipt.json into the results folder:

* the command's key, a SHA-256 of everything its output depends on — the validated experiment description, the
  data (the bytes of its file, or of the files a bundled set is read from), sgdlab's own sources and the versions
  of Python and of the libraries the numbers come from (:data:`~sgdlab.experiments.folder_lock.VERSIONS`);
* the SHA-256 of every file the folder then holds (its runs, table, predictions, settings and report);
* what the command printed after its progress bar (the summary table, the early stops, how many runs).

The same command again computes the key before JAX is imported or a problem is built. When the key matches and the
folder holds exactly the files listed, each unchanged, the folder already holds everything the command would write
(every run would be reused and verified, the report kept as it is): it prints what it printed and stops, in about a
second. Anything else — another option, data file, source file or library version, a file added, removed or altered,
a folder another process holds, a description that cannot be keyed — and the command runs as usual (reusing each
saved run that verifies) and writes a new receipt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sgdlab
from sgdlab._helpers.files import atomic_write, file_sha256, sources_digest
from sgdlab.data import shipped
from sgdlab.experiments.folder_lock import LOCK, ResultsFolderError, library_versions, locked

RECEIPT = "receipt.json"


def command_key(experiment: dict, data_digest: str) -> str | None:
    """The key of a validated comparison's command: a SHA-256 of its description, its data's digest
    (:func:`data_digest`), sgdlab's sources and the library versions; None when the description holds a value JSON
    cannot write exactly (then the command is never answered from a receipt)."""
    document = {"experiment": experiment, "data": data_digest, "sources": sources_digest(Path(sgdlab.__file__).parent),
                "versions": library_versions()}
    try:
        text = json.dumps(document, sort_keys=True, allow_nan=True, default=_unkeyable)
    except TypeError:
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def data_digest(data: str) -> str:
    """What identifies the data named ``data``: a bundled set's name and the SHA-256 of the files it is read from,
    "synthetic" (its parameters are the description's), or a file's SHA-256."""
    if data in shipped.SETS:
        return data + ":" + ",".join(file_sha256(path) for path in shipped.files(data) if path.is_file())
    if data == "synthetic":
        return data
    return file_sha256(Path(data))


def answered(folder: Path, key: str | None) -> dict | None:
    """What the command keyed ``key`` printed, when ``folder`` holds its receipt and exactly the files it lists, each
    unchanged (checked with the folder held: no other process writes it meanwhile); else None."""
    receipt = _read(folder / RECEIPT)
    if key is None or receipt is None or receipt.get("key") != key:
        return None
    try:
        lock = locked(folder)
    except ResultsFolderError:
        return None
    with lock:
        return receipt.get("printed") if folder_files(folder) == receipt.get("files") else None


def write(folder: Path, key: str | None, printed: dict) -> None:
    """Write ``folder``'s receipt: the command's key, the SHA-256 of each of its files, what it printed (nothing
    written without a key, or while another process holds the folder)."""
    if key is None:
        return
    try:
        lock = locked(folder)
    except ResultsFolderError:
        return
    with lock:
        receipt = {"key": key, "files": folder_files(folder), "printed": printed}
        atomic_write(folder / RECEIPT, lambda path: path.write_text(json.dumps(receipt, indent=1) + "\n"))


def folder_files(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: SHA-256} of every file in it (its lock and its receipt aside)."""
    return {path.relative_to(folder).as_posix(): file_sha256(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name not in (LOCK, RECEIPT)}


def _read(path: Path) -> dict | None:
    try:
        receipt = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return receipt if isinstance(receipt, dict) else None


def _unkeyable(value: Any):
    raise TypeError(f"{type(value).__name__} has no exact JSON form")
