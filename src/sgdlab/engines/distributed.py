"""Devices and hosts: data-parallel runs over a mesh of devices with ``jax.sharding``, on one host or,
after :func:`initialize`, on several (JAX's own multi-controller runtime, ``jax.distributed``).

With ``minimize(..., devices=jax.devices())`` each step's batch is split across the devices along
its batch axis: device d computes the gradient terms of its share of the batch, and XLA's SPMD
partitioner sums them across devices (an all-reduce) before the update. The data, θ and the
optimizer state are replicated. The step is mathematically the same minibatch step, so the run
equals the single-device one up to the order of floating-point sums (1e-10 in float64 in the tests).

When the device count D does not divide B, every batch is padded with masked entries up to the
next multiple of D: the step is unchanged, and the padding is idle work. Gradient descent uses the
plan of all N indices, padded the same way, so its full gradient is split across devices too.

Several hosts: every process runs the same program (one process per host, each with its local
devices) and draws the same plans from the shared seed; its devices compute their share of every
batch and the collectives sum the shares. On CPUs the collectives go over gloo. Each process may
load the whole data set (replicated), or only its block of rows:

    rows = sl.distributed.row_block(N)            # this process's rows of the N
    data = sl.distributed.shard_rows((X[rows], y[rows]))
    problem = sl.finite_sum(loss, data, params0)  # rows split over jax.devices()

Device d of the D holds rows [d·N/D, (d+1)·N/D) (D must divide N: pad or drop rows yourself, since
either changes F). A batch is then gathered from the devices that hold its rows: each device reads
the batch rows it has, the others contribute zeros, and one all-reduce sums them (XLA's partitioned
gather), so no device ever holds more than its N/D rows plus a batch. F and ∇F are sums over each
device's rows, reduced across devices; gradient descent uses them directly.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sgdlab._helpers import pytrees, validation
from sgdlab.data.sharded import is_row_sharded
from sgdlab.engines.processes import PeerLost as PeerLost  # sl.distributed.PeerLost
from sgdlab.engines.processes import initialize as initialize  # sl.distributed.initialize

#: The name of the mesh axis a batch is split along.
BATCH_AXIS = "batch"


@dataclasses.dataclass(frozen=True, eq=False)
class DataParallel:
    """Where a run's arrays live: the data and θ replicated on every device of ``mesh``, each batch of
    the plan split along the mesh's one axis."""

    mesh: Mesh

    @property
    def size(self) -> int:
        """D, the number of devices."""
        return self.mesh.devices.size

    @property
    def replicated_sharding(self) -> NamedSharding:
        """A full copy on every device."""
        return NamedSharding(self.mesh, PartitionSpec())

    def replicated(self, tree):
        """The pytree with a full copy of every leaf on every device (of every process)."""
        return jax.tree.map(self._replicated_leaf, tree)

    def _replicated_leaf(self, leaf):
        if isinstance(leaf, jax.Array) and (leaf.sharding == self.replicated_sharding or is_row_sharded(leaf)):
            return leaf   # already in place (data sharded by rows stay sharded)
        return _global_array(pytrees.local_value(leaf), self.replicated_sharding)

    def split_plan(self, indices: np.ndarray, mask: np.ndarray):
        """The plan (… × S × B) padded to a multiple of D along B with masked-out entries, and placed
        with its batch axis split across the devices."""
        width = indices.shape[-1]
        padding = [(0, 0)] * (indices.ndim - 1) + [(0, -width % self.size)]
        sharding = NamedSharding(self.mesh, PartitionSpec(*([None] * (indices.ndim - 1)), BATCH_AXIS))
        return tuple(_global_array(np.pad(part, padding), sharding) for part in (indices, mask))


def row_block(n: int, devices=None) -> slice:
    """The rows [a, b) of an N-row data set that this process holds when they are split over ``devices``
    (default jax.devices()): device d of the D holds rows [d·N/D, (d+1)·N/D), and a process holds the
    rows of its devices, which must be consecutive in ``devices`` (jax.devices() orders them so)."""
    n = validation.integer("n", n)
    placement = data_parallel(jax.devices() if devices is None else devices)
    size = placement.size
    if n % size:
        validation.fail("n", f"a multiple of the {size} devices the rows are split over (each holds N/{size} rows; "
                        "pad or drop rows first)", f"{n}")
    first, count = _local_positions(placement)
    rows = n // size
    return slice(first * rows, (first + count) * rows)


