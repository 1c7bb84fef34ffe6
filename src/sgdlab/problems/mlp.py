"""ReLU networks (multilayer perceptrons) as finite sums.

For widths d₀ = p, d₁, …, d_L (``hidden``) and an output layer, the network is
h⁰ = x, zˡ = Wˡᵀhˡ⁻¹ + bˡ, hˡ = relu(zˡ) for the hidden layers, and f(x) = W_outᵀh^L + b_out.
Parameters are a list of {"W", "b"} dicts, one per layer, with He initialization
W ~ N(0, 2/fan_in) and b = 0 (drawn from ``seed``). The per-example loss is the softmax
cross-entropy for classification (labels: any K ≥ 2 values, ``classes`` in sorted order) and
½‖f(x) − y‖² for regression (y of shape (N,) or (N, d)).

ReLU is not differentiable at 0; JAX's ``jax.nn.relu`` takes relu'(0) = 0. The history gains a
column ``zero_preactivations``: how many pre-activations zˡᵢ (over all N examples and hidden units)
are exactly 0 at each recorded iterate, the points where that choice matters. In practice the
iterates essentially never hit a kink, and the column stays 0.

With one hidden layer, plain SGD epochs can run on the native loop (sgdlab.engines.native.network_sgd, the
same run as the JAX engine's); :meth:`MLP.native_data` gives it the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab._helpers.aliases import Features
from sgdlab._helpers.lazy import jax, jnp
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.problems.linear import class_labels, correct_fraction, design_matrix, known_classes
from sgdlab.problems.registry import FAMILIES
from sgdlab.problems.weights import example_weights, mean_one_scale

TASKS = ("classification", "regression")


def forward(params, x):
    """f(x) and the hidden pre-activations (z¹, …, z^L) of the network at one input x."""
    pre_activations = []
    hidden = x
    for layer in params[:-1]:
        z = hidden @ layer["W"] + layer["b"]
        pre_activations.append(z)
        hidden = jax.nn.relu(z)
    return hidden @ params[-1]["W"] + params[-1]["b"], pre_activations


def cross_entropy_loss(params, example):
    """fᵢ = logsumexp(f(xᵢ)) − f(xᵢ)_{yᵢ}."""
    x, label = example
    logits, _ = forward(params, x)
    return jax.nn.logsumexp(logits) - logits[label]


def squared_loss(params, example):
    """fᵢ = ½‖f(xᵢ) − yᵢ‖²."""
    x, target = example
    output, _ = forward(params, x)
    return 0.5 * jnp.sum((output - target) ** 2)


def weighted(loss):
    """The loss of examples (x, y, c) that carry their factor c: c · loss(θ, (x, y))."""
    def weighted_loss(params, example):
        x, target, scale = example
        return scale * loss(params, (x, target))
    return weighted_loss


class MLP(FiniteSum):
    """A ReLU network trained on (X, y) for ``task`` "classification" or "regression"."""

    #: The native engine runs this class's networks (of one hidden layer; read for the class itself only).
    native_network = True

    #: The weights wᵢ the problem was built with (None: unweighted), see :mod:`sgdlab.problems.weights`.
    sample_weight: np.ndarray | None = None
    #: The class labels in sorted order (None for regression).
    classes: np.ndarray | None = None

    def __init__(self, X, y, hidden=(64,), task: str = "classification", seed: int = 0, classes=None,
                 sample_weight=None, class_weight=None):
        X = _dense(design_matrix(X))
        if task not in TASKS:
            validation.fail("task", "one of " + ", ".join(TASKS), validation.shown(task))
        self.task, self.hidden, self.seed = task, _widths(hidden), validation.integer("seed", seed, low=0)
        if task == "classification":
            self.classes = labels = known_classes(class_labels(y, X), classes, "classification")
            targets, width, loss = np.searchsorted(labels, np.asarray(y)), labels.size, cross_entropy_loss
        else:
            self.classes = None
            targets = validation.finite_array("y", y, dtype=X.dtype)
            validation.same_length(("X", "y"), (X.shape[0], targets.shape[0]))
            width, loss = (1 if targets.ndim == 1 else targets.shape[1]), squared_loss
            targets = targets.reshape(len(targets), width)
        if class_weight is not None and task != "classification":
            validation.fail("class_weight", "left out for regression (it weighs a classifier's classes)",
                            validation.shown(class_weight))
        weights = example_weights(X.shape[0], sample_weight, class_weight, np.asarray(y))
        self.class_weight = class_weight
        params0 = he_initialization((X.shape[1], *self.hidden, width), self.seed, X.dtype)
        self.X, self.targets = X, targets
        if weights is None:
            super().__init__(loss, (X, targets), params0)
            return
        self.sample_weight = weights.values
        super().__init__(weighted(loss), (X, targets, mean_one_scale(weights).astype(X.dtype)), params0)

    @property
    def dtype(self) -> str:
        """The dtype of X, which every run computes in."""
        return np.dtype(self.X.dtype).name

    @property
    def is_classifier(self) -> bool:  # type: ignore[override]
        """True for the classification task."""
        return self.task == "classification"

    def with_data(self, X, y) -> MLP:
        """The same network (widths, task, classes, dtype, θ⁰) on other rows, e.g. held-out data (unweighted)."""
        X = _dense(design_matrix(X))
        X = X if X.dtype == self.X.dtype else X.astype(self.X.dtype)
        classes = self.classes if self.is_classifier else None
        return MLP(X, y, self.hidden, self.task, self.seed, classes)

    def heldout_mismatch(self, other) -> str | None:
        """FiniteSum's reasons, and another task or set of classes."""
        reason = super().heldout_mismatch(other)
        if reason is None and other.task != self.task:
            return f"the task {other.task!r}, not {self.task!r}"
        theirs, ours = np.asarray(other.classes), np.asarray(self.classes)
        if reason is None and self.is_classifier and not np.array_equal(theirs, ours):
            return f"the classes {theirs.tolist()[:10]}, not {ours.tolist()[:10]}"
        return reason

    def data_accuracy(self, params, data) -> jax.Array:
        """The fraction of examples whose largest output is their class's (ties: the first, as :meth:`predict`)."""
        X, targets = data[:2]
        outputs = jax.vmap(lambda x: forward(params, x)[0])(X)
        return correct_fraction(jnp.argmax(outputs, axis=-1) == targets.reshape(-1), outputs.dtype)

    @property
    def is_sparse(self) -> bool:
        """False: a network's X is dense (:func:`_dense`)."""
        return False

    def native_data(self) -> tuple:
        """(X, targets) as the native loop (sgdlab.engines.native.network_sgd) takes them: X dense and C-ordered in
        its own float dtype; targets as float64 N × 1 class indices (classification) or N × d outputs."""
        return self._native_data

    @cached_property
    def _native_data(self) -> tuple:
        targets = np.asarray(self.targets, dtype=np.float64)
        return np.ascontiguousarray(np.asarray(self.X)), targets.reshape(len(targets), -1)

    def diagnostics(self, params, data) -> dict:
        """zero_preactivations: the number of hidden pre-activations exactly 0, over all examples."""
        pre_activations = jax.vmap(lambda x: forward(params, x)[1])(data[0])
        return {"zero_preactivations": sum(jnp.sum(z == 0) for z in pre_activations)}

    def predict(self, params, X) -> np.ndarray:
        """Classes (classification) or outputs (regression; shape (N,) for a 1-D target)."""
        outputs = np.asarray(jax.vmap(lambda x: forward(params, x)[0])(jnp.asarray(design_matrix(X))))
        if self.task == "classification":
            return np.asarray(self.classes)[np.argmax(outputs, axis=1)]
        return outputs[:, 0] if outputs.shape[1] == 1 else outputs

    def accuracy(self, params, X, y) -> float:
        """The fraction of rows of X whose predicted class equals y (classification only)."""
        if self.task != "classification":
            validation.fail("task", "classification for accuracy", validation.shown(self.task))
        y = np.asarray(y)
        known_classes(y, self.classes, "accuracy")
        return float(np.mean(self.predict(params, X) == y))


