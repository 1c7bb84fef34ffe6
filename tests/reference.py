"""A slow, obvious reference: plain NumPy, one step at a time, per-example gradients by hand.

It shares nothing with the compiled engine but the samplers' plans (``sampler.batches``), which
tests check separately, so agreement to 1e-10 means the engine computes exactly the run the
theory describes.
"""

import numpy as np


def least_squares_gradients(theta, X, y):
    """Rows ∇fᵢ(θ) = (xᵢᵀθ − yᵢ) xᵢ for fᵢ = ½(xᵢᵀθ − yᵢ)²."""
    return (X @ theta - y)[:, None] * X


def logistic_gradients(theta, X, y, l2=0.0):
    """Rows ∇fᵢ(θ) = −yᵢ σ(−yᵢ xᵢᵀθ) xᵢ + λθ for yᵢ ∈ {−1, 1}."""
    margin = y * (X @ theta)
    weight = -y / (1.0 + np.exp(margin))
    return weight[:, None] * X + l2 * theta


def softmax_gradients(W, X, labels, l2=0.0):
    """Slices ∇fᵢ(W) = xᵢ (softmax(xᵢᵀW) − e_{yᵢ})ᵀ + λW, stacked along axis 0."""
    logits = X @ W
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(len(labels)), labels] -= 1.0
    return X[:, :, None] * probs[:, None, :] + l2 * W


def reference_run(per_example_gradients, theta0, n, sampler, alpha, epochs, seed, steps=None):
    """θᵏ⁺¹ = θᵏ − α(k) · mean_{i ∈ Iₖ} ∇fᵢ(θᵏ), Iₖ taken from sampler.batches(n, epoch, seed); for ``epochs``
    epochs, or the first ``steps`` steps of them."""
    theta, k = np.array(theta0, dtype=np.float64), 0
    for epoch in range(epochs):
        for idx in sampler.batches(n, epoch=epoch, seed=seed):
            if k == steps:
                return theta
            theta = theta - alpha(k) * per_example_gradients(theta, idx).mean(axis=0)
            k += 1
    return theta


def importance_run(per_example_gradients, theta0, n, sampler, alpha, epochs, seed, probabilities):
    """θᵏ⁺¹ = θᵏ − α(k) · (1/B) Σ_{i ∈ Iₖ} ∇fᵢ(θᵏ)/(N pᵢ), Iₖ (repeats counted) from sampler.batches(n, epoch, seed)
    and the probabilities p given by the caller."""
    theta, k = np.array(theta0, dtype=np.float64), 0
    for epoch in range(epochs):
        for idx in sampler.batches(n, epoch=epoch, seed=seed):
            weights = 1.0 / (n * probabilities[idx])
            theta = theta - alpha(k) * (weights[:, None] * per_example_gradients(theta, idx)).mean(axis=0)
            k += 1
    return theta


def svrg_run(per_example_gradients, theta0, n, sampler, alpha, epochs, seed, snapshot_flags):
    """SVRG: before a step whose flag is set, w̃ ← θ and μ ← (1/N) Σᵢ ∇fᵢ(w̃); each step
    θ ← θ − α ((1/b) Σ_{i ∈ I} (∇fᵢ(θ) − ∇fᵢ(w̃)) + μ). ``snapshot_flags(epoch, steps)`` gives an epoch's flags."""
    theta = np.array(theta0, dtype=np.float64)
    snapshot, mu = np.zeros_like(theta), np.zeros_like(theta)
    for epoch in range(epochs):
        batches = sampler.batches(n, epoch=epoch, seed=seed)
        for idx, flag in zip(batches, snapshot_flags(epoch, len(batches)), strict=True):
            if flag:
                snapshot, mu = theta.copy(), per_example_gradients(theta, np.arange(n)).mean(axis=0)
            correction = per_example_gradients(theta, idx) - per_example_gradients(snapshot, idx)
            theta = theta - alpha * (correction.mean(axis=0) + mu)
    return theta


def saga_run(data_gradients, penalty_gradient, theta0, n, sampler, alpha, epochs, seed):
    """SAGA with a table φᵢ of the data terms' gradients, started at θ⁰: each step
    θ ← θ − α ((1/b) Σ_{i ∈ I} (∇ℓᵢ(θ) − φᵢ) + (1/N) Σⱼ φⱼ + ∇r(θ)), then φᵢ ← ∇ℓᵢ(θ) for i ∈ I."""
    theta = np.array(theta0, dtype=np.float64)
    table = data_gradients(theta, np.arange(n))
    for epoch in range(epochs):
        for idx in sampler.batches(n, epoch=epoch, seed=seed):
            current = data_gradients(theta, idx)
            step = (current - table[idx]).mean(axis=0) + table.mean(axis=0) + penalty_gradient(theta)
            table[idx] = current
            theta = theta - alpha * step
    return theta


def herding(gradients: np.ndarray, visited: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The paper's balancing of one epoch, written from its description: gradients[t] is the gradient of example
    visited[t]; each centred gradient c = g − m joins the front when ⟨s, c⟩ ≤ 0 (s += c), else the back (s −= c),
    which fills from the end. Returns the next order."""
    running, front, back = np.zeros_like(mean), [], []
    for gradient, index in zip(gradients, visited, strict=True):
        centred = gradient - mean
        if running @ centred <= 0:
            running, front = running + centred, [*front, index]
        else:
            running, back = running - centred, [*back, index]
    return np.array(front + back[::-1])


def grab_run(per_example, theta, n, batch_size, alpha, epochs, first_order):
    """SGD over GraB's orders, one example's gradient at a time (the NumPy reference run): each step averages
    ∇fᵢ(θ) over a block of the order, every gradient of the block (at the block's θ) is balanced."""
    order, mean = np.asarray(first_order), np.zeros_like(theta)
    for _ in range(epochs):
        visited, gradients = [], []
        for start in range(0, n, batch_size):
            block = order[start:start + batch_size]
            each = np.stack([per_example(theta, i) for i in block])
            visited.extend(block)
            gradients.extend(each)
            theta = theta - alpha * each.mean(axis=0)
        order, mean = herding(np.array(gradients), np.array(visited), mean), np.mean(gradients, axis=0)
    return theta, order, mean
