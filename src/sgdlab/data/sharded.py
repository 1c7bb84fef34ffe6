"""Data whose rows are split over devices: global JAX arrays sharded along their leading axis
(built by ``sl.distributed.shard_rows``)."""

from __future__ import annotations

from sgdlab._helpers.lazy import jax


def is_row_sharded(leaf) -> bool:
    """True for a global array split along its rows over several devices."""
    return isinstance(leaf, jax.Array) and len(leaf.sharding.device_set) > 1 and not leaf.sharding.is_fully_replicated


def holding_devices(data) -> list | None:
    """The devices, in mesh order, over which the rows of ``data`` are split, or None when no leaf is sharded."""
    for leaf in jax.tree.leaves(data):
        if is_row_sharded(leaf):
            return list(leaf.sharding.mesh.devices.flat)
    return None