def he_initialization(widths: tuple[int, ...], seed: int, dtype) -> list[dict]:
    """Layers {W: (fan_in, fan_out) ~ N(0, 2/fan_in), b: zeros} for consecutive ``widths``."""
    rng = np.random.default_rng(seed)
    return [{"W": (rng.normal(size=(fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype),
             "b": np.zeros(fan_out, dtype=dtype)} for fan_in, fan_out in itertools.pairwise(widths)]


def _widths(hidden) -> tuple[int, ...]:
    widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1 for w in widths):
        validation.fail("hidden", "a tuple of layer widths, each an integer >= 1", validation.shown(hidden))
    return tuple(int(w) for w in widths)


@FAMILIES.register(data="digits", classifier=True)
def mlp(X: Features, y: ArrayLike, hidden: int | Sequence[int] = (64,), task: str = "classification", seed: int = 0,
        classes: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
        class_weight: str | dict | None = None) -> MLP:
    """A ReLU network f(x) = W_Lᵀ relu(… relu(W₁ᵀx + b₁) …) + b_L, trained on (X, y): the finite sum of its
    per-example losses (cross-entropy for classification, ½‖f(x) − y‖² for regression); with weights wᵢ their
    weighted mean Σᵢ wᵢ fᵢ / Σᵢ wᵢ (:mod:`sgdlab.problems.weights`; run by the JAX engine).

    Parameters
    ----------
    X : array, N × p (dense; a sparse matrix is refused)
        The inputs.
    y : array
        Class labels (classification) or targets, N or N × d (regression).
    hidden : int or sequence of int, default (64,)
        The hidden layers' widths.
    task : {"classification", "regression"}, default "classification"
        The loss.
    seed : int, default 0
        Seeds the He initialization of θ⁰ (W ~ N(0, 2/fan_in), b = 0).
    classes : array, optional
        Every class label (default: those found in y), so held-out data may lack some.
    sample_weight : array of N nonnegative numbers, optional
        sᵢ, as scikit-learn's ``fit(sample_weight=)``: wᵢ = sᵢ (times the class weight).
    class_weight : "balanced" or dict, optional
        Classification only: "balanced" gives N / (K · #class), a dict maps a label to its weight (1 if absent).

    Returns
    -------
    MLP
        The problem (θ a list of layers {"W", "b"}), with ``predict(params, X)`` and ``accuracy``; its
        history records ``zero_preactivations`` (hidden units exactly at 0). L is not known, so give a step.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.random.default_rng(0).normal(size=(60, 4))
    >>> net = sl.mlp(X, np.arange(60) % 3, hidden=(8,))
    >>> [{name: leaf.shape for name, leaf in layer.items()} for layer in net.params0]
    [{'W': (4, 8), 'b': (8,)}, {'W': (8, 3), 'b': (3,)}]
    >>> result = sl.minimize(net, sl.shuffled_cyclic(10), step=0.05, epochs=5)
    >>> result.status, "zero_preactivations" in result.history
    ('max_epochs', True)
    """
    return MLP(X, y, hidden, task, seed, classes, sample_weight, class_weight)


def _dense(X):
    """X, refused when sparse: a network's layers read dense rows (nothing is densified behind the caller's back)."""
    if scipy.sparse.issparse(X):
        size = X.shape[0] * X.shape[1] * X.dtype.itemsize
        validation.fail("X", "a dense array for mlp (its layers read dense rows)", f"a sparse {X.shape[0]} × "
                        f"{X.shape[1]} matrix (X.toarray() would take {size / 2**20:.0f} MiB)", error=TypeError)
    return X
