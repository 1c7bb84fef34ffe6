"""Finite sums as the theory states them: F(θ) = (1/N) Σᵢ fᵢ(θ) with fᵢ(θ) = loss(θ, exampleᵢ), one term per
data point, and −F for maximizing.

Parameters θ are any JAX pytree; data is a pytree of arrays sharing a leading axis of length N. Everything a run
needs (F, ∇F, minibatch gradients) is derived from the per-example loss with ``jax.vmap`` and ``jax.grad``,
compiled once per problem.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Data, ExampleLoss, Params
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.data.ondisk import is_on_disk
from sgdlab.data.sharded import holding_devices, is_row_sharded
from sgdlab.problems import chunked, models
from sgdlab.problems.base import Problem, _validated_params0


def weighted_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Σ_b m_b v_b / #{b : m_b ≠ 0} for a mask of True/False or of weights (the count of nonzero entries, so a
    True/False mask gives the plain mean of the real entries)."""
    return jnp.sum(mask.astype(values.dtype) * values) / jnp.sum(mask != 0).astype(values.dtype)


class FiniteSum(Problem):
    """F(θ) = (1/N) Σᵢ loss(θ, exampleᵢ), where exampleᵢ is row i of every array in ``data``.

    Parameters
    ----------
    loss : callable
        ``loss(params, example) -> scalar``, written in ``jax.numpy``; ``example`` has the
        structure of ``data`` with the leading axis removed (``loss(model, example)`` for a model).
    data : pytree of arrays
        Every leaf has the same leading length N ≥ 1.
    params0 : pytree of arrays, Equinox module or Flax NNX model
        The default starting point; it fixes the parameters' structure, shapes and dtypes (a model's
        trainable arrays, :mod:`sgdlab.problems.models`).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> def squared_error(theta, example):
    ...     x, y = example
    ...     return 0.5 * (jnp.dot(x, theta) - y) ** 2
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.FiniteSum(squared_error, (X, np.array([1.0, 2.0, 2.0])), np.zeros(2))
    >>> bool(np.isclose(problem.loss(np.ones(2)), 0.0)), np.asarray(problem.batch_grad(np.zeros(2), [0, 0])).tolist()
    (True, [-1.0, -0.0])
    """

    n: int

    def __init__(self, loss, data, params0):
        if not callable(loss):
            validation.fail("loss", "a callable loss(params, example) -> scalar", validation.shown(loss),
                            error=TypeError)
        self._defining_loss = loss
        self._example_loss, params0, self._split = self._on_parameters(loss, params0)
        self.params0 = _validated_params0(params0)
        self.data, self.n = self._validated_data(data)

    def _on_parameters(self, loss, params0) -> tuple[ExampleLoss, Params, models.Split | None]:
        """(the loss of θ, θ⁰, the model's parts): for an Equinox module or Flax NNX model its trainable arrays and
        the user's ``loss(model, example)`` called on the model rebuilt around θ (:mod:`.models`)."""
        split = models.split_model(params0)
        if split is None:
            return loss, params0, None
        return models.on_model(loss, split.rebuild), split.params, split

    @property
    def model_kind(self) -> str | None:
        """What the problem's model is ("Equinox MLP", "Flax NNX Net"), or None when θ is a pytree of arrays."""
        return None if self._split is None else self._split.kind

    def model(self, params: Params) -> Any:
        """The model θ stands for: for a problem made from an Equinox module or a Flax NNX model, that model with
        θ in place (``problem.model(result.params)``); θ itself for a pytree of arrays."""
        params = self._conform(params)
        return params if self._split is None else self._split.rebuild(params)

    def _validated_data(self, data):
        """(data as JAX arrays, N), after checking the data and that the loss gives one scalar per example."""
        data, n = _validated_data(data)
        _check_scalar_loss(self._example_loss, self.params0, data)
        return data, n

    # pure functions of (params, data): the engine compiles these with data as an argument
    def example_losses(self, params, data) -> jax.Array:
        """The vector (fᵢ(θ))ᵢ over the examples in ``data`` (any leading length)."""
        return jax.vmap(self._example_loss, in_axes=(None, 0))(params, data)

    def data_loss(self, params, data) -> jax.Array:
        """(1/|data|) Σ over the examples in ``data`` of fᵢ(θ)."""
        return jnp.mean(self.example_losses(params, data))

    def masked_loss(self, params, data, idx, mask) -> jax.Array:
        """Σ_b m_b f_{idx_b}(θ) / #{b : m_b ≠ 0}: with a True/False mask the mean over the batch's real (unpadded)
        entries; with an importance sampler's weights m_b = 1/(N p_{idx_b}) the reweighted mean."""
        batch = jax.tree.map(lambda leaf: leaf[idx], data)
        losses = self.example_losses(params, batch)
        return weighted_mean(losses, mask)

    def penalty(self, params) -> jax.Array:
        """r(θ): the part of every fᵢ that does not depend on the example (0 here; a regularized linear model's
        (λ/2)‖θ‖²). SAGA stores the gradients of fᵢ − r and adds ∇r(θ) exactly."""
        return jnp.zeros((), dtype=jax.tree.leaves(params)[0].dtype)

    def batch_losses(self, params, data, idx) -> jax.Array:
        """The vector (fᵢ(θ) − r(θ)) for i in ``idx`` (see :meth:`penalty`)."""
        return self.example_losses(params, jax.tree.map(lambda leaf: leaf[idx], data)) - self.penalty(params)

    def _batch_grad(self, params, data, idx):
        return jax.grad(self.masked_loss)(params, data, idx, jnp.ones(idx.shape, dtype=bool))

    # the friendly layer
    @property
    def is_sharded(self) -> bool:
        """True when the data are global arrays whose rows are split over devices (sl.distributed.shard_rows)."""
        return holding_devices(self.data) is not None

    @property
    def on_disk(self) -> bool:
        """True when the data are files read by rows (memory maps, Parquet columns), a block at a time."""
        return any(is_on_disk(leaf) for leaf in jax.tree.leaves(self.data))

    def loss(self, params) -> jax.Array:
        """F(θ) = (1/N) Σᵢ fᵢ(θ)."""
        if self.on_disk:
            return self._value_and_grad(params)[0]
        return self.jitted(type(self).data_loss)(self._conform(params), self.data)

    def grad(self, params):
        """∇F(θ) = (1/N) Σᵢ ∇fᵢ(θ)."""
        return self._value_and_grad(params)[1]

    def _value_and_grad(self, params):
        if self.on_disk:
            return chunked.value_and_grad(self, self._conform(params))
        return self.jitted(_data_value_and_grad)(self._conform(params), self.data)

    def batch_grad(self, params, idx):
        """(1/B) Σ_b ∇f_{idx_b}(θ): the minibatch gradient; repeated indices count each time."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            validation.fail("idx", "a non-empty 1-D array of integer indices", validation.shown(idx))
        if idx.min() < 0 or idx.max() >= self.n:
            validation.fail("idx", f"indices in [0, {self.n - 1}]",
                            f"indices from {idx.min()} to {idx.max()}")
        return self.jitted(type(self)._batch_grad)(self._conform(params), self.data, jnp.asarray(idx))

    def _conform(self, params):
        return pytrees.conform("params", params, self.params0)

    def defining_functions(self) -> tuple:
        """The per-example loss (as given: of θ, or of the model)."""
        return (self._defining_loss,)

    def heldout_mismatch(self, other: Problem) -> str | None:
        """Why ``other`` cannot serve as held-out data of this problem — another model, parameter shapes or
        label set — or None when it can: F_other(θ) is then the same loss on other examples."""
        if type(other) is not type(self):
            return f"a {type(other).__name__}, not a {type(self).__name__}"
        own, theirs = (jax.tree.flatten(jax.tree.map(lambda leaf: f"{leaf.dtype}{list(leaf.shape)}", problem.params0))
                       for problem in (self, other))
        if str(own[1]) != str(theirs[1]) or own[0] != theirs[0]:
            return f"parameters {', '.join(theirs[0])}, not {', '.join(own[0])}"
        if getattr(other, "on_disk", False):
            return "data on disk (held-out data are evaluated whole, in memory)"
        if type(self) is FiniteSum and other._defining_loss is not self._defining_loss:
            return "another per-example loss function (give the training problem's own)"
        return None

    @cached_property
    def negation(self) -> Negation:
        """−F, the problem that maximizing F minimizes (built once, so its compiled runs are reused)."""
        return Negation(self)

    def __repr__(self) -> str:
        if self._split is not None:
            size = sum(leaf.size for leaf in jax.tree.leaves(self.params0))
            return f"{type(self).__name__}(n={self.n}, {self.model_kind}, {size} parameters)"
        shapes = jax.tree.map(lambda leaf: leaf.shape, self.params0)
        return f"{type(self).__name__}(n={self.n}, params shape {shapes})"


class Negation(FiniteSum):
    """−F for a finite sum F (each fᵢ becomes −fᵢ): maximizing F is minimizing this problem."""

    def __init__(self, original: FiniteSum):
        self.original = original
        super().__init__(original._example_loss, original.data, original.params0)
        self.constraint = original.constraint

    def _on_parameters(self, loss, params0):
        return loss, params0, self.original._split   # the original's θ and loss of θ

    def hyperparameters(self) -> dict[str, Any]:
        """The original problem's."""
        return self.original.hyperparameters()

    def _validated_data(self, data):
        return data, self.original.n   # the original's, already checked

    def example_losses(self, params, data) -> jax.Array:
        """(−fᵢ(θ))ᵢ."""
        return -self.original.example_losses(params, data)

    def masked_loss(self, params, data, idx, mask) -> jax.Array:
        """Minus the original's minibatch mean."""
        return -self.original.masked_loss(params, data, idx, mask)

    def penalty(self, params) -> jax.Array:
        """−r(θ)."""
        return -self.original.penalty(params)

    def batch_losses(self, params, data, idx) -> jax.Array:
        """Minus the original's (fᵢ − r)."""
        return -self.original.batch_losses(params, data, idx)

    def lipschitz(self) -> float | None:
        """∇(−F) = −∇F has the same Lipschitz constant."""
        return self.original.lipschitz()

    def unconstrained_optimal_value(self) -> float | None:
        """inf(−F) = −sup F."""
        supremum = self.original.supremum()
        return None if supremum is None else -supremum

    def supremum(self) -> float | None:
        """sup(−F) = −inf F."""
        infimum = self.original.unconstrained_optimal_value()
        return None if infimum is None else -infimum

    def diagnostics(self, params, data) -> dict:
        """The original problem's diagnostics."""
        return self.original.diagnostics(params, data)

    def data_accuracy(self, params, data) -> jax.Array:
        """The original classifier's accuracy (negating the loss changes no prediction)."""
        return self.original.data_accuracy(params, data)


