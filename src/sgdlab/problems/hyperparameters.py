"""What defines a problem beyond its data, θ⁰ and defining functions: its constructor's other arguments.

A run's identity (:mod:`sgdlab.run.identity`) hashes a problem's class, its data, θ⁰, its defining functions
and these hyperparameters, so two problems that differ in any one of them (an ℓ2 weight, Huber's δ, a network's
widths) never share a saved run. A family declares them by keeping each constructor argument as an attribute of
the same name (or of the name with a leading underscore); a family that keeps one under another name overrides
:meth:`~sgdlab.problems.base.Problem.hyperparameters`. One that does neither is refused, never fingerprinted
without it.
"""

from __future__ import annotations

import inspect
from typing import Any

#: Constructor arguments that are the problem's data, θ⁰ or defining functions, which the identity hashes as such.
DATA_ARGUMENTS = frozenset({"X", "y", "x", "data", "params0", "loss", "sample", "original"})

_MISSING = object()


def constructor_arguments(problem: Any) -> dict[str, Any]:
    """{name: value} of every argument of ``type(problem).__init__`` other than its data (DATA_ARGUMENTS), read
    from the problem's attribute of that name (or ``_name``); a TypeError naming the argument when it kept none."""
    parameters = inspect.signature(type(problem).__init__).parameters.values()
    names = [parameter.name for parameter in parameters if parameter.name != "self" and parameter.name not in
             DATA_ARGUMENTS and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]
    values = {name: _kept(problem, name) for name in names}
    missing = [name for name, value in values.items() if value is _MISSING]
    if missing:
        raise TypeError(f"{type(problem).__name__} must keep its constructor argument {missing[0]!r} as an attribute "
                        f"of that name (or override hyperparameters()): a run's identity hashes every argument that "
                        f"defines the problem; got a {type(problem).__name__} without it.")
    return values


def _kept(problem: Any, name: str) -> Any:
    """The problem's attribute ``name`` (its own, else ``_name``, else its class's default when not a method)."""
    own = vars(problem)
    if name in own or "_" + name in own:
        return own.get(name, own.get("_" + name))
    value = getattr(type(problem), name, _MISSING)
    return _MISSING if inspect.isroutine(value) or isinstance(value, property) else value
