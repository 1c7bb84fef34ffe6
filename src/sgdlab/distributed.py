"""Devices: data-parallel runs over a mesh of devices with ``jax.sharding``.

With ``minimize(..., devices=jax.devices())`` each step's batch is split across the devices along
its batch axis: device d computes the gradient terms of its share of the batch, and XLA's SPMD
partitioner sums them across devices (an all-reduce) before the update. The data, θ and the
optimizer state are replicated. The step is mathematically the same minibatch step, so the run
equals the single-device one up to the order of floating-point sums (1e-10 in float64 in the tests).

When the device count D does not divide B, every batch is padded with masked entries up to the
next multiple of D: the step is unchanged, and the padding is idle work. Gradient descent uses the
plan of all N indices, padded the same way, so its full gradient is split across devices too.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sgdlab import _checks

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

    def replicated(self, tree):
        """The pytree with a full copy of every leaf on every device."""
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def split_plan(self, indices: np.ndarray, mask: np.ndarray):
        """The plan (… × S × B) padded to a multiple of D along B with masked-out entries, and placed
        with its batch axis split across the devices."""
        width = indices.shape[-1]
        padding = [(0, 0)] * (indices.ndim - 1) + [(0, -width % self.size)]
        indices, mask = np.pad(indices, padding), np.pad(mask, padding)
        spec = PartitionSpec(*([None] * (indices.ndim - 1)), BATCH_AXIS)
        return jax.device_put((indices, mask), NamedSharding(self.mesh, spec))


def data_parallel(devices) -> DataParallel | None:
    """Read ``devices=``: None (one device, no mesh), a sequence of JAX devices, or a 1-D Mesh."""
    if devices is None:
        return None
    if isinstance(devices, Mesh):
        if devices.devices.ndim != 1:
            _checks.fail("devices", "a list of devices or a 1-D mesh", f"a mesh of shape {devices.devices.shape}")
        return DataParallel(Mesh(devices.devices, (BATCH_AXIS,)))
    try:
        devices = list(devices)
    except TypeError:
        _checks.fail("devices", "a list of JAX devices such as jax.devices(), or a 1-D mesh", _checks.shown(devices),
                     error=TypeError)
    if not devices or not all(isinstance(device, jax.Device) for device in devices):
        _checks.fail("devices", "a non-empty list of JAX devices such as jax.devices()", _checks.shown(devices),
                     error=TypeError)
    if len({device.id for device in devices}) != len(devices):
        _checks.fail("devices", "distinct devices", f"{[str(device) for device in devices]}")
    return DataParallel(Mesh(np.array(devices), (BATCH_AXIS,)))
