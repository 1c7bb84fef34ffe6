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


def reference_run(per_example_gradients, theta0, n, sampler, alpha, epochs, seed):
    """θᵏ⁺¹ = θᵏ − α(k) · mean_{i ∈ Iₖ} ∇fᵢ(θᵏ), Iₖ taken from sampler.batches(n, epoch, seed)."""
    theta, k = np.array(theta0, dtype=np.float64), 0
    for epoch in range(epochs):
        for idx in sampler.batches(n, epoch=epoch, seed=seed):
            theta = theta - alpha(k) * per_example_gradients(theta, idx).mean(axis=0)
            k += 1
    return theta
