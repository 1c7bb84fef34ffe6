"""Checkpoints: a run's state saved every k epochs, atomically, and resumed exactly.

A checkpoint holds θ, the optimizer's state, the sampler's state (for plans that depend on the run, GraB's order),
the epoch and iteration reached, the gradients computed, the seconds run, F(θ⁰), the history rows so far, the
stopping verdict and an early-stopping rule's best row and θ there, together with the run's identity
(:func:`sgdlab.run.identity.run_identity`: the problem's fingerprint, θ⁰, the sampler, the step schedule, the
optimizer, the seed, record_every, tol, the sense, the engine). Resuming checks the identity, then continues from
the saved epoch. Plans are pure functions of (seed, epoch) or of the saved sampler state, step sizes of k, so the
final θ equals an uninterrupted run's bit for bit. The epoch budget may differ: a finished run can be extended.

The file is one .npz (read with allow_pickle=False): arrays ``params/i``, ``opt_state/i`` and ``sampler_state/i``
(the pytrees' leaves in order) and ``state``, a JSON document. It is written under a temporary name and
renamed, so a run killed while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab._helpers.pytrees import local_value
from sgdlab.engines.base import Carry
from sgdlab.run.history import RunLog, Verdict


@dataclasses.dataclass
class Saved:
    """What a checkpoint gives back to resume a run: where it stood after loop unit ``unit``, and its log."""

    carry: Carry
    unit: int
    elapsed: float
    loss0: float
    rows: list
    verdict: Verdict
    #: The early-stopping rule's best (value, epoch) and θ there, or None.
    best: tuple[float, float] | None = None
    best_params: Any = None


def save(path: Path, identity: dict, carry: Carry, unit: int, elapsed: float, log: RunLog) -> None:
    """Write the checkpoint of the run ``log`` keeps, after loop unit ``unit`` (atomically)."""
    arrays: dict[str, Any] = {f"params/{i}": np.asarray(local_value(leaf))
                              for i, leaf in enumerate(jax.tree.leaves(carry.params))}
    arrays |= {f"opt_state/{i}": np.asarray(local_value(leaf))
               for i, leaf in enumerate(jax.tree.leaves(carry.opt_state))}
    arrays |= {f"sampler_state/{i}": np.asarray(local_value(leaf))
               for i, leaf in enumerate(jax.tree.leaves(carry.sampler_state))}
    if log.best_params is not None:
        arrays |= {f"best_params/{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(log.best_params))}
    state = {"identity": identity, "epoch": unit, "iterations": carry.iteration, "gradients": int(carry.gradients),
             "elapsed": elapsed, "loss0": log.loss0, "rows": log.rows, "verdict": log.verdict, "best": log.best}
    arrays["state"] = np.array(json.dumps(state, default=float))

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write)


def load(path: Path, identity: dict, start: Carry) -> Saved:
    """Read the checkpoint at ``path`` for the run of ``identity`` whose carry at the start is ``start`` (the saved
    pytrees take its structure); a clear error when it is not a checkpoint, or is one of another run."""
    if not zipfile.is_zipfile(path):
        validation.fail("checkpoint", "a checkpoint written by sgdlab.minimize",
                        f"{path}, which is not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = json.loads(str(archive["state"]))
            params = _leaves(archive, "params", start.params)
            opt_state = _leaves(archive, "opt_state", start.opt_state)
            sampler_state = _leaves(archive, "sampler_state", start.sampler_state)
            best_params = _leaves(archive, "best_params", start.params) if "best_params/0" in archive.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        validation.fail("checkpoint", "a checkpoint written by sgdlab.minimize",
                        f"{path}, which cannot be read ({error})")
    _check_identity(path, state.get("identity", {}), identity)
    verdict = None if state["verdict"] is None else tuple(state["verdict"])
    carry = Carry(params, opt_state, state["iterations"], state.get("gradients", 0), sampler_state)
    best = None if state.get("best") is None else tuple(state["best"])
    return Saved(carry, state["epoch"], state["elapsed"], state["loss0"], state["rows"], verdict, best, best_params)


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
        validation.fail("checkpoint",
                        "a checkpoint of this run (same problem, params0, sampler, step, optimizer, seed, "
                        "record_every, tol and engine)", f"{path}, saved by a run with {named}")
