"""Curve fitting: least squares on features of a scalar input, y ≈ Σⱼ θⱼ φⱼ(x).

F(θ) = (1/2N) ‖Φθ − y‖² with Φᵢⱼ = φⱼ(xᵢ), so everything least squares has applies: the closed-form
θ*, p*, L = λ_max(ΦᵀΦ)/N and every sampler. Bases:

| basis | φ(x) |
| --- | --- |
| ``polynomial(d)`` | 1, x, x², …, x^d |
| ``fourier(n, period=None)`` | 1, cos(2πkx/P), sin(2πkx/P) for k = 1..n; P defaults to the span of the training x |
| ``gaussian_rbf(centers, width)`` | exp(−(x − cⱼ)² / (2 width²)) for each center cⱼ |

High polynomial degrees on a wide range of x make Φ badly conditioned (κ grows fast), which slows
every first-order method; rescaling x to [−1, 1] first helps.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike

from sgdlab._helpers import validation
from sgdlab.problems.least_squares import LeastSquares


class Basis:
    """A list of functions φⱼ of a scalar x; ``features(x)`` is the N × m matrix Φ."""

    def features(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fitted(self, x: np.ndarray) -> Basis:
        """The basis with any scale it takes from the training inputs fixed (itself by default)."""
        return self


@dataclasses.dataclass(frozen=True)
class Polynomial(Basis):
    """φⱼ(x) = xʲ for j = 0..degree."""

    degree: int

    def features(self, x):
        return np.vander(x, self.degree + 1, increasing=True)


@dataclasses.dataclass(frozen=True)
class Fourier(Basis):
    """1, then cos(2πkx/P) and sin(2πkx/P) for k = 1..n."""

    n: int
    period: float | None = None

    def features(self, x):
        if self.period is None:
            raise ValueError("a Fourier basis has a period once fitted (basis.fitted(x)) or given")
        angles = 2 * np.pi * np.outer(x, np.arange(1, self.n + 1)) / self.period
        return np.column_stack([np.ones_like(x), np.cos(angles), np.sin(angles)])

    def fitted(self, x):
        if self.period is not None:
            return self
        span = float(np.ptp(x))
        if span == 0:
            validation.fail("x", "at least two distinct values (the default period is their span)", "all equal",
                            context="fourier")
        return Fourier(self.n, span)


@dataclasses.dataclass(frozen=True)
class GaussianRBF(Basis):
    """φⱼ(x) = exp(−(x − cⱼ)² / (2 width²))."""

    centers: tuple
    width: float

    def features(self, x):
        return np.exp(-((x[:, None] - np.asarray(self.centers)[None, :]) ** 2) / (2 * self.width**2))


def polynomial(degree: int) -> Polynomial:
    """The monomials 1, x, …, x^degree, a basis for :func:`curve_fit`.

    Parameters
    ----------
    degree : int
        The highest power, ≥ 0.

    Returns
    -------
    Polynomial
        The basis (degree + 1 features).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> x = np.linspace(0.0, 1.0, 20)
    >>> fit = sl.curve_fit(x, 1 + 2 * x - x**2, sl.polynomial(2))
    >>> np.round(fit.solution(), 6).tolist()
    [1.0, 2.0, -1.0]
    """
    return Polynomial(validation.integer("degree", degree, low=0, context="polynomial"))


def fourier(n: int, period: float | None = None) -> Fourier:
    """A constant and n harmonics, 1, cos(2πkx/P), sin(2πkx/P) for k = 1, …, n, a basis for :func:`curve_fit`.

    Parameters
    ----------
    n : int
        The number of harmonics, ≥ 1.
    period : float, optional
        P > 0; by default the span of the training x.

    Returns
    -------
    Fourier
        The basis (2n + 1 features).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> x = np.linspace(0.0, 1.0, 20)
    >>> fit = sl.curve_fit(x, np.sin(2 * np.pi * x), sl.fourier(1))
    >>> fit.basis.period, (np.round(fit.solution(), 6) + 0.0).tolist()   # + 0.0: no negative zeros
    (1.0, [0.0, 0.0, 1.0])
    """
    n = validation.integer("n", n, context="fourier")
    return Fourier(n, None if period is None else validation.positive_float("period", period, context="fourier"))


def gaussian_rbf(centers: ArrayLike, width: float) -> GaussianRBF:
    """Gaussian bumps exp(−(x − c)²/(2w²)) of a common width w at each center c, a basis for :func:`curve_fit`.

    Parameters
    ----------
    centers : array
        The centers c (finite).
    width : float
        w > 0.

    Returns
    -------
    GaussianRBF
        The basis (one feature a center).

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> x = np.linspace(0.0, 1.0, 20)
    >>> fit = sl.curve_fit(x, np.exp(-(x - 0.5) ** 2 / 0.02), sl.gaussian_rbf([0.5], 0.1))
    >>> np.round(fit.solution(), 6).tolist()
    [1.0]
    """
    centers = validation.finite_array("centers", np.atleast_1d(np.asarray(centers, dtype=float)), ndim=1)
    return GaussianRBF(tuple(centers.tolist()), validation.positive_float("width", width, context="gaussian_rbf"))


class CurveFit(LeastSquares):
    """F(θ) = (1/2N) Σᵢ (Σⱼ θⱼ φⱼ(xᵢ) − yᵢ)², least squares on the basis features of x."""

    native_loss = "squared"
    exact_lipschitz = True
    convex_terms = True
    quadratic_terms = True

    def __init__(self, x, y, basis: Basis, sample_weight=None):
        if not isinstance(basis, Basis):
            validation.fail("basis", "a basis such as sl.polynomial(3), sl.fourier(5) or sl.gaussian_rbf(c, w)",
                            validation.shown(basis), error=TypeError)
        x = validation.finite_array("x", x, ndim=1)
        self.basis = basis.fitted(x)
        super().__init__(self.basis.features(x), y, sample_weight)

    def with_data(self, X, y) -> CurveFit:
        """The same fit (its basis, with a Fourier period fixed by the training x) on other points: here X is
        the one-dimensional x."""
        return CurveFit(X, y, self.basis)

    def predict(self, params, x) -> np.ndarray:
        """The fitted curve Σⱼ θⱼ φⱼ(x) at new inputs x."""
        return self.basis.features(validation.finite_array("x", x, ndim=1)) @ np.asarray(params)


def curve_fit(x: ArrayLike, y: ArrayLike, basis: Basis | None = None,
              sample_weight: ArrayLike | None = None) -> CurveFit:
    """Fit y ≈ Σⱼ θⱼ φⱼ(x) by least squares: F(θ) = (1/2N) Σᵢ (Σⱼ θⱼ φⱼ(xᵢ) − yᵢ)²; with weights wᵢ,
    Σᵢ wᵢ ½(Σⱼ θⱼ φⱼ(xᵢ) − yᵢ)² / Σᵢ wᵢ (the rows scaled as in :func:`least_squares`).

    Parameters
    ----------
    x : array, N
        The inputs (one-dimensional).
    y : array, N
        The values to fit.
    basis : Basis, default ``polynomial(1)``
        The features φⱼ: :func:`polynomial`, :func:`fourier` or :func:`gaussian_rbf`.
    sample_weight : array of N nonnegative numbers, optional
        wᵢ, as scikit-learn's ``fit(sample_weight=)``.

    Returns
    -------
    CurveFit
        A least-squares problem on the features, with ``predict(params, x)`` the fitted curve.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> x = np.linspace(0.0, 1.0, 20)
    >>> line = sl.curve_fit(x, 3 * x + 1)
    >>> np.round(line.predict(line.solution(), [2.0]), 6).tolist()
    [7.0]
    """
    return CurveFit(x, y, polynomial(1) if basis is None else basis, sample_weight)
