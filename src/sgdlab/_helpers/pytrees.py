"""Small operations on parameter pytrees (any nesting of arrays): norms, updates, shape checks."""

from __future__ import annotations

from typing import cast

import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax, jnp


def squared_norm(tree) -> jax.Array:
    """‖θ‖² = Σ over leaves of the sum of squared entries."""
    return cast(jax.Array, sum(jnp.vdot(leaf, leaf).real for leaf in jax.tree.leaves(tree)))


def norm(tree) -> jax.Array:
    """‖θ‖, the Euclidean norm of all entries of the pytree taken as one vector."""
    return jnp.sqrt(squared_norm(tree))


def distance(a, b) -> jax.Array:
    """‖a − b‖ for two pytrees of the same structure."""
    return norm(jax.tree.map(jnp.subtract, a, b))


def all_finite(tree) -> jax.Array:
    """True when every entry of every leaf is finite."""
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def sgd_update(params, grads, alpha):
    """θ − α g, with α cast to each leaf's dtype so float32 runs stay float32."""
    return jax.tree.map(lambda p, g: p - jnp.asarray(alpha, p.dtype) * g, params, grads)


def to_numpy(tree):
    """Copy every leaf to a NumPy array (a replicated array of a multi-process run: this process's copy)."""
    return jax.tree.map(lambda leaf: np.asarray(local_value(leaf)), tree)


def local_value(value):
    """A global array spread over several processes (replicated) as this process's copy; else as it is."""
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        return value.addressable_data(0)
    return value


def conform(name: str, given, reference):
    """Return ``given`` as a pytree shaped like ``reference`` (same structure, shapes, dtypes).

    Raises a ValueError naming ``name`` when the structure or a shape differs.
    """
    ref_leaves, ref_def = jax.tree.flatten(reference)
    try:
        leaves = ref_def.flatten_up_to(given)  # type: ignore[attr-defined]
        arrays = [np.asarray(leaf) for leaf in leaves]
    except (ValueError, TypeError):
        arrays = [np.empty(0, dtype=object)]
    if any(array.dtype == object for array in arrays):
        validation.fail(name, f"a pytree of structure {ref_def}", validation.shown(given))
    out = []
    for array, ref in zip(arrays, ref_leaves, strict=True):
        if array.shape != ref.shape:
            validation.fail(name, f"of shape {ref.shape} (the problem's parameter shape)",
                            f"shape {array.shape}")
        if not np.all(np.isfinite(array)):
            validation.fail(name, "finite (no NaN or inf)", "non-finite values")
        out.append(jnp.asarray(array, dtype=ref.dtype))
    return jax.tree.unflatten(ref_def, out)
