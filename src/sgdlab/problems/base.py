"""Problems as the theory states them: an objective F(θ) and, for a finite sum, its terms fᵢ.

A :class:`FiniteSum` is F(θ) = (1/N) Σᵢ fᵢ(θ) with fᵢ(θ) = loss(θ, exampleᵢ): one term per data
point. Parameters θ are any JAX pytree; data is a pytree of arrays sharing a leading axis of
length N. Everything a run needs (F, ∇F, minibatch gradients) is derived from the per-example loss
with ``jax.vmap`` and ``jax.grad``, compiled once per problem.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab import _checks, _pytree


class Problem:
    """What is minimized: an objective F(θ) with its gradient, and what is known about it.

    Subclasses say what they know: ``n`` (number of terms, None for an expectation),
    ``lipschitz()`` (L of ∇F), ``solution()`` (a minimizer θ*), ``optimal_value()`` (p* = F(θ*)).
    Each returns None when it is not known.
    """

    n: int | None = None
    params0 = None

    def loss(self, params) -> jax.Array:
        """F(θ)."""
        raise NotImplementedError

    def grad(self, params):
        """∇F(θ), a pytree shaped like θ."""
        raise NotImplementedError

    def lipschitz(self) -> float | None:
        """L, a Lipschitz constant of ∇F, or None when not known."""
        return None

    def solution(self):
        """A minimizer θ*, or None when not known."""
        return None

    def optimal_value(self) -> float | None:
        """p* = inf F, or None when not known."""
        return None


class FiniteSum(Problem):
    """F(θ) = (1/N) Σᵢ loss(θ, exampleᵢ), where exampleᵢ is row i of every array in ``data``.

    Parameters
    ----------
    loss : callable
        ``loss(params, example) -> scalar``, written in ``jax.numpy``; ``example`` has the
        structure of ``data`` with the leading axis removed.
    data : pytree of arrays
        Every leaf has the same leading length N ≥ 1.
    params0 : pytree of arrays
        The default starting point; it fixes the parameters' structure, shapes and dtypes.
    """

    def __init__(self, loss, data, params0):
        if not callable(loss):
            _checks.fail("loss", "a callable loss(params, example) -> scalar", _checks.shown(loss), error=TypeError)
        self.data, self.n = _validated_data(data)
        self.params0 = _validated_params0(params0)
        self._example_loss = loss
        _check_scalar_loss(loss, self.params0, self.data)
        self._loss_jit = jax.jit(self.data_loss)
        self._value_and_grad_jit = jax.jit(jax.value_and_grad(self.data_loss))
        self._batch_grad_jit = jax.jit(self._batch_grad)

    # pure functions of (params, data): the engine compiles these with data as an argument
    def example_losses(self, params, data) -> jax.Array:
        """The vector (fᵢ(θ))ᵢ over the examples in ``data`` (any leading length)."""
        return jax.vmap(self._example_loss, in_axes=(None, 0))(params, data)

    def data_loss(self, params, data) -> jax.Array:
        """(1/|data|) Σ over the examples in ``data`` of fᵢ(θ)."""
        return jnp.mean(self.example_losses(params, data))

    def masked_loss(self, params, data, idx, mask) -> jax.Array:
        """Σ_b mask_b f_{idx_b}(θ) / Σ_b mask_b: the mean over the batch's real (unpadded) entries."""
        batch = jax.tree.map(lambda leaf: leaf[idx], data)
        losses = self.example_losses(params, batch)
        mask = mask.astype(losses.dtype)
        return jnp.sum(mask * losses) / jnp.sum(mask)

    def _batch_grad(self, params, data, idx):
        batch = jax.tree.map(lambda leaf: leaf[idx], data)
        return jax.grad(self.data_loss)(params, batch)

    # the friendly layer
    def loss(self, params) -> jax.Array:
        """F(θ) = (1/N) Σᵢ fᵢ(θ)."""
        return self._loss_jit(self._conform(params), self.data)

    def grad(self, params):
        """∇F(θ) = (1/N) Σᵢ ∇fᵢ(θ)."""
        return self._value_and_grad_jit(self._conform(params), self.data)[1]

    def batch_grad(self, params, idx):
        """(1/B) Σ_b ∇f_{idx_b}(θ): the minibatch gradient; repeated indices count each time."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            _checks.fail("idx", "a non-empty 1-D array of integer indices", _checks.shown(idx))
        if idx.min() < 0 or idx.max() >= self.n:
            _checks.fail("idx", f"indices in [0, {self.n - 1}]",
                         f"indices from {idx.min()} to {idx.max()}")
        return self._batch_grad_jit(self._conform(params), self.data, jnp.asarray(idx))

    def _conform(self, params):
        return _pytree.conform("params", params, self.params0)

    def __repr__(self) -> str:
        shapes = jax.tree.map(lambda leaf: leaf.shape, self.params0)
        return f"{type(self).__name__}(n={self.n}, params shape {shapes})"


def finite_sum(loss, data, params0) -> FiniteSum:
    """F(θ) = (1/N) Σᵢ loss(θ, exampleᵢ) for your own per-example loss; see :class:`FiniteSum`."""
    return FiniteSum(loss, data, params0)


def _validated_data(data):
    """Check that data is a non-empty pytree of finite arrays with one leading length N."""
    leaves, treedef = jax.tree.flatten(data)
    if not leaves:
        _checks.fail("data", "a pytree of arrays with a leading axis of length N", _checks.shown(data), error=TypeError)
    arrays = []
    for position, leaf in enumerate(leaves):
        array = np.asarray(leaf)
        if array.ndim == 0:
            _checks.fail("data", "arrays with a leading axis of length N", f"a scalar at leaf {position}")
        if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
            array = _checks.finite_array("data", array)
        arrays.append(array)
    lengths = {array.shape[0] for array in arrays}
    if len(lengths) > 1:
        _checks.fail("data", "arrays sharing one leading length N", f"leading lengths {sorted(lengths)}")
    (n,) = lengths
    if n == 0:
        _checks.fail("data", "non-empty (N >= 1)", "N = 0")
    return jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays]), n


def _validated_params0(params0):
    leaves, treedef = jax.tree.flatten(params0)
    if not leaves:
        _checks.fail("params0", "a pytree with at least one array", _checks.shown(params0), error=TypeError)
    arrays = [_checks.finite_array("params0", leaf) for leaf in leaves]
    return jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays])


def _check_scalar_loss(loss, params0, data):
    """The per-example loss must map (params, one example) to a scalar."""
    example = jax.tree.map(lambda leaf: leaf[0], data)
    shape = jax.eval_shape(loss, params0, example)
    if getattr(shape, "shape", None) != ():
        _checks.fail("loss", "a function returning a scalar for one example", f"output {shape}")
