"""The size of a step, as the native engine's choices measure it (no Numba here: the engine choice
reads it for every run)."""

from __future__ import annotations

import numpy as np


def step_work(problem, batch_size: int) -> int:
    """Multiply-adds of a step's forward pass: B · p · K (linear models), B · H · (p + K) (a network)."""
    if is_network(problem):
        return batch_size * sum(np.size(layer["W"]) for layer in problem.params0)
    return batch_size * np.size(problem.params0)


def is_network(problem) -> bool:
    """Whether ``problem`` is a ReLU network (sgdlab.mlp), whose loop is sgdlab.engines.native.network_sgd."""
    return getattr(problem, "hidden", None) is not None
