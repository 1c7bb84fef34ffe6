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
devices). Each process loads the data set and draws the same plans from the shared seed; its
devices compute their share of every batch and the collectives sum the shares. On CPUs the
collectives go over gloo. Holding only a shard of the rows in each process is not built yet.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sgdlab import _checks, _pytree

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
        if isinstance(leaf, jax.Array) and leaf.sharding == self.replicated_sharding:
            return leaf
        return _global_array(_pytree.local_value(leaf), self.replicated_sharding)

    def split_plan(self, indices: np.ndarray, mask: np.ndarray):
        """The plan (… × S × B) padded to a multiple of D along B with masked-out entries, and placed
        with its batch axis split across the devices."""
        width = indices.shape[-1]
        padding = [(0, 0)] * (indices.ndim - 1) + [(0, -width % self.size)]
        sharding = NamedSharding(self.mesh, PartitionSpec(*([None] * (indices.ndim - 1)), BATCH_AXIS))
        return tuple(_global_array(np.pad(part, padding), sharding) for part in (indices, mask))


def _global_array(value, sharding: NamedSharding) -> jax.Array:
    """A global array laid out by ``sharding`` from a value every process holds in full."""
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def initialize(coordinator_address: str, num_processes: int, process_id: int, timeout: float = 300.0) -> None:
    """Join a run over several processes (one per host): ``jax.distributed.initialize`` with CPU
    collectives over gloo. Process 0 serves as coordinator at ``coordinator_address`` ("host:port");
    the others wait for it at most ``timeout`` seconds, then raise a TimeoutError naming the address
    (JAX itself would abort the process).
    After it, ``jax.devices()`` lists every process's devices: pass them as ``devices=``."""
    num_processes = _checks.integer("num_processes", num_processes)
    process_id = _checks.integer("process_id", process_id, low=0, high=num_processes - 1)
    timeout = _checks.positive_float("timeout", timeout)
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
        _checks.fail("coordinator_address", "'host:port'", _checks.shown(coordinator_address), error=TypeError)
    if process_id != 0:   # JAX aborts the whole process when the coordinator never answers: look first
        _wait_for_coordinator(coordinator_address, timeout, f"process {process_id} of {num_processes}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, initialization_timeout=max(1, round(timeout)))


def _wait_for_coordinator(address: str, timeout: float, who: str) -> None:
    """Return once something accepts connections at ``address``; raise TimeoutError after ``timeout`` s."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no coordinator answered at {address} within {timeout:g} s ({who}); "
                                   "start process 0 there first") from None
            time.sleep(0.1)


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
