"""A results folder held by one process at a time, and the versions its numbers depend on: what a results folder's
reader checks before anything heavy is imported (no JAX, no pandas)."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import os
import platform
import socket
from pathlib import Path

LOCK = ".sgdlab.lock"
#: The libraries whose versions a results folder records (and a command's receipt is keyed on).
VERSIONS = ("sgdlab", "jax", "jaxlib", "numpy", "scipy", "pandas", "pyarrow", "numba", "optax", "scikit-learn")


class ResultsFolderError(OSError):
    """A results folder cannot be used: in use by another process, or a write failed (the message
    names the folder or file and says what to do)."""


def locked(folder: Path):
    """``folder`` created and its lock file held by this process (an open file: closing it releases the lock), or
    ResultsFolderError naming the process that holds it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / LOCK, "a+")   # noqa: SIM115 (held until closed)
    except OSError as error:
        raise ResultsFolderError(f"cannot write the results folder {folder}: {reason(error)}; "
                                 "choose another folder (--out)") from error
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        lock.seek(0)
        owner = lock.read().strip() or "another process"
        lock.close()
        raise ResultsFolderError(f"the results folder {folder} is in use by {owner}; wait for it to "
                                 "finish or choose another folder (--out)") from error
    lock.seek(0)
    lock.truncate()
    lock.write(f"sgdlab process {os.getpid()} on {socket.gethostname()}\n")
    lock.flush()
    return lock


def library_versions() -> dict[str, str]:
    """{name: version} of Python and of each installed library of :data:`VERSIONS`."""
    versions = {"python": platform.python_version()}
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def reason(error: OSError) -> str:
    """An OSError's reason in words ('no space left on device', 'read-only file system', …)."""
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    return str(error)
