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
    """The monomials 1, x, …, x^degree."""
    return Polynomial(validation.integer("degree", degree, low=0, context="polynomial"))


def fourier(n: int, period: float | None = None) -> Fourier:
    """A constant and n harmonics of period P (default: the span of the training x)."""
    n = validation.integer("n", n, context="fourier")
    return Fourier(n, None if period is None else validation.positive_float("period", period, context="fourier"))


def gaussian_rbf(centers, width: float) -> GaussianRBF:
    """Gaussian bumps of a common ``width`` at each of ``centers``."""
    centers = validation.finite_array("centers", np.atleast_1d(np.asarray(centers, dtype=float)), ndim=1)
    return GaussianRBF(tuple(centers.tolist()), validation.positive_float("width", width, context="gaussian_rbf"))


class CurveFit(LeastSquares):
    """F(θ) = (1/2N) Σᵢ (Σⱼ θⱼ φⱼ(xᵢ) − yᵢ)², least squares on the basis features of x."""

    def __init__(self, x, y, basis: Basis):
        if not isinstance(basis, Basis):
            validation.fail("basis", "a basis such as sl.polynomial(3), sl.fourier(5) or sl.gaussian_rbf(c, w)",
                            validation.shown(basis), error=TypeError)
        x = validation.finite_array("x", x, ndim=1)
        self.basis = basis.fitted(x)
        super().__init__(self.basis.features(x), y)

    def predict(self, params, x) -> np.ndarray:
        """The fitted curve Σⱼ θⱼ φⱼ(x) at new inputs x."""
        return self.basis.features(validation.finite_array("x", x, ndim=1)) @ np.asarray(params)


def curve_fit(x, y, basis: Basis | None = None) -> CurveFit:
    """Fit y ≈ Σⱼ θⱼ φⱼ(x) by least squares; ``basis`` defaults to a straight line, polynomial(1)."""
    return CurveFit(x, y, polynomial(1) if basis is None else basis)
