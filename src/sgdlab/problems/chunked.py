"""F and ∇F of a finite sum whose data are files read by rows: sums over consecutive chunks of rows,
so no array is ever read whole."""

from __future__ import annotations

import numpy as np

from sgdlab._helpers.lazy import jax, jnp

#: Rows per chunk of F and ∇F.
EVAL_ROWS = 65_536


def value_and_grad(problem, params):
    """(F(θ), ∇F(θ)) of a finite sum over data on disk: sums over chunks of EVAL_ROWS rows."""
    total_loss, total_grad = 0.0, None
    for start in range(0, problem.n, EVAL_ROWS):
        rows = slice(start, start + EVAL_ROWS)
        chunk = jax.tree.map(lambda leaf, rows=rows: np.asarray(leaf[rows]), problem.data)
        loss, grad = problem.jitted(_chunk_sums)(params, chunk)
        total_loss = total_loss + loss
        total_grad = grad if total_grad is None else jax.tree.map(jnp.add, total_grad, grad)
    return total_loss / problem.n, jax.tree.map(lambda leaf: leaf / problem.n, total_grad)


def _chunk_sums(problem, params, chunk):
    """(Σ fᵢ(θ), Σ ∇fᵢ(θ)) over the chunk's examples."""
    return jax.value_and_grad(lambda p: jnp.sum(problem.example_losses(p, chunk)))(params)
