"""Compiling a linear model's native kernels ahead, in a second process, while the first gets ready.

With empty caches, the first native run of a linear model spends seconds in Numba compiling the kernels its epochs
call (each is cached afterwards, for every later process). :func:`started` starts this module in a process of its
own as soon as a command knows its experiment (the process imports no JAX: it starts compiling within a second).
It compiles, with the types a run passes them, what the command would compile after the epoch's drivers and its
single-example loop (which the command reaches first and compiles itself): the batch loop, the evaluation of the
history rows, the samplers' draws, while the command imports JAX, reads the data, computes the theory's predictions
and compiles its part. On reaching a kernel the command loads it from Numba's cache when this process has written
it, and compiles it itself otherwise (then both do the same work, never another's). The two parts are disjoint so
that the two cores compile at once: a helper that also compiled the single-example loop met the command on it and
delayed the batch loop past the moment the command needed it (benchmarks/NOTES.md). The process writes nothing but
Numba's cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from typing import IO, Any

import numpy as np
import scipy.sparse

from sgdlab.engines.native import linear_evaluation, linear_sgd
from sgdlab.engines.native.stale_caches import clear_this_package_once
from sgdlab.samplers import SAMPLERS

#: Rows of the scratch data the kernels are compiled on (their count matters to no type).
SCRATCH_ROWS = 8


def started(loss: str, sparse: bool, samplers: list[tuple[str, dict]]) -> subprocess.Popen | None:
    """A process compiling the kernels of ``loss`` (a key of linear_sgd.LOSSES) on dense or CSR float64 rows, and the
    draws of ``samplers`` (each (registered name, parameters)); None when the batch loop is in Numba's cache already
    (then so is the rest, from an earlier run) or ``loss`` has no native loop."""
    if loss not in linear_sgd.LOSSES or _batch_loop_cached():
        return None
    process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        with typing.cast(IO[bytes], process.stdin) as spec:
            spec.write(json.dumps({"loss": loss, "sparse": sparse, "samplers": samplers}).encode())
    except OSError:   # the process ended before reading its task: the run compiles everything itself, as before
        process.wait()
        return None
    return process


def compile_kernels(loss: str, sparse: bool, samplers: list[tuple[str, dict]]) -> None:
    """Compile (or load) the batch loop and the evaluation of ``loss`` on float64 rows, then each sampler's draws, with
    the types a run gives them (tested: a run after this compiles none of them)."""
    clear_this_package_once()
    code = linear_sgd.LOSSES[loss]
    classes = 3 if code == linear_sgd.SOFTMAX else 1   # softmax's weights are K columns; any K > 1 has their types
    features = 3
    X = np.arange(SCRATCH_ROWS * features, dtype=np.float64).reshape(SCRATCH_ROWS, features) / 10
    csr = scipy.sparse.csr_matrix(X)
    rows = (csr.data, csr.indices, csr.indptr) if sparse else np.ascontiguousarray(X)
    y = np.zeros(SCRATCH_ROWS)
    V = linear_sgd.weights_layout(rows, np.zeros((1, features, classes)))[0]
    indices = np.zeros((2, 2), dtype=np.int32)
    alphas = np.zeros(2)
    alphas.flags.writeable = False
    linear_sgd.compile_batch_loop(code, rows, y, V, indices, alphas)
    linear_evaluation.linear_evaluation(code, rows, y, V, 1.0, 0, SCRATCH_ROWS, SCRATCH_ROWS, np.zeros_like(V), True)
    for name, parameters in samplers:
        try:   # a sampler that needs its problem (importance sampling's weights) draws on its first run instead
            SAMPLERS.build(name, parameters, "sampler").stacked_plans(SCRATCH_ROWS * 8, np.zeros(1, np.int64), 0)
        except Exception:   # compiling ahead only saves time: a run compiles what is left
            continue


def _batch_loop_cached() -> bool:
    """Whether Numba's cache holds an index for the batch loop (a run of a linear model has compiled it before)."""
    cache: Any = linear_sgd._batch_epoch._cache   # type: ignore[attr-defined]   # Numba's FunctionCache
    return os.path.isfile(cache._cache_file._index_path)


if __name__ == "__main__":
    spec = json.loads(sys.stdin.read())
    compile_kernels(spec["loss"], spec["sparse"], [(name, parameters) for name, parameters in spec["samplers"]])
