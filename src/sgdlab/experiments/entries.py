"""Objects named in experiment files and on the command line, read through their kind's registry.

Every registered factory can be named with any of its parameters (:mod:`sgdlab._helpers.registry`):

* as text, ``NAME``, ``NAME:x`` (x sets the factory's first parameter, as in ``heavy_ball:0.9``) or
  ``NAME:key=value[:key=value…]`` (``importance:weights=lipschitz``, ``shuffled_chunks:chunk=64:drop_last=true``);
* in an experiment file, also as an inline table, ``{ name = "heavy_ball", beta = 0.9 }``.

A value written as text is read as TOML reads it (``true``, ``1e-3``, ``"text"``); a bare word stays text.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from sgdlab._helpers import validation
from sgdlab._helpers.registry import Registry


def parse_value(text: str) -> Any:
    """``text`` as a TOML value (a number, true/false, a list, a quoted string), else the text itself."""
    try:
        return tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def read_text(text: Any, registry: Registry, where: str) -> tuple[str, dict[str, Any]]:
    """(name, settings) of text ``NAME[:x | :key=value…]``, each key checked against the factory's parameters."""
    if not isinstance(text, str):
        validation.fail(where, f"text naming a {registry.kind}: {usage(registry)}", validation.shown(text),
                        error=TypeError)
    name, *parts = [part.strip() for part in text.split(":")]
    parameters = list(registry.parameters(registry.named(name, where)))
    settings: dict[str, Any] = {}
    for part in parts:
        key, equals, value = part.partition("=")
        if not equals:   # a bare value sets the first parameter
            key, value = (parameters[0] if parameters else ""), part
        if key not in parameters:
            validation.fail(where, f"{name}:key=value with key one of {_listed(parameters)}" if parameters
                            else f"{name} alone (it takes no parameters)", validation.shown(text))
        settings[key.strip()] = parse_value(value)
    return name, settings


def read_table(table: Any, registry: Registry, where: str) -> tuple[str, dict[str, Any]]:
    """(name, settings) of text (:func:`read_text`) or a table ``{name = NAME, key = value, …}``."""
    if isinstance(table, Mapping):
        settings = dict(table)
        if "name" not in settings:
            validation.fail(where, f"a table with a name key ({registry.allowed()}) and the {registry.kind}'s "
                            "parameters", f"keys {sorted(settings)}")
        return settings.pop("name"), settings
    return read_text(table, registry, where)


def build(spec: Any, registry: Registry, where: str) -> Any:
    """The object ``spec`` (text or a table) names, built by its registered factory."""
    name, settings = read_table(spec, registry, where)
    return registry.build(name, settings, where)


def usage(registry: Registry) -> str:
    """How a kind's entries are written, e.g. 'plain, heavy_ball:beta, …, saga'."""
    return ", ".join(name + "".join(f":{parameter}" for parameter in list(registry.parameters(name))[:1])
                     for name in registry)


def _listed(parameters: list[str]) -> str:
    return ", ".join(parameters) if parameters else "no parameters"