def _data_value_and_grad(problem: FiniteSum, params, data):
    """(F(θ), ∇F(θ)) computed from ``data``: what :meth:`FiniteSum.loss` and :meth:`FiniteSum.grad` compile, once
    per problem (:meth:`Problem.jitted`, so that a pickled problem carries no compiled function)."""
    return jax.value_and_grad(problem.data_loss)(params, data)


def finite_sum(loss: ExampleLoss, data: Data, params0: Params) -> FiniteSum:
    """F(θ) = (1/N) Σᵢ loss(θ, exampleᵢ) for your own per-example loss.

    Parameters
    ----------
    loss : callable
        ``loss(params, example) -> scalar``, written in ``jax.numpy`` (JAX differentiates it); for a model of
        Equinox or Flax NNX, ``loss(model, example)``.
    data : pytree of arrays
        Every leaf has the same leading length N; example i is row i of every leaf. Leaves may be
        memory-mapped files or Parquet columns (``sl.parquet_columns``): runs then stream them.
    params0 : pytree of arrays, Equinox module or Flax NNX model
        θ⁰; it fixes the parameters' structure, shapes and dtypes. A model's trainable arrays are θ (its
        floating-point arrays for Equinox, its ``nnx.Param`` state for Flax) and its other parts are held
        apart (:mod:`sgdlab.problems.models`); ``problem.model(result.params)`` is the trained model.

    Returns
    -------
    FiniteSum
        The problem, with ``loss``, ``grad`` and ``batch_grad``; L, θ* and p* unknown (give a step).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> problem = sl.finite_sum(lambda theta, c: 0.5 * (theta - c) ** 2, np.array([1.0, 2.0, 6.0]), 0.0)
    >>> problem.n, float(problem.loss(3.0)), float(problem.grad(0.0))
    (3, 2.333333333333333, -3.0)
    >>> round(float(sl.minimize(problem, step=0.5, epochs=60).params), 6)   # gradient descent: θ* = mean(c)
    3.0
    """
    return FiniteSum(loss, data, params0)


