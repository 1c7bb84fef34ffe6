"""Validation at the boundary, with one message shape.

Every error says which parameter, what is allowed and what was given::

    ValueError: batch_size must be an integer in [1, N=569] for without_replacement; got 1000.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import numpy as np

#: The package's folder: a warning is attributed to the first frame outside it (the user's call).
_PACKAGE = str(Path(__file__).resolve().parents[1])


class InvalidValue(ValueError):
    """A value the user gave is outside what is allowed (the message says both)."""


class InvalidType(TypeError):
    """A value the user gave is of a type that is not allowed (the message says both)."""


def fail(name: str, allowed: str, got: str, *, error: type[Exception] = ValueError, context: str = "") -> NoReturn:
    """Raise the house message: '<name> must be <allowed>[ for <context>]; got <got>.'

    ``got`` is text: a description ("shape (4,)") or a value shown with :func:`shown`. ``error``
    ValueError raises InvalidValue and TypeError raises InvalidType, so callers can tell a refused
    input from a failure inside a library.
    """
    where = f" for {context}" if context else ""
    raise (InvalidType if error is TypeError else InvalidValue)(f"{name} must be {allowed}{where}; got {got}.")


def warn(message: str, category: type[Warning]) -> None:
    """Warn, attributing the warning to the user's line: the first caller outside the sgdlab package."""
    level = 2
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


def shown(value: Any) -> str:
    """A user's value as an error message shows it: repr, shortened; arrays by shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def integer(name: str, value: Any, *, low: int = 1, high: int | None = None, context: str = "") -> int:
    """Return ``value`` as an int in [low, high], else raise naming ``name``."""
    allowed = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, allowed, shown(value), error=TypeError, context=context)
    number = int(value)
    if number < low or (high is not None and number > high):
        fail(name, allowed, shown(value), context=context)
    return number


def real(name: str, value, *, allowed: str, accept, context: str = "") -> float:
    """Return ``value`` as a float for which ``accept`` holds, else raise naming ``name`` and ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, allowed, shown(value), error=TypeError, context=context)
    value = float(value)
    if not (np.isfinite(value) and accept(value)):
        fail(name, allowed, shown(value), context=context)
    return value


def positive_float(name: str, value, *, context: str = "") -> float:
    """A finite float > 0."""
    return real(name, value, allowed="a positive finite number", accept=lambda v: v > 0, context=context)


def nonnegative_float(name: str, value, *, context: str = "") -> float:
    """A finite float >= 0."""
    return real(name, value, allowed="a finite number >= 0", accept=lambda v: v >= 0, context=context)


def fraction(name: str, value, *, context: str = "") -> float:
    """A float in (0, 1)."""
    return real(name, value, allowed="a number in (0, 1)", accept=lambda v: 0 < v < 1, context=context)


def finite_array(name: str, value, *, ndim: int | None = None, dtype=None) -> np.ndarray:
    """Return ``value`` as a non-empty NumPy array of finite numbers, else raise naming ``name``.

    Integer and boolean input becomes float64; float32 and float64 keep their precision.
    """
    if np.iscomplexobj(value):
        fail(name, "an array of real numbers", f"complex values (dtype {np.asarray(value).dtype})", error=TypeError)
    raw = np.asarray(value)
    if raw.size and (raw.dtype.kind in "US" or isinstance(raw.flat[0], str)):
        fail(name, "an array of numbers", f"text values such as {str(raw.flat[0])!r}", error=TypeError)
    try:
        array = raw if dtype is None else raw.astype(dtype)
    except (TypeError, ValueError):
        fail(name, "an array of numbers", shown(value), error=TypeError)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        fail(name, "an array of numbers", shown(value), error=TypeError)
    if dtype is None and not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if ndim is not None and array.ndim != ndim:
        fail(name, f"a {ndim}-D array", f"a {array.ndim}-D array of shape {array.shape}")
    if array.size == 0:
        fail(name, "non-empty", f"an empty array of shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        fail(name, "finite (no NaN or inf)", f"{array[where]} at index {where}")
    return array


def same_length(names: tuple[str, str], lengths: tuple[int, int]) -> None:
    """Raise when two arrays that pair up row by row have different lengths."""
    (a, b), (na, nb) = names, lengths
    if na != nb:
        fail(f"{a} and {b}", f"of the same length (one row of {a} per entry of {b})",
             f"len({a})={na}, len({b})={nb}")
