"""Capabilities an object declares for its own class only.

What an engine runs natively, which loss kernel stands for a model, which theorem applies to a sampler or a
method: each is an attribute written in the body of the class that has it, and read with :func:`declared`,
which looks at the object's own class and never at its parents. A subclass that changes behaviour (another
``apply``, other ``margin_losses``) therefore does not inherit its parent's claims: it has none until it
declares them again, and what has none is refused (by the native engine) or told "no theorem known".
"""

from __future__ import annotations

from typing import Any


def declared(obj: Any, attribute: str, default: Any = None) -> Any:
    """``attribute`` as the body of ``type(obj)`` itself writes it, else ``default`` (never a parent's)."""
    return class_declared(type(obj), attribute, default)


def class_declared(cls: type, attribute: str, default: Any = None) -> Any:
    """``attribute`` as the body of ``cls`` itself writes it, else ``default`` (never a parent's): what
    :func:`declared` reads, asked of a class before any object of it is made."""
    return vars(cls).get(attribute, default)


def qualified_name(obj: Any) -> str:
    """'module.Class' of an object's class: what tells apart a subclass from its parent in a run's identity."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
