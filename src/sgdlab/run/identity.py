"""Fingerprints: short hashes of what defines a problem or a function, so saved results and
checkpoints can tell whether they belong to the run at hand."""

from __future__ import annotations

import hashlib

import jax
import numpy as np

from sgdlab.data.ondisk import is_on_disk


def problem_fingerprint(problem) -> str:
    """A hash of what defines the problem: its class, data, parameters' shapes, ℓ2 weight, constraint,
    and its defining functions (code and the numbers they close over)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(problem).__qualname__.encode())
    for leaf in jax.tree.leaves((problem.data, problem.params0)):
        _hash_array(digest, leaf)
    digest.update(repr(getattr(problem, "l2", None)).encode())
    if problem.constraint is not None:
        digest.update(repr(problem.constraint).encode())
        for leaf in jax.tree.leaves(problem.constraint):
            digest.update(np.asarray(leaf).tobytes())
    for function in problem.defining_functions():
        _hash_function(digest, function)
    return digest.hexdigest()


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
