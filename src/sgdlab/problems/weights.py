"""Weighted finite sums: F(θ) = Σᵢ wᵢ fᵢ(θ) / Σᵢ wᵢ, scikit-learn's ``fit(sample_weight=, class_weight=)``.

The built-in models keep the mean form F = (1/N) Σᵢ cᵢ ℓᵢ(θ) + r(θ) with cᵢ = N wᵢ / Σw (mean 1), so every
sampler, step rule and theorem stated for a mean applies unchanged: the weight enters each example's loss ℓᵢ,
not the penalty r that every term shares (as scikit-learn's SGDClassifier weighs its updates). Integer weights
give the F, ∇F, θ* and p* of the rows repeated that many times.
"""

from __future__ import annotations

import numpy as np

from sgdlab._helpers import validation
from sgdlab._helpers.lazy import jax
from sgdlab.samplers import ExampleWeights


def example_weights(n: int, sample_weight=None, class_weight=None, labels: np.ndarray | None = None
                    ) -> ExampleWeights | None:
    """The weights wᵢ = sᵢ · k_{yᵢ} of N examples from ``sample_weight`` (sᵢ, N nonnegative numbers) and a
    classifier's ``class_weight`` (k: "balanced", N / (K · #{i : yᵢ = y}) for the K classes present, as
    scikit-learn's ``compute_class_weight``; or a dict from label to weight, 1 for labels it lacks); None
    when neither is given."""
    if sample_weight is None and class_weight is None:
        return None
    weights = np.ones(n) if sample_weight is None else ExampleWeights(sample_weight, name="sample_weight").values
    if weights.size != n:
        validation.fail("sample_weight", f"N = {n} numbers, one a row", f"{weights.size}")
    if class_weight is not None:
        weights = weights * _class_factors(class_weight, np.asarray(labels))
    return ExampleWeights(weights, name="sample_weight" if class_weight is None else "class_weight")


def _class_factors(class_weight, labels: np.ndarray) -> np.ndarray:
    """k_{yᵢ} for every label yᵢ (see :func:`example_weights`)."""
    found, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if isinstance(class_weight, str) and class_weight == "balanced":
        return (labels.size / (found.size * counts))[codes]
    if not isinstance(class_weight, dict):
        validation.fail("class_weight", "'balanced' or a dict from class label to weight",
                        validation.shown(class_weight))
    unknown = [label for label in class_weight if label not in set(found.tolist())]
    if unknown:
        validation.fail("class_weight", f"weights of labels among {found.tolist()[:10]}", f"labels {unknown[:5]}")
    factors = np.array([float(class_weight.get(label, 1.0)) for label in found.tolist()])
    if not np.all(np.isfinite(factors)) or np.any(factors < 0):
        validation.fail("class_weight", "nonnegative finite weights", str(class_weight))
    return factors[codes]


def mean_one_scale(weights: ExampleWeights) -> np.ndarray:
    """cᵢ = N wᵢ / Σw, the factor of each example's loss in the mean form."""
    return weights.values.size * weights.probabilities


def scaled(losses: jax.Array, scale: jax.Array | None) -> jax.Array:
    """cᵢ ℓᵢ for the losses ℓᵢ and their factors cᵢ (the losses themselves when unweighted)."""
    return losses if scale is None else scale * losses