def shard_rows(local_data, devices=None):
    """The data set as global arrays whose rows are split over ``devices`` (default jax.devices()), each
    process passing only its block of rows (see :func:`row_block`), as NumPy arrays with a shared
    leading length. Pass the result as the data of ``sl.finite_sum``; runs then go over these devices."""
    placement = data_parallel(jax.devices() if devices is None else devices)
    leaves, treedef = jax.tree.flatten(local_data)
    arrays = [np.asarray(leaf) for leaf in leaves]
    if not arrays or any(array.ndim == 0 for array in arrays):
        validation.fail("local_data", "a pytree of arrays with a leading axis of rows", validation.shown(local_data),
                        error=TypeError)
    lengths = {array.shape[0] for array in arrays}
    if len(lengths) > 1:
        validation.fail("local_data", "arrays sharing one leading length", f"leading lengths {sorted(lengths)}")
    (local_rows,) = lengths
    _, count = _local_positions(placement)
    if local_rows == 0 or local_rows % count:
        validation.fail("local_data", f"a positive multiple of this process's {count} devices in rows (each device "
                        "holds as many)", f"{local_rows} rows")
    total = local_rows // count * placement.size
    _check_equal_blocks(local_rows)
    sharding = NamedSharding(placement.mesh, PartitionSpec(BATCH_AXIS))
    return jax.tree.unflatten(treedef, [
        jax.make_array_from_process_local_data(sharding, array, (total, *array.shape[1:])) for array in arrays])


def _local_positions(placement: DataParallel) -> tuple[int, int]:
    """(first, count): this process's devices are positions first, …, first + count − 1 of the mesh."""
    positions = [i for i,
                 device in enumerate(placement.mesh.devices.flat) if device.process_index == jax.process_index()]
    if not positions or positions != list(range(positions[0], positions[0] + len(positions))):
        validation.fail("devices", "a list in which this process's devices are consecutive (as in jax.devices())",
                        f"this process's devices at positions {positions}")
    return positions[0], len(positions)


def _check_equal_blocks(local_rows: int) -> None:
    """Every process must pass as many rows (the blocks of :func:`row_block`)."""
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    counts = np.asarray(multihost_utils.process_allgather(np.asarray(local_rows))).ravel()
    if len(set(counts.tolist())) > 1:
        validation.fail("local_data", "as many rows in every process (sl.distributed.row_block gives each its block)",
                        f"rows per process {counts.tolist()}")


def _global_array(value, sharding: NamedSharding) -> jax.Array:
    """A global array laid out by ``sharding`` from a value every process holds in full."""
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


@typing.overload
def data_parallel(devices: None) -> None: ...
@typing.overload
def data_parallel(devices: Mesh | Sequence[jax.Device]) -> DataParallel: ...
def data_parallel(devices: Mesh | Sequence[jax.Device] | None) -> DataParallel | None:
    """Read ``devices=``: None (one device, no mesh), a sequence of JAX devices, or a 1-D Mesh."""
    if devices is None:
        return None
    if isinstance(devices, Mesh):
        if devices.devices.ndim != 1:
            validation.fail("devices", "a list of devices or a 1-D mesh", f"a mesh of shape {devices.devices.shape}")
        return DataParallel(Mesh(devices.devices, (BATCH_AXIS,)))
    try:
        devices = list(devices)
    except TypeError:
        validation.fail("devices", "a list of JAX devices such as jax.devices(), or a 1-D mesh",
                        validation.shown(devices), error=TypeError)
    if not devices or not all(isinstance(device, jax.Device) for device in devices):
        validation.fail("devices", "a non-empty list of JAX devices such as jax.devices()", validation.shown(devices),
                        error=TypeError)
    if len({device.id for device in devices}) != len(devices):
        validation.fail("devices", "distinct devices", f"{[str(device) for device in devices]}")
    return DataParallel(Mesh(np.array(devices), (BATCH_AXIS,)))