def _validated_data(data):
    """Check that data is a non-empty pytree of finite arrays with one leading length N."""
    leaves, treedef = jax.tree.flatten(data)
    if not leaves:
        validation.fail("data", "a pytree of arrays with a leading axis of length N", validation.shown(data),
                        error=TypeError)
    arrays: list[Any] = []
    for position, leaf in enumerate(leaves):
        if is_row_sharded(leaf):
            arrays.append(_checked_shards(leaf))
            continue
        array = leaf if is_on_disk(leaf) else np.asarray(leaf)
        if array.ndim == 0:
            validation.fail("data", "arrays with a leading axis of length N", f"a scalar at leaf {position}")
        if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
            array = _checked_in_chunks(array) if is_on_disk(array) else validation.finite_array("data", array)
        arrays.append(array)
    lengths = {array.shape[0] for array in arrays}
    if len(lengths) > 1:
        validation.fail("data", "arrays sharing one leading length N", f"leading lengths {sorted(lengths)}")
    (n,) = lengths
    if n == 0:
        validation.fail("data", "non-empty (N >= 1)", "N = 0")
    on_disk = any(is_on_disk(array) for array in arrays)
    if on_disk and any(is_row_sharded(array) for array in arrays):
        validation.fail("data", "either files on disk or rows sharded over devices", "both")
    return jax.tree.unflatten(treedef, [a if on_disk or is_row_sharded(a) else jnp.asarray(a) for a in arrays]), n


def _checked_shards(array: jax.Array) -> jax.Array:
    """A leaf sharded over devices, checked finite in the shards this process holds."""
    if jnp.issubdtype(array.dtype, jnp.inexact):
        for shard in array.addressable_shards:
            validation.finite_array("data", np.asarray(shard.data))
    return array


def _checked_in_chunks(array, rows: int = 65_536):
    """A leaf on disk checked finite a block of rows at a time (never read whole)."""
    for start in range(0, array.shape[0], rows):
        validation.finite_array("data", array[start:start + rows])
    return array


def _check_scalar_loss(loss, params0, data):
    """The per-example loss must map (params, one example) to a scalar."""
    example = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), data)
    shape = jax.eval_shape(loss, params0, example)
    if getattr(shape, "shape", None) != ():
        validation.fail("loss", "a function returning a scalar for one example", f"output {shape}")
