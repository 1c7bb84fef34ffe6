"""JAX, loaded on first use: sgdlab's vocabulary (its registries of samplers, methods, schedules, constraints and
problem families) imports without it, so the command line refuses a mistyped name or step at once.

``from sgdlab._helpers.lazy import jax, jnp`` gives stand-ins for ``jax`` and ``jax.numpy``: the first attribute
read imports the module (the stand-in then holds its names, so later reads cost what a module's do). What a module
must tell JAX when it is defined — a class registered as a pytree — is said with :func:`with_jax`, carried out
right after JAX is imported, by whichever route (wrapt's post-import hook), or at once when it already is.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import wrapt

Class = TypeVar("Class", bound=type)


class _OnFirstUse(types.ModuleType):
    """A module imported when one of its attributes is first read."""

    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)   # later reads find the names here
        return getattr(module, name)


if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = _OnFirstUse("jax"), _OnFirstUse("jax.numpy")


def with_jax(tell: Callable[[Any], Any]) -> None:
    """``tell(jax)`` once JAX is imported: now if it is, else right after it is."""
    wrapt.register_post_import_hook(tell, "jax")


def pytree_dataclass(cls: Class) -> Class:
    """``cls`` (a dataclass) registered as a pytree whose leaves are its fields not marked static
    (``jax.tree_util.register_dataclass``), once JAX is imported."""
    with_jax(lambda jax: jax.tree_util.register_dataclass(cls))
    return cls


def static_pytree(cls: Class) -> Class:
    """``cls`` registered as a pytree without leaves, its instances compared by equality
    (``jax.tree_util.register_static``), once JAX is imported."""
    with_jax(lambda jax: jax.tree_util.register_static(cls))
    return cls
