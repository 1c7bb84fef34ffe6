"""Models of JAX's model libraries as θ: an Equinox module or a Flax NNX model, split into the arrays SGD trains —
the parameter pytree every sampler, method, engine and theorem works on — and the parts it does not, held apart
and put back around θ whenever the loss is called.

- **Equinox** (``equinox.Module``): θ = ``eqx.filter(model, eqx.is_inexact_array)``, its floating-point arrays,
  as Equinox itself differentiates a module (``eqx.filter_grad``); the rest (activations, integer fields) is static.
- **Flax NNX** (``flax.nnx.Module``): θ = the ``nnx.Param`` state of ``nnx.split(model, nnx.Param, ...)``; other
  state (batch statistics, RNG streams) is held fixed at its value when the problem was made.

Neither library is imported here: a model can only be one of theirs when its library is already loaded.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Split:
    """A model taken apart: ``params`` its trainable arrays (θ⁰), ``rebuild(θ)`` the model with θ in place,
    ``kind`` what it is ("Equinox MLP")."""

    params: Any
    rebuild: Callable[[Any], Any]
    kind: str


def split_model(model) -> Split | None:
    """An Equinox module or a Flax NNX model taken apart, or None for anything else (a plain pytree of arrays is
    θ itself)."""
    equinox = sys.modules.get("equinox")
    if equinox is not None and isinstance(model, equinox.Module):
        params, static = equinox.partition(model, equinox.is_inexact_array)
        return Split(params, lambda theta: equinox.combine(theta, static), f"Equinox {type(model).__name__}")
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(model, nnx.Module):
        graph, params, rest = nnx.split(model, nnx.Param, ...)
        return Split(params, lambda theta: nnx.merge(graph, theta, rest), f"Flax NNX {type(model).__name__}")
    return None


def on_model(loss: Callable, rebuild: Callable[[Any], Any]) -> Callable:
    """The per-example loss of θ, from the user's ``loss(model, example)``."""

    def example_loss(theta, example):
        return loss(rebuild(theta), example)

    return example_loss
