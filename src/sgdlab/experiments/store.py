"""A results folder: saved runs (runs/<key>.parquet), the comparison's table and its settings.

Every file is written to a temporary name and renamed, so a killed run leaves no partial file; a
run's key (:func:`sgdlab.run.identity.run_key`) is a hash of everything that determines its history.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import jax
import pandas as pd

from sgdlab._helpers.files import atomic_write


class ResultStore:
    """A folder of saved runs (runs/<key>.parquet) and the comparison's table and settings, every
    file written to a temporary name and renamed, so a killed run leaves no partial file."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        for stale in [*self.folder.glob(".*.tmp"), *self.runs.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)

    def has(self, key: str) -> bool:
        return (self.runs / f"{key}.parquet").is_file()

    def save(self, key: str, frame: pd.DataFrame) -> None:
        atomic_write(self.runs / f"{key}.parquet", lambda path: frame.to_parquet(path, index=False))

    def load(self, key: str, name: str) -> dict:
        """A saved run's history as columns (name → array), named ``name``."""
        frame = pd.read_parquet(self.runs / f"{key}.parquet")
        frame["run"] = name
        return {column: frame[column].to_numpy() for column in frame.columns}

    def finish(self, table: pd.DataFrame, problem: dict, runs: dict, settings: dict, predictions: pd.DataFrame) -> None:
        """Write table.parquet, predictions.parquet (the theory's curves) and experiment.json (the problem's
        constants, the runs' settings and the comparison's, versions and device) for the whole comparison."""
        atomic_write(self.folder / "table.parquet", lambda path: table.to_parquet(path, index=False))
        atomic_write(self.folder / "predictions.parquet", lambda path: predictions.to_parquet(path, index=False))
        document = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "problem": problem, "runs": runs, "settings": settings, "environment": environment()}
        atomic_write(self.folder / "experiment.json",
                     lambda path: path.write_text(json.dumps(document, indent=2, default=_plain) + "\n"))


def _plain(value):
    """JSON for NumPy numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def environment() -> dict:
    """Versions and the device, for the report."""
    import importlib.metadata

    versions = {name: importlib.metadata.version(name) for name in ("sgdlab", "jax", "jaxlib", "numpy", "pandas")}
    device = jax.devices()[0]
    return {"versions": {"python": platform.python_version(), **versions},
            "device": f"{device.platform}: {device.device_kind} ({jax.device_count()} device(s))",
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"}
