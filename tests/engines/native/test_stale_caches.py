"""The native loops' Numba caches are dropped when any source file of the package changes, and only when
the native engine is used."""

import subprocess
import sys

from sgdlab.engines.native.stale_caches import STAMP, clear_stale_caches


def test_caches_are_dropped_when_a_source_changes_and_kept_otherwise(tmp_path):
    (tmp_path / "loop.py").write_text("x = 1\n")
    (tmp_path / "helper.py").write_text("y = 2\n")
    caches = tmp_path / "__pycache__"
    caches.mkdir()
    (caches / "loop.epoch-10.py311.nbi").write_bytes(b"index")
    (caches / "loop.epoch-10.py311.1.nbc").write_bytes(b"code")
    (caches / "loop.cpython-311.pyc").write_bytes(b"bytecode")
    assert clear_stale_caches(tmp_path)   # no stamp yet: whatever is cached may be stale
    assert sorted(path.name for path in caches.iterdir()) == sorted(["loop.cpython-311.pyc", STAMP])

    (caches / "loop.epoch-10.py311.nbi").write_bytes(b"index")
    assert not clear_stale_caches(tmp_path)   # the same sources: kept
    assert (caches / "loop.epoch-10.py311.nbi").exists()

    (tmp_path / "helper.py").write_text("y = 3\n")   # a helper the loop inlines changed
    assert clear_stale_caches(tmp_path)
    assert not (caches / "loop.epoch-10.py311.nbi").exists()
    assert not clear_stale_caches(tmp_path)


def test_an_unwritable_directory_is_left_alone(tmp_path):
    (tmp_path / "loop.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").write_text("not a directory")   # nothing can be created under it
    assert not clear_stale_caches(tmp_path)


def test_a_change_in_a_subfolder_drops_the_caches_of_every_folder(tmp_path):
    (tmp_path / "loop.py").write_text("x = 1\n")
    helpers = tmp_path / "_llvm"
    helpers.mkdir()
    (helpers / "tiles.py").write_text("t = 1\n")
    for folder in (tmp_path, helpers):
        (folder / "__pycache__").mkdir()
    clear_stale_caches(tmp_path)
    cached = [folder / "__pycache__" / "f-1.py311.nbi" for folder in (tmp_path, helpers)]
    for path in cached:
        path.write_bytes(b"index")
    assert not clear_stale_caches(tmp_path)
    (helpers / "tiles.py").write_text("t = 2\n")   # a helper in the subfolder changed
    assert clear_stale_caches(tmp_path)
    assert not any(path.exists() for path in cached)


def test_a_jax_only_run_neither_loads_the_native_loops_nor_touches_their_caches():
    code = ("import sys, numpy as np, sgdlab as sl; "
            "sl.minimize(sl.least_squares(np.eye(3), np.ones(3)), sl.cyclic(1), step=0.1, epochs=1, engine='jax'); "
            "print(sorted(m for m in sys.modules if m.startswith('sgdlab.engines.native.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['sgdlab.engines.native.work']"   # the engine choice's step size, no Numba loop
