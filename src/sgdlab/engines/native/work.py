"""The size of a step, as the native engine's choices measure it (no Numba here: the engine choice
reads it for every run)."""

from __future__ import annotations

import numpy as np

from sgdlab._helpers.declared import declared

#: The losses (a problem's declared ``native_loss``) of the linear models of one margin: least squares, logistic.
SINGLE_MARGIN_LOSSES = ("squared", "logistic")
#: The methods' declared native kernels that the variance-reduced loop runs, on those models
#: (:mod:`sgdlab.engines.native.linear_variance_reduced`).
VARIANCE_REDUCED_KERNELS = ("saga", "svrg")


def step_work(problem, batch_size: int) -> int:
    """Multiply-adds of a step's forward pass: B · p · K (linear models), B · H · (p + K) (a network)."""
    if is_network(problem):
        return batch_size * sum(np.size(layer["W"]) for layer in problem.params0)
    return batch_size * np.size(problem.params0)


def is_network(problem) -> bool:
    """Whether ``problem`` is a ReLU network (sgdlab.mlp), whose loop is sgdlab.engines.native.network_sgd."""
    return bool(declared(problem, "native_network", False))


def is_sparse_single_margin(problem) -> bool:
    """Whether ``problem`` is a linear model of one margin (least squares, logistic) on CSR rows: the models whose
    gradient descent runs as two sparse products (:mod:`sgdlab.engines.native.linear_gd`)."""
    return declared(problem, "native_loss") in SINGLE_MARGIN_LOSSES and getattr(problem, "is_sparse", False)
