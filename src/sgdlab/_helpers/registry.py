"""One registry per kind of object (samplers, schedules, step rules, methods, averagings, problem families).

An entry is a public factory registered under a name where it is defined; its signature (names, defaults,
annotations) is its parameter schema. The command line's choices, the experiment files' keys, the messages'
"allowed: …" and the docs' lists are read from the registry, so a new entry — built in or a third party's —
is added in one line::

    from sgdlab.samplers import SAMPLERS

    @SAMPLERS.register
    def every_k(batch_size: int = 1, k: int = 2) -> EveryK: ...

A registry is a read-only mapping from name to factory (``SAMPLERS["cyclic"](4)``), and :meth:`Registry.build`
makes an object from settings given by name, each checked against the factory's parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from sgdlab._helpers import validation

Factory = TypeVar("Factory", bound=Callable[..., Any])


class Registry(Mapping[str, Callable[..., Any]]):
    """The public factories of one ``kind`` of object, by name (a mapping name → factory)."""

    def __init__(self, kind: str, skip: tuple[str, ...] = ()):
        #: The kind in words ("sampler"), for messages.
        self.kind = kind
        #: Leading parameters every factory of the kind takes positionally and a schema does not list (a problem
        #: family's X and y).
        self.skip = skip
        self._factories: dict[str, Callable[..., Any]] = {}
        self._facts: dict[str, dict[str, Any]] = {}

    def register(self, factory: Factory | None = None, *, name: str | None = None, **facts: Any) -> Any:
        """Register ``factory`` under ``name`` (default its ``__name__``), with what the entry says of itself to
        the layers above (``facts``, e.g. a problem family's example data set); usable as ``@REGISTRY.register``,
        ``@REGISTRY.register(name="...")`` or ``REGISTRY.register(factory, name="...")``. A name is registered
        once: a second factory under a taken name is refused (unless it is the same factory, registered again
        when its module is reloaded)."""

        def add(function: Factory) -> Factory:
            key = name or function.__name__
            known = self._factories.get(key)
            if known is not None and _qualified(known) != _qualified(function):
                validation.fail("name", f"a {self.kind} name not yet registered (taken: {', '.join(self)})",
                                repr(key), context=f"{self.kind}s.register")
            self._factories[key], self._facts[key] = function, facts
            return function

        return add if factory is None else add(factory)

    def unregister(self, name: str) -> None:
        """Take ``name`` out (a test's or a plugin's entry, when it is done)."""
        self._factories.pop(self.named(name, f"{self.kind}s.unregister"))
        self._facts.pop(name)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._factories[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def facts(self, name: str) -> dict[str, Any]:
        """What ``name``'s entry said of itself when it was registered."""
        return self._facts[name]

    def allowed(self) -> str:
        """'one of a, b, c': the registered names, for messages."""
        return "one of " + ", ".join(self)

    def parameters(self, name: str) -> dict[str, inspect.Parameter]:
        """The settable parameters of ``name``'s factory (its schema), in order."""
        parameters = list(inspect.signature(self[self.named(name)]).parameters.values())
        return {parameter.name: parameter for parameter in parameters[len(self.skip):]
                if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)}

    def named(self, name: Any, where: str | None = None) -> str:
        """``name`` when it is registered, else an error naming ``where`` (default the kind) and the names."""
        if not isinstance(name, str) or name not in self._factories:
            validation.fail(where or self.kind, self.allowed(), validation.shown(name))
        return name

    def build(self, name: Any, settings: Mapping[str, Any], where: str | None = None, *leading: Any) -> Any:
        """``name``'s factory called with ``leading`` positional arguments and ``settings`` by keyword, each key
        checked against its parameters (an unknown one is an error naming ``where`` and the keys allowed)."""
        factory, schema = self[self.named(name, where)], self.parameters(name)
        unknown = [key for key in settings if key not in schema]
        if unknown:
            keys = ", ".join(schema) or "none"
            validation.fail(f"{where or self.kind} {unknown[0]}", f"a parameter of {name} (its keys: {keys})",
                            f"unknown key {unknown[0]!r}")
        missing = [key for key, parameter in schema.items() if parameter.default is parameter.empty
                   and key not in settings]
        if missing:
            validation.fail(f"{where or self.kind} {missing[0]}", f"given for {name} (its keys: {', '.join(schema)})",
                            "nothing")
        return factory(*leading, **settings)

    def product(self, name: str) -> Any:
        """What ``name``'s factory makes, as its return annotation names it (a problem family's class)."""
        factory = self[self.named(name)]
        annotation = inspect.get_annotations(factory).get("return")
        return eval(annotation, vars(inspect.getmodule(factory))) if isinstance(annotation, str) else annotation

    def signature(self, name: str) -> str:
        """The entry as a call with its defaults, e.g. 'importance(batch_size=1, weights='lipschitz')'."""
        shown = [parameter.name if parameter.default is parameter.empty else f"{parameter.name}={parameter.default!r}"
                 for parameter in self.parameters(name).values()]
        return f"{name}({', '.join(shown)})"

    def __repr__(self) -> str:
        return f"<{self.kind} registry: {', '.join(self)}>"


def _qualified(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}"
