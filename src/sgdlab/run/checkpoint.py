"""Checkpoints: a run's state saved every k epochs, atomically, and resumed exactly.

A checkpoint holds θ, the optimizer's state, the epoch and iteration reached, the seconds run,
F(θ⁰), the history rows so far and the stopping verdict, together with the run's identity: a
fingerprint of the problem (its data and loss), θ's shapes and dtypes, the sampler, the step
schedule, the optimizer, the seed, record_every, tol, the sense (minimize or maximize) and the
engine. Resuming checks the identity, then continues from the saved epoch. Plans and step sizes
are pure functions of (seed, epoch) and k, so the final θ equals an uninterrupted run's bit for
bit. The epoch budget may differ: a finished run can be extended.

The file is one .npz (read with allow_pickle=False): arrays ``params/i`` and ``opt_state/i`` (the
pytrees' leaves in order) and ``state``, a JSON document. It is written under a temporary name and
renamed, so a run killed while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import jax
import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab._helpers.pytrees import local_value
from sgdlab.run.identity import array_digest, function_digest, problem_fingerprint

#: The version of the file layout; a checkpoint of another version is refused.
FORMAT = 1


@dataclasses.dataclass
class Saved:
    """What a checkpoint gives back to resume a run."""

    params: object
    opt_state: object
    epoch: int
    iterations: int
    elapsed: float
    loss0: float
    rows: list
    verdict: tuple | None


def identity(settings) -> dict:
    """What must be the same for a checkpoint to continue a run (the epoch budget may differ)."""
    schedule = settings.schedule
    return {
        "format": FORMAT,
        "problem": problem_fingerprint(settings.problem),
        "params": [[list(np.shape(leaf)), str(np.asarray(leaf).dtype)] for leaf in jax.tree.leaves(settings.params0)],
        "start": array_digest(settings.params0),
        "sampler": repr(settings.sampler),
        "schedule": None if schedule is None else {
            "kind": type(schedule).__name__, "static": repr(jax.tree.structure(schedule)),
            "values": [float(np.asarray(leaf)) for leaf in jax.tree.leaves(schedule)]},
        "optimizer": None if settings.optimizer is None else function_digest(settings.optimizer.update),
        "seed": settings.seed, "record_every": settings.record_every, "tol": settings.tol,
        "sense": settings.sense.symbol, "engine": settings.engine, "chunk": settings.chunk,
        "devices": None if settings.placement is None else settings.placement.size,
    }


def save(path: Path, run_identity: dict, params, opt_state, epoch: int, iterations: int, elapsed: float,
         loss0: float, rows: list, verdict) -> None:
    """Write the checkpoint (atomically)."""
    arrays = {f"params/{i}": np.asarray(local_value(leaf)) for i, leaf in enumerate(jax.tree.leaves(params))}
    arrays |= {f"opt_state/{i}": np.asarray(local_value(leaf)) for i, leaf in enumerate(jax.tree.leaves(opt_state))}
    state = {"identity": run_identity, "epoch": epoch, "iterations": iterations, "elapsed": elapsed,
             "loss0": loss0, "rows": rows, "verdict": verdict}
    arrays["state"] = np.array(json.dumps(state, default=float))

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write)


def load(path: Path, run_identity: dict, params0, opt_state0) -> Saved:
    """Read the checkpoint at ``path`` for the run of ``run_identity``; a clear error when it is not a
    checkpoint, or is one of another run."""
    if not zipfile.is_zipfile(path):
        validation.fail("checkpoint", "a checkpoint written by sgdlab.minimize", f"{path}, which is not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = json.loads(str(archive["state"]))
            params = _leaves(archive, "params", params0)
            opt_state = _leaves(archive, "opt_state", opt_state0)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        validation.fail("checkpoint", "a checkpoint written by sgdlab.minimize", f"{path}, which cannot be read ({error})")
    _check_identity(path, state.get("identity", {}), run_identity)
    verdict = None if state["verdict"] is None else tuple(state["verdict"])
    return Saved(params, opt_state, state["epoch"], state["iterations"], state["elapsed"], state["loss0"],
                 state["rows"], verdict)


def _leaves(archive, prefix: str, like):
    """The pytree shaped like ``like`` from the arrays prefix/0, prefix/1, … of the archive."""
    leaves, treedef = jax.tree.flatten(like)
    saved = [archive[f"{prefix}/{i}"] for i in range(len(leaves))]
    if f"{prefix}/{len(leaves)}" in archive.files:
        raise ValueError(f"more {prefix} arrays than this run has")
    return jax.tree.unflatten(treedef, saved)


def _check_identity(path: Path, saved: dict, expected: dict) -> None:
    differences = [key for key in expected if saved.get(key) != expected[key]]
    if differences:
        what = {"problem": "another problem (data or loss)", "params": "parameters of other shapes or dtypes",
                "start": "another starting point params0"}
        named = ", ".join(what.get(key, f"another {key}") for key in differences)
        validation.fail("checkpoint", "a checkpoint of this run (same problem, params0, sampler, step, optimizer, seed, "
                     "record_every, tol and engine)", f"{path}, saved by a run with {named}")
