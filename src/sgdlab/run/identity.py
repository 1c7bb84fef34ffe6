"""A run's identity: what determines its trajectory, so saved runs and checkpoints can tell whether
they belong to the run at hand.

:func:`run_identity` lists it (a JSON-ready dict): fingerprints of the problem (its data, loss and
constraint) and of θ⁰, the sampler, the step schedule, the optimizer, the seed, record_every, tol,
the sense (minimize or maximize), the engine, the loop unit and the devices. The epoch budget is not
part of it, so a checkpointed run can be extended; :func:`run_key` adds the budget and hashes it all,
naming a saved history (a comparison's runs/<key>.parquet).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from sgdlab._helpers.declared import qualified_name
from sgdlab.data.ondisk import is_on_disk

if TYPE_CHECKING:
    from sgdlab.run.options import RunOptions

#: The version of the identity's layout; saved runs and checkpoints of another version do not match.
FORMAT = 2


def run_identity(options: RunOptions) -> dict[str, Any]:
    """What must be the same for a saved state to continue a run (the epoch budget may differ)."""
    schedule = options.schedule
    return {
        "format": FORMAT,
        "problem": problem_fingerprint(options.problem),
        "params": [[list(np.shape(leaf)), str(np.asarray(leaf).dtype)] for leaf in jax.tree.leaves(options.params0)],
        "start": array_digest(options.params0),
        "sampler": [qualified_name(options.sampler), repr(options.sampler)],
        "schedule": None if schedule is None else {
            "kind": qualified_name(schedule), "static": repr(jax.tree.structure(schedule)),
            "values": [float(np.asarray(leaf)) for leaf in jax.tree.leaves(schedule)]},
        "optimizer": None if options.optimizer is None else function_digest(options.optimizer.update),
        **({} if options.method.is_plain else {"method": [qualified_name(options.method), repr(options.method)]}),
        **({} if options.average is None else {"average": [qualified_name(options.average), repr(options.average)]}),
        **({} if options.stop is None else {"stop": options.stop.describe()}),
        **({} if options.curvature_every is None else {"curvature_every": options.curvature_every}),
        **({} if not options.heldout else {"heldout": {name: problem_fingerprint(problem)
                                                       for name, problem in options.heldout}}),
        "seed": options.seed, "record_every": options.record_every, "tol": options.tol,
        "sense": options.sense.symbol, "engine": options.engine, "chunk": options.budget.chunk,
        **({"cuts": list(options.budget.cuts)} if options.budget.cuts else {}),
        "devices": None if options.placement is None else options.placement.size,
    }


def run_key(options: RunOptions) -> str:
    """A hash of the run's identity and its budget: the name of its saved history."""
    budget = options.budget
    document = {"identity": run_identity(options), "units": budget.units}
    if budget.epoch_steps is not None and budget.iterations % budget.epoch_steps:   # a budget in steps
        document["iterations"] = budget.iterations
    return hashlib.blake2b(json.dumps(document, sort_keys=True).encode(), digest_size=16).hexdigest()


def problem_fingerprint(problem) -> str:
    """A hash of what defines the problem: its class, data, parameters' shapes, ℓ2 weight, constraint,
    and its defining functions (code and the numbers they close over). Kept in the problem's memo (its
    arrays cannot change), except for data on disk, whose files are hashed every time."""
    if getattr(problem, "on_disk", False):
        return _fingerprint(problem)
    memo = problem.memo
    if "fingerprint" not in memo:
        memo["fingerprint"] = _fingerprint(problem)
    return memo["fingerprint"]


def _fingerprint(problem) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(qualified_name(problem).encode())
    for leaf in jax.tree.leaves((problem.data, problem.params0)):
        _hash_array(digest, leaf)
    for name, value in sorted(problem.hyperparameters().items()):
        digest.update(name.encode())
        _hash_value(digest, value)
    if problem.constraint is not None:
        digest.update(repr(problem.constraint).encode())
        for leaf in jax.tree.leaves(problem.constraint):
            digest.update(np.asarray(leaf).tobytes())
    for function in problem.defining_functions():
        _hash_function(digest, function)
    return digest.hexdigest()


def _hash_value(digest, value) -> None:
    """Hash a hyperparameter: arrays (dense or sparse) by their numbers, functions by their code, containers
    item by item, anything else by its repr."""
    if callable(value) and hasattr(value, "__code__"):
        _hash_function(digest, value)
    elif isinstance(value, list | tuple):
        digest.update(f"{type(value).__name__}{len(value)}".encode())
        for item in value:
            _hash_value(digest, item)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _hash_value(digest, value[key])
    elif hasattr(value, "tocsr"):   # a scipy.sparse matrix
        for part in (value.tocsr().data, value.tocsr().indices, value.tocsr().indptr):
            _hash_array(digest, part)
    elif isinstance(value, np.ndarray | jax.Array):
        _hash_array(digest, value)
    else:
        digest.update(repr(value).encode())


def function_digest(function) -> str:
    """A hash of a function's code and of the numbers it closes over."""
    digest = hashlib.blake2b(digest_size=16)
    _hash_function(digest, function)
    return digest.hexdigest()


def array_digest(tree) -> str:
    """A hash of the numbers (and their dtypes and shapes) in a pytree of arrays."""
    digest = hashlib.blake2b(digest_size=16)
    for leaf in jax.tree.leaves(tree):
        _hash_array(digest, leaf)
    return digest.hexdigest()


def _hash_array(digest, leaf, rows: int = 65_536) -> None:
    """Hash an array's dtype, shape and numbers, a block of rows at a time (a memory-mapped file is
    or Parquet file is never read whole; of an array spread over processes, the rows this process holds)."""
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        digest.update(f"{leaf.dtype}{leaf.shape}".encode())
        digest.update(_spread_array_digest(leaf, rows))
        return
    array = leaf if is_on_disk(leaf) else np.asarray(leaf)
    digest.update(f"{array.dtype}{array.shape}".encode())
    if array.ndim == 0:
        digest.update(array.tobytes())
        return
    for start in range(0, array.shape[0], rows):
        digest.update(np.ascontiguousarray(array[start:start + rows]).tobytes())


def _spread_array_digest(leaf: jax.Array, rows: int) -> bytes:
    """The hash of an array spread over processes: every process hashes the shards it holds, and the
    hashes of all processes are gathered (a collective: every process calls it), so each process gets
    the same fingerprint of the whole array."""
    from jax.experimental import multihost_utils

    local = hashlib.blake2b(digest_size=16)
    for shard in leaf.addressable_shards:
        local.update(repr(shard.index).encode())
        _hash_array(local, np.asarray(shard.data), rows)
    gathered = multihost_utils.process_allgather(np.frombuffer(local.digest(), dtype=np.uint8))
    return np.asarray(gathered).tobytes()


def _hash_function(digest, function) -> None:
    code = getattr(function, "__code__", None)
    if code is None:
        digest.update(repr(function).encode())
        return
    digest.update(code.co_code + repr(code.co_consts).encode())
    for cell in function.__closure__ or ():
        value = cell.cell_contents
        if callable(value):
            _hash_function(digest, value)
        else:
            digest.update(np.asarray(value).tobytes() if np.ndim(value) else repr(value).encode())
