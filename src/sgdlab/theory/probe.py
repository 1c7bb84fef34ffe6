"""The throughput probe: what each batch size costs per step on a device, up to what fits in memory.

Per iteration, large batches pay off when the gradient noise is large (``sgdlab.theory.noise_scale``);
per unit of time, larger batches use the hardware better, up to a point. ``probe_batch_sizes``
measures the second on the user's own problem and device: for each B it compiles one SGD step
θ ← θ − α ∇(1/B) Σ_b f_{i_b}(θ), reads the memory the step needs from XLA's compiled memory
analysis, runs it only when that fits the device's free memory, and times it. The *knee* is the
smallest B whose samples per second come within ``knee_gain`` (10% by default) of the best
measured: beyond it, larger batches mostly cost time per step.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from sgdlab._helpers import pytrees, validation
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import draws

#: Each size is timed over at least this many steps and this many seconds (whichever is longer).
MIN_STEPS, MIN_SECONDS = 5, 0.2


def probe_batch_sizes(problem: FiniteSum, sizes: Sequence[int] | None = None, device: jax.Device | str | None = None,
                      knee_gain: float = 0.1) -> pd.DataFrame:
    """Time one SGD step per batch size B on a device, up to what fits in its memory.

    Parameters
    ----------
    problem : FiniteSum
        The problem.
    sizes : sequence of int, optional
        Increasing batch sizes (default: the powers of two up to N). Probing stops at the first size
        that does not fit (its row has fits False and no time).
    device : jax.Device or str, optional
        A device or a name such as "cpu" or "gpu:0" (default: JAX's first device).
    knee_gain : float, default 0.1
        The knee is the smallest B whose samples per second come within this fraction of the best.

    Returns
    -------
    pandas.DataFrame
        One row a batch size: seconds_per_step, samples_per_second, memory_bytes (the step's arguments,
        data included, outputs and scratch), scratch_bytes (beyond the resident data), memory_source
        ("XLA memory analysis", or "estimate" on a backend without one), fits and knee.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(256, 4))
    >>> table = sl.probe_batch_sizes(sl.least_squares(X, X.sum(axis=1)), sizes=[1, 16, 64])
    >>> table.batch_size.tolist(), bool(table.fits.all()), int(table.knee.sum())
    ([1, 16, 64], True, 1)
    """
    if not isinstance(problem, FiniteSum):
        validation.fail("problem", "a finite sum such as sl.least_squares(X, y)", validation.shown(problem),
                        error=TypeError)
    sizes = checked_sizes(sizes, problem.n)
    device = _device(device)
    knee_gain = validation.fraction("knee_gain", knee_gain)
    data, params = jax.device_put((problem.data, problem.params0), device)
    rows = []
    for size in sizes:
        row = _probe(problem, data, params, size, device)
        rows.append(row)
        if not row["fits"]:
            warnings.warn(f"batch size {size} needs {row['scratch_bytes']:,} bytes beyond the data, more than the "
                          f"{_free_memory(device):,.0f} free on {device}: probing stopped there", ResourceWarning,
                          stacklevel=2)
            break
    table = pd.DataFrame(rows)
    table["knee"] = table.batch_size == knee(table, knee_gain)
    return table


def knee(table: pd.DataFrame, gain: float = 0.1) -> int | None:
    """The smallest batch size whose samples per second reach (1 − ``gain``) × the best in the table;
    None when no size was timed."""
    timed = table[table.fits]
    if timed.empty:
        return None
    reaching = timed[timed.samples_per_second >= (1 - gain) * timed.samples_per_second.max()]
    return int(reaching.batch_size.min())


def _probe(problem, data, params, size: int, device) -> dict:
    indices = jnp.asarray(draws.with_replacement(problem.n, (1, size), 0, 0)[0])
    mask = jnp.ones(size, dtype=bool)
    indices, mask = jax.device_put((indices, mask), device)
    step = jax.jit(lambda params, data, indices, mask: pytrees.sgd_update(
        params, jax.grad(problem.masked_loss)(params, data, indices, mask), 1e-3))
    compiled = step.lower(params, data, indices, mask).compile()
    total, scratch, source = _step_memory(compiled, problem, params, size)
    row = {"batch_size": size, "seconds_per_step": np.nan, "samples_per_second": np.nan, "memory_bytes": total,
           "scratch_bytes": scratch, "memory_source": source, "fits": scratch <= _free_memory(device)}
    if row["fits"]:
        seconds = _step_seconds(compiled, params, data, indices, mask)
        row.update(seconds_per_step=seconds, samples_per_second=size / seconds)
    return row


def _step_memory(compiled, problem, params, size: int) -> tuple[int, int, str]:
    """(bytes of the whole step, bytes beyond its arguments, where the numbers come from): XLA's compiled
    memory analysis where the backend gives one; else an estimate of the batch's rows, its gradient
    terms and the new θ (4 copies of θ and of the batch's rows)."""
    memory = compiled.memory_analysis()
    if memory is not None:
        scratch = memory.output_size_in_bytes + memory.temp_size_in_bytes
        return memory.argument_size_in_bytes + scratch - memory.alias_size_in_bytes, scratch, "XLA memory analysis"
    data_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(problem.data))
    params_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(params))
    scratch = 4 * (params_bytes + size * data_bytes // problem.n)
    return data_bytes + params_bytes + scratch, scratch, "estimate"


def _step_seconds(compiled, params, data, indices, mask) -> float:
    """The median seconds of one step over at least MIN_STEPS steps and MIN_SECONDS (after a warm-up)."""
    jax.block_until_ready(compiled(params, data, indices, mask))
    times: list[float] = []
    while len(times) < MIN_STEPS or sum(times) < MIN_SECONDS:
        started = time.perf_counter()
        jax.block_until_ready(compiled(params, data, indices, mask))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _free_memory(device) -> float:
    """Bytes the device can still allocate: from JAX's memory statistics (GPU, TPU), else the host's
    available physical memory (CPU)."""
    stats = device.memory_stats()
    if stats and "bytes_limit" in stats:
        return stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def checked_sizes(sizes, n: int) -> list[int]:
    """Batch sizes to try: the given ones (increasing integers in [1, N]), or the powers of two up to N."""
    if sizes is None:
        return [2**k for k in range(n.bit_length()) if 2**k <= n]
    try:
        sizes = list(sizes)
    except TypeError:
        validation.fail("sizes", "a list of batch sizes such as [1, 8, 64]", validation.shown(sizes), error=TypeError)
    if not sizes:
        validation.fail("sizes", "a non-empty list of batch sizes", "[]")
    checked = [validation.integer("sizes", size, high=n, context=f"N={n}") for size in sizes]
    if any(later <= earlier for earlier, later in itertools.pairwise(checked)):
        validation.fail("sizes", "increasing batch sizes", validation.shown(sizes))
    return checked


def _device(device):
    if device is None:
        return jax.devices()[0]
    if isinstance(device, jax.Device):
        return device
    if isinstance(device, str):
        platform, _, number = device.partition(":")
        try:
            candidates = jax.devices(platform)
        except RuntimeError:
            candidates = []
        index = int(number) if number.isdigit() else 0 if not number else -1
        if 0 <= index < len(candidates):
            return candidates[index]
    names = ", ".join(f"{d.platform}:{i}" for i, d in enumerate(jax.devices()))
    validation.fail("device", f"a JAX device or one of {names}", validation.shown(device))
