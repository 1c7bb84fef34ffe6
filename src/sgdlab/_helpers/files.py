"""Writing files so that a crash never leaves a partial one."""

from __future__ import annotations

import contextlib
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
