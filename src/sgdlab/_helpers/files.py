"""Writing files so that a crash never leaves a partial one."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Call ``write(temporary)`` then rename the temporary file to ``path`` (atomic on POSIX). The temporary
    name is the writer's own (host and process), so processes writing one file on a shared disk do not mix;
    a write that fails removes it."""
    temporary = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hexadecimal (read in blocks: a file larger than memory is fine)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def sources_digest(directory: Path) -> str:
    """The SHA-256 of the Python sources under ``directory`` (its subfolders included): each file's path relative to
    it and its bytes, in sorted order."""
    sources = sorted(directory.rglob("*.py"))
    return hashlib.sha256(b"".join(path.relative_to(directory).as_posix().encode() + path.read_bytes()
                                   for path in sources)).hexdigest()
