"""Writing files so that a crash never leaves a partial one."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Call ``write(temporary)`` then rename the temporary file to ``path`` (atomic on POSIX)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(temporary)
    os.replace(temporary, path)
