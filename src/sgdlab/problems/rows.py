"""The design matrix X as the compiled engine holds it: a dense array, or CSR rows (:class:`SparseRows`).

A linear model needs only the products of rows with the parameters: Xθ over all rows for F and
∇F, and X_I θ over a batch I for a step (θ is p-vector or a p × K matrix). On CSR data both cost a
multiple of the nonzeros they touch:

* all rows: (Xθ)ᵣ = Σ_{e in row r} data_e θ[indices_e], a segment sum over the stored entries;
* a batch: each row i of I is read as the fixed-length window indptr[i] + (0, …, m − 1) of the
  stored entries, m the longest row's count, with entries past the row's end masked to zero.

JAX differentiates both, so ∇F and minibatch gradients need nothing more.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse

from sgdlab._helpers.lazy import jax, jnp, pytree_dataclass


@pytree_dataclass
@dataclasses.dataclass(frozen=True)
class SparseRows:
    """An N × p CSR matrix as JAX arrays: ``data`` and ``indices`` (nnz), ``indptr`` (N + 1),
    ``row_ids`` (the row of each stored entry), and the static ``shape`` and ``max_row_nnz``."""

    data: jax.Array
    indices: jax.Array
    indptr: jax.Array
    row_ids: jax.Array
    shape: tuple = dataclasses.field(metadata=dict(static=True))
    max_row_nnz: int = dataclasses.field(metadata=dict(static=True))

    @classmethod
    def from_csr(cls, X: scipy.sparse.csr_matrix | scipy.sparse.csr_array) -> SparseRows:
        counts = np.diff(X.indptr)
        row_ids = np.repeat(np.arange(X.shape[0], dtype=np.int32), counts)
        return cls(jnp.asarray(X.data), jnp.asarray(X.indices), jnp.asarray(X.indptr), jnp.asarray(row_ids),
                   tuple(X.shape), int(counts.max(initial=0)))


def engine_rows(X):
    """X as the engine holds it: a JAX array for dense X, :class:`SparseRows` for CSR X."""
    return SparseRows.from_csr(X) if scipy.sparse.issparse(X) else jnp.asarray(X)


def products(rows, params) -> jax.Array:
    """Xθ for every row: shape (N,) for a p-vector θ, (N, K) for a p × K matrix."""
    if not isinstance(rows, SparseRows):
        return rows @ params
    contributions = _scaled(rows.data, params[rows.indices])
    return jax.ops.segment_sum(contributions, rows.row_ids, num_segments=rows.shape[0], indices_are_sorted=True)


def batch_products(rows, idx, params) -> jax.Array:
    """X_I θ for the rows idx (any shape of indices; the result has that shape, then K if θ is a matrix)."""
    if not isinstance(rows, SparseRows):
        return rows[idx] @ params
    start, stop = rows.indptr[idx], rows.indptr[idx + 1]
    positions = start[..., None] + jnp.arange(max(rows.max_row_nnz, 1))
    inside = positions < stop[..., None]
    positions = jnp.where(inside, positions, 0)
    values = jnp.where(inside, rows.data[positions], 0)
    gathered = _scaled(values, params[rows.indices[positions]])
    return jnp.sum(gathered, axis=idx.ndim)


def _scaled(values, weights):
    """valuesₑ · weightsₑ, broadcasting a value over the K columns of a matrix θ."""
    return values[..., None] * weights if weights.ndim > values.ndim else values * weights
