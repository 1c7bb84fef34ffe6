"""The peers a skilled user would pick, written the way such a user would write them (for benchmarks/run.py).

Each builder takes the data and the run's settings and returns ``epoch(indices)``: one epoch over the
given index array (S × B, drawn outside the timing, which is the harder comparison for sgdlab: its own
epoch draws its plan), returning when the work is done. Nothing here is sgdlab's code:

- :func:`jax_least_squares_scan`, :func:`jax_network_scan`: a jitted ``lax.scan`` over the batches, the
  parameters carried, each step the gradient of the batch's mean loss (``jax.grad`` for the network);
- :func:`torch_compiled_network`: ``torch.compile`` of a functional training step
  (``torch.func.grad``, the batch gathered inside the compiled function), called once a batch;
- :func:`lightning_epoch` and :func:`vowpal_wabbit_epoch`: seconds an epoch of scikit-learn-contrib
  lightning's ``SGDClassifier`` and of Vowpal Wabbit's ``--sgd`` reading its cache file, both as
  (T(1 + m epochs) − T(1 epoch)) / m, so their setup cancels.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def per_epoch(run, extra: int, calls: int = 2) -> float:
    """(T(1 + extra epochs) − T(1 epoch)) / extra, each T the fastest of ``calls`` calls of ``run(epochs)`` (the
    seconds of one run of that many epochs), so one disturbed call cannot make the difference negative."""
    return (min(run(1 + extra) for _ in range(calls)) - min(run(1) for _ in range(calls))) / extra


def jax_least_squares_scan(X: np.ndarray, y: np.ndarray, alpha: float):
    """θ ← θ − α X_Iᵀ(X_I θ − y_I)/|I| for each batch I, θ⁰ = 0, in one compiled scan an epoch."""
    import jax
    import jax.numpy as jnp

    data = (jnp.asarray(X), jnp.asarray(y))

    @jax.jit
    def epoch(theta, X, y, indices):
        def step(theta, batch):
            rows, targets = X[batch], y[batch]
            return theta - alpha * rows.T @ (rows @ theta - targets) / batch.shape[0], None

        return jax.lax.scan(step, theta, indices)[0]

    theta0 = jnp.zeros(X.shape[1], X.dtype)
    return lambda indices: jax.block_until_ready(epoch(theta0, *data, jnp.asarray(indices)))


def _network_init(p: int, hidden: int, classes: int, dtype, seed: int = 0) -> list[np.ndarray]:
    """W₁ (p × H), b₁, W₂ (H × K), b₂: He-scaled normal weights, zero biases."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(p, hidden)) * np.sqrt(2 / p)).astype(dtype), np.zeros(hidden, dtype),
            (rng.normal(size=(hidden, classes)) * np.sqrt(2 / hidden)).astype(dtype), np.zeros(classes, dtype)]


def jax_network_scan(X: np.ndarray, labels: np.ndarray, hidden: int, alpha: float):
    """A ReLU network p-H-K with the softmax cross-entropy: θ ← θ − α ∇(mean loss of the batch), in one compiled
    scan an epoch."""
    import jax
    import jax.numpy as jnp

    def loss(params, rows, targets):
        W1, b1, W2, b2 = params
        logits = jax.nn.relu(rows @ W1 + b1) @ W2 + b2
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, targets[:, None], 1)[:, 0])

    @jax.jit
    def epoch(params, X, labels, indices):
        def step(params, batch):
            gradient = jax.grad(loss)(params, X[batch], labels[batch])
            return [w - alpha * g for w, g in zip(params, gradient, strict=True)], None

        return jax.lax.scan(step, params, indices)[0]

    params0 = [jnp.asarray(w) for w in _network_init(X.shape[1], hidden, int(labels.max()) + 1, X.dtype)]
    data = (jnp.asarray(X), jnp.asarray(labels.astype(np.int32)))
    return lambda indices: jax.block_until_ready(epoch(params0, *data, jnp.asarray(indices)))


def torch_compiled_network(X: np.ndarray, labels: np.ndarray, hidden: int, alpha: float):
    """The same network and step in PyTorch: ``torch.compile`` of a functional step (gather, forward, backward by
    ``torch.func.grad``, update), called from a Python loop over the epoch's batches."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    rows, targets = torch.from_numpy(X), torch.from_numpy(labels.astype(np.int64))

    def loss(params, batch_rows, batch_targets):
        W1, b1, W2, b2 = params
        return F.cross_entropy(torch.relu(batch_rows @ W1 + b1) @ W2 + b2, batch_targets)

    @torch.compile(dynamic=False)
    def step(params, batch):
        gradient = torch.func.grad(loss)(params, rows[batch], targets[batch])
        return [w - alpha * g for w, g in zip(params, gradient, strict=True)]

    params0 = [torch.from_numpy(w) for w in _network_init(X.shape[1], hidden, int(labels.max()) + 1, X.dtype)]

    def epoch(indices):
        params = params0
        for batch in torch.from_numpy(np.asarray(indices, np.int64)):
            params = step(params, batch)
        return params

    return epoch


def lightning_epoch(X, labels, l2: float, alpha: float, repeats: int, extra: int = 10) -> float | None:
    """Seconds an epoch of lightning's SGDClassifier (log loss, ℓ2 weight ``l2``, constant step α, shuffled,
    no intercept), the fastest over ``repeats`` of (T(1 + extra epochs) − T(1 epoch)) / extra; None without
    lightning."""
    try:
        from lightning.classification import SGDClassifier
    except ImportError:
        return None

    def fit(passes: int) -> float:
        model = SGDClassifier(loss="log", penalty="l2", alpha=l2, learning_rate="constant", eta0=alpha,
                              max_iter=passes, shuffle=True, fit_intercept=False, random_state=0)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, labels)
        return time.perf_counter() - started

    fit(1)
    return min(per_epoch(fit, extra) for _ in range(repeats))


def vowpal_wabbit_epoch(X, labels, alpha: float, repeats: int, extra: int = 4) -> float | None:
    """Seconds an epoch of Vowpal Wabbit's plain SGD (``--sgd``, logistic loss, learning rate α, 2²⁰ weights)
    reading its binary cache file, the fastest over ``repeats`` of (T(1 + extra passes) − T(1 pass)) / extra; None
    without the ``vowpalwabbit`` package."""
    try:
        import vowpalwabbit
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        text, cache = Path(folder) / "data.vw", Path(folder) / "data.cache"
        _write_vowpal_wabbit_text(X, labels, text)
        options = (f"--sgd --loss_function logistic -l {alpha} --holdout_off --quiet --cache_file {cache} "
                   f"--noconstant -b 20")

        def run(passes: int) -> float:
            started = time.perf_counter()
            workspace = vowpalwabbit.Workspace(f"{options} -d {text} --passes {passes}")
            workspace.run_parser()
            workspace.finish()
            return time.perf_counter() - started

        run(1)   # writes the cache file; later runs read it
        return min(per_epoch(run, extra) for _ in range(repeats))


def _write_vowpal_wabbit_text(X, labels, path: Path) -> None:
    """Rows of CSR ``X`` in VW's text format: "label | index:value …", labels ±1."""
    X = X.tocsr()
    signs = np.where(np.asarray(labels) > 0, 1, -1)
    with path.open("w") as out:
        for i in range(X.shape[0]):
            start, end = X.indptr[i], X.indptr[i + 1]
            features = " ".join(f"{j}:{v:g}" for j, v in zip(X.indices[start:end], X.data[start:end], strict=True))
            out.write(f"{signs[i]} | {features}\n")

