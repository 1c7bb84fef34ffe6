"""Signatures for functions that take their options as ``**options: Unpack[SomeTypedDict]``: the
keywords are written once (in the TypedDict, with their defaults in one dict), and ``help()``,
``inspect.signature`` and editors still show every keyword with its default."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ForwardRef, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


def with_keywords(keywords: type, defaults: dict[str, Any]) -> Callable[[Function], Function]:
    """A decorator giving a function whose last parameter is ``**options`` the signature with each of the
    ``keywords`` TypedDict's names as a keyword-only parameter, its annotation and its default."""

    def decorate(function: Function) -> Function:
        signature = inspect.signature(function)
        *leading, _options = signature.parameters.values()
        spelled = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name],
                                     annotation=_written(annotation))
                    for name, annotation in keywords.__annotations__.items()]
        function.__signature__ = signature.replace(parameters=[*leading, *spelled])  # type: ignore[attr-defined]
        return function

    return decorate


def _written(annotation: Any) -> Any:
    """An annotation as written in the source (a TypedDict keeps its annotations as forward references)."""
    return annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation
