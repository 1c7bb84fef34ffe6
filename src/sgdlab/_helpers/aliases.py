"""Type aliases for the public API's annotations."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import scipy.sparse
from numpy.typing import ArrayLike

#: A parameter pytree θ: an array, or a (nested) dict, list or tuple of arrays.
Params = Any
#: A pytree of arrays sharing a leading axis of length N (a finite sum's rows), or one example of it.
Data = Any
#: A design matrix X: anything NumPy reads as an N × p array, or a SciPy sparse matrix (kept as CSR).
Features = ArrayLike | scipy.sparse.spmatrix | scipy.sparse.sparray
#: A per-example loss ``loss(params, example) -> scalar`` (or ``loss(params, omega)``), in ``jax.numpy``.
ExampleLoss = Callable[[Any, Any], Any]
#: A file path.
PathLike = str | os.PathLike

__all__ = ["ArrayLike", "Data", "ExampleLoss", "Features", "Params", "PathLike"]
