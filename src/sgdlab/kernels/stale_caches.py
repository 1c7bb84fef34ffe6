"""Dropping Numba's cached kernels when any source file of the native loops changed.

Numba keeps each ``cache=True`` function's machine code beside its source (``__pycache__/*.nbi``,
``*.nbc``) and keys it on the time stamp of that function's own file. The loops here inline helpers
from the other files of this package (network_sgd the products and the exponential, parted the
linear loop's row helpers): after one of those changes, a cached loop would keep running the old
helper. (Measured while writing the tiles: an epoch at B = 8 kept the old dot products, 6× slower.)
So the first import of :mod:`sgdlab.kernels` hashes the package's sources and, when the hash differs
from the one stamped beside the caches, deletes them all; they are compiled again on first use. An
installed release is unaffected (installing rewrites every file); an editable checkout is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: The stamp of the sources the cached kernels were compiled from, beside them.
STAMP = "sources.sha256"


def clear_stale_caches(directory: Path) -> bool:
    """Delete the Numba caches in ``directory``/__pycache__ unless its stamp matches the SHA-256 of the
    directory's ``*.py`` files; stamp them. Returns whether caches were cleared. A directory that cannot
    be read or written (a read-only install) is left as it is."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(directory.glob("*.py")))).hexdigest()
    caches = directory / "__pycache__"
    stamp = caches / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        for cached in (*caches.glob("*.nbi"), *caches.glob("*.nbc")):
            cached.unlink(missing_ok=True)
        caches.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True
