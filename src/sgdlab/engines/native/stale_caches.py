"""Dropping Numba's cached kernels when any source file of the native loops changed.

Numba keeps each ``cache=True`` function's machine code beside its source (``__pycache__/*.nbi``,
``*.nbc``) and keys it on the time stamp of that function's own file. The loops inline helpers
from other files of this package (the network loop the products and the exponential, the parted
loop the linear loop's row helpers): after one of those changes, a cached loop would keep running
the old helper. So before the native engine's first use, :func:`clear_stale_caches` hashes the
package's sources (its subfolders included) and, when the hash differs from the one stamped beside
the caches, deletes them all; they are compiled again on first use. An installed release is
unaffected (installing rewrites every file); an editable checkout is.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sgdlab._helpers.files import sources_digest

#: The stamp of the sources the cached kernels were compiled from, beside them.
STAMP = "sources.sha256"


def clear_stale_caches(directory: Path) -> bool:
    """Delete the Numba caches in every ``__pycache__`` under ``directory`` unless the stamp in
    ``directory``/__pycache__ matches the SHA-256 of the ``*.py`` files under it; stamp them. Returns
    whether caches were cleared. A directory that cannot be read or written (a read-only install) is
    left as it is."""
    sources = sorted(directory.rglob("*.py"))
    digest = sources_digest(directory)
    caches = directory / "__pycache__"
    stamp = caches / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        for folder in [caches, *(path.parent / "__pycache__" for path in sources if path.parent != directory)]:
            for cached in (*folder.glob("*.nbi"), *folder.glob("*.nbc")):
                cached.unlink(missing_ok=True)
        caches.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True


@functools.cache
def clear_this_package_once() -> bool:
    """:func:`clear_stale_caches` for the native loops' own folder, once a process (before the first loop
    is compiled)."""
    return clear_stale_caches(Path(__file__).parent)
