"""Splitting a data set into parts (train, test, …): disjoint random subsets of the rows, optionally
stratified by class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sgdlab._helpers import validation


def split(X: Any, y: Any, fractions: Sequence[float] = (0.8, 0.2), seed: int = 0,
          stratify: Any = None) -> list[tuple[Any, np.ndarray]]:
    """Split the rows of (X, y) into disjoint random parts of the given fractions.

    Part k > 0 gets ⌈fₖ·n⌉ rows and the first part the rest (for two parts the sizes of scikit-learn's
    ``train_test_split(test_size=f₁)``, stratified or not); with ``stratify`` (True for y's classes, or any
    labels) each part takes its rows class by class, ⌊fₖ·m_c⌋ of class c's m_c rows and one more for the classes
    with the largest remainders fₖ·m_c − ⌊fₖ·m_c⌋ until the part has its size, so every part keeps the classes'
    proportions to within a row. The rows are drawn by a permutation from ``np.random.default_rng(seed)``; each
    part keeps them in that drawn order.

    Parameters
    ----------
    X : array or scipy sparse matrix, N rows
    y : array, N entries
    fractions : sequence of float, default (0.8, 0.2)
        At least two positive fractions summing to 1.
    seed : int, default 0
    stratify : None, True or array of N labels, optional

    Returns
    -------
    list of (X_part, y_part)
        One pair a fraction, in their order.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> (X_train, y_train), (X_test, y_test) = sl.data.split(np.arange(20).reshape(10, 2), np.arange(10))
    >>> len(y_train), len(y_test)
    (8, 2)
    """
    y = np.asarray(y)
    n = _rows(X, y)
    parts = _fractions(fractions)
    seed = validation.integer("seed", seed, low=0, high=2**32 - 1)
    order = np.random.default_rng(seed).permutation(n)
    labels = _labels(stratify, y, n)
    sizes = _sizes(n, parts)
    if labels is None:
        pieces = np.split(order, np.cumsum(sizes)[:-1])
    else:
        classes = np.unique(labels)
        rows = [order[labels[order] == label] for label in classes]
        counts = _class_sizes(np.array([len(part) for part in rows]), parts, sizes)
        for label, class_counts in zip(classes, counts, strict=True):
            if min(class_counts) < 1:
                validation.fail("fractions", f"fractions that leave every part of class {label!r} (m="
                                f"{sum(class_counts)} rows of N={n}) non-empty", str(tuple(parts)))
        by_class = [np.split(part, np.cumsum(class_counts)[:-1]) for part, class_counts in zip(rows, counts,
                                                                                             strict=True)]
        pieces = [np.concatenate([cut[k] for cut in by_class]) for k in range(len(parts))]
        pieces = [order[np.isin(order, piece)] for piece in pieces]   # back in the drawn order
    return [(X[piece], y[piece]) for piece in pieces]


def _rows(X: Any, y: np.ndarray) -> int:
    """N, the rows of X, checked against y's length."""
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    if y.ndim != 1 or len(y) != n:
        validation.fail("y", f"a 1-D array with one entry a row of X (N={n})", f"shape {y.shape}")
    return n


def _fractions(fractions: Any) -> list[float]:
    """At least two positive fractions summing to 1 (within 1e-9)."""
    allowed = "at least two positive fractions summing to 1, e.g. (0.8, 0.2)"
    try:
        parts = [float(f) for f in fractions]
    except (TypeError, ValueError):
        validation.fail("fractions", allowed, validation.shown(fractions), error=TypeError)
    if len(parts) < 2 or min(parts) <= 0 or not math.isclose(sum(parts), 1.0, abs_tol=1e-9):
        validation.fail("fractions", allowed, validation.shown(fractions))
    return parts


def _labels(stratify: Any, y: np.ndarray, n: int) -> np.ndarray | None:
    """The labels to stratify by: None, y's (stratify=True), or the array given (N entries)."""
    if stratify is None or stratify is False:
        return None
    labels = y if stratify is True else np.asarray(stratify)
    if labels.shape != (n,):
        validation.fail("stratify", f"None, True or N={n} labels", f"shape {labels.shape}")
    return labels


def _sizes(n: int, parts: list[float]) -> list[int]:
    """The rows of each part of n: ⌈f·n⌉ for each part after the first, the rest for the first."""
    sizes = [math.ceil(f * n - 1e-9) for f in parts[1:]]
    first = n - sum(sizes)
    if first < 1 or min(sizes) < 1:
        validation.fail("fractions", f"fractions that leave every part of the data (m={n} rows of N={n}) non-empty",
                        str(tuple(parts)))
    return [first, *sizes]


def _class_sizes(counts: np.ndarray, parts: list[float], sizes: list[int]) -> list[list[int]]:
    """Each class's rows in each part (one list a class): for part k > 0, ⌊fₖ·m_c⌋ and one more for the classes of
    largest remainder (the first in class order on ties) until the part holds sizes[k]; the first part the rest."""
    taken = np.zeros((len(counts), len(parts)), dtype=np.int64)
    for k, fraction in enumerate(parts[1:], start=1):
        quotas = fraction * counts
        taken[:, k] = np.floor(quotas + 1e-9)
        missing = sizes[k] - int(taken[:, k].sum())
        taken[np.argsort(-(quotas - taken[:, k]), kind="stable")[:missing], k] += 1
    taken[:, 0] = counts - taken[:, 1:].sum(axis=1)
    return taken.tolist()
