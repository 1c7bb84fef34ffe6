"""The gradient-noise scale: how large a batch must be before its gradient is mostly signal.

With per-example gradients gᵢ = ∇fᵢ(θ), their mean G = ∇F(θ) and their covariance over the
data Σ = (1/N) Σᵢ (gᵢ − G)(gᵢ − G)ᵀ, a uniform batch of B examples has E‖g_B − G‖² ≈ tr(Σ)/B. The
simple noise scale of McCandlish et al. (2018, "An Empirical Model of Large-Batch Training")

    B_simple = tr(Σ) / ‖G‖²

is the batch size at which that noise equals the squared signal: well below it, doubling B nearly
halves the steps needed; well above it, larger batches buy little per example.

Computed exactly over all N examples (two passes: G, then Σᵢ ‖gᵢ − G‖²) when N ≤ exact_max, else
from a uniform random subset S of m examples drawn without replacement, with the unbiased
estimators of sampling without replacement (s² the sample covariance, divisor m − 1):

    tr Σ ≈ (N − 1)/N · tr s²,     ‖G‖² ≈ ‖ḡ_S‖² − (1/m − 1/N) tr s²,

and their standard errors: sd(‖gᵢ − ḡ_S‖²)·√((1 − m/N)/m) for tr s², and by the delta method
2 √((1 − m/N)/m · ḡ_Sᵀ s² ḡ_S) for ‖ḡ_S‖².
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Params
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum
from sgdlab.samplers import draws

#: Per-example gradients are computed this many examples at a time (bounds the memory to chunk × parameters).
CHUNK = 2048
#: Up to this many examples, noise_scale is exact by default.
EXACT_MAX = 100_000
#: The subset size by default above EXACT_MAX.
SUBSET = 8192


@dataclasses.dataclass(frozen=True)
class NoiseScale:
    """‖∇F‖², tr(Σ) and B_simple = tr(Σ)/‖∇F‖² at θ, from ``examples`` examples (all N when
    ``exact``), with standard errors (0 when exact)."""

    grad_norm_squared: float
    trace_covariance: float
    b_simple: float
    examples: int
    exact: bool
    grad_norm_squared_se: float
    trace_covariance_se: float

    def __str__(self) -> str:
        source = f"all {self.examples} examples" if self.exact else f"a random subset of {self.examples} examples"
        return (f"‖∇F‖² = {self.grad_norm_squared:.4g}, tr Σ = {self.trace_covariance:.4g}, "
                f"B_simple = {self.b_simple:.4g} (from {source})")


def noise_scale(problem: Problem, params: Params | None = None, subset: int | None = None, seed: int = 0,
                exact_max: int = EXACT_MAX) -> NoiseScale:
    """The gradient-noise scale at θ = ``params`` (default θ⁰): exact over all N examples when no
    ``subset`` is asked for and N ≤ max(``exact_max``, SUBSET); else from a uniform subset of
    ``subset`` examples (default SUBSET) drawn with ``seed``.

    Parameters
    ----------
    problem : FiniteSum
        The problem (its per-example gradients define Σ).
    params : pytree, optional
        θ (default θ⁰).
    subset : int, optional
        Estimate from this many examples drawn without replacement.
    seed : int, default 0
        Seeds the subset.
    exact_max : int, default EXACT_MAX
        Up to this N (or SUBSET) every example is used.

    Returns
    -------
    NoiseScale
        ‖∇F‖², tr Σ = (1/N) Σᵢ ‖∇fᵢ − ∇F‖² and B_simple = tr Σ/‖∇F‖², with standard errors for a subset.

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> scale = sl.theory.noise_scale(problem)   # ∇fᵢ(0) = −yᵢxᵢ: (−1, 0), (0, −4), (−2, −2)
    >>> round(scale.grad_norm_squared, 9), round(scale.trace_covariance, 9), round(scale.b_simple, 9)
    (5.0, 3.333333333, 0.666666667)
    """
    if not isinstance(problem, FiniteSum):
        validation.fail("problem", "a finite sum (its per-example gradients define Σ)", validation.shown(problem),
                        error=TypeError)
    params = problem.params0 if params is None else pytrees.conform("params", params, problem.params0)
    n = problem.n
    exact_max = validation.integer("exact_max", exact_max, low=0)
    if subset is None and (n <= exact_max or n <= SUBSET):
        return _exact(problem, params)
    size = validation.integer("subset", SUBSET if subset is None else subset, low=2, high=n,
                              context=f"noise_scale (N={n})")
    chosen = draws.without_replacement(n, (1, size), validation.integer("seed", seed, low=0), 0)[0]
    return _from_subset(problem, params, np.sort(chosen))


def _exact(problem: FiniteSum, params) -> NoiseScale:
    n = problem.n
    mean = sum(_chunk_sums(problem, params, chunk)[0] for chunk in _chunks(np.arange(n))) / n
    spread = float(sum(_spread(problem, params, chunk, mean)[0] for chunk in _chunks(np.arange(n)))) / n
    signal = float(mean @ mean)
    return NoiseScale(signal, spread, _ratio(spread, signal), n, True, 0.0, 0.0)


def _from_subset(problem: FiniteSum, params, chosen: np.ndarray) -> NoiseScale:
    n, m = problem.n, chosen.size
    mean = sum(_chunk_sums(problem, params, chunk)[0] for chunk in _chunks(chosen)) / m
    parts = [_spread(problem, params, chunk, mean) for chunk in _chunks(chosen)]
    deviations = np.concatenate([part[1] for part in parts])            # ‖gᵢ − ḡ‖² for i in S
    along_mean = np.concatenate([part[2] for part in parts])            # (gᵢ − ḡ)·ḡ for i in S
    trace_s2 = float(deviations.sum()) / (m - 1)
    finite = (1 - m / n) / m
    trace = (n - 1) / n * trace_s2
    signal = float(mean @ mean) - (1 / m - 1 / n) * trace_s2
    trace_se = (n - 1) / n * float(np.std(deviations, ddof=1)) * math.sqrt(finite)
    signal_se = 2 * math.sqrt(finite * float(along_mean @ along_mean) / (m - 1))
    return NoiseScale(signal, trace, _ratio(trace, signal), m, False, signal_se, trace_se)


def _ratio(trace: float, signal: float) -> float:
    return trace / signal if signal > 0 else math.inf


def _chunks(indices: np.ndarray):
    return [indices[start:start + CHUNK] for start in range(0, indices.size, CHUNK)]


def example_gradients(problem: FiniteSum, params, indices: np.ndarray):
    """The flattened ∇fᵢ(θ) of ``indices``, in order: one NumPy block of rows per CHUNK indices."""
    for chunk in _chunks(indices):
        yield np.asarray(problem.jitted(_per_example_gradients)(params, problem.data, chunk))


def _chunk_sums(problem, params, chunk):
    gradients = np.asarray(problem.jitted(_per_example_gradients)(params, problem.data, chunk))
    return gradients.sum(axis=0), gradients


def _spread(problem, params, chunk, mean):
    """(Σᵢ ‖gᵢ − ḡ‖², the ‖gᵢ − ḡ‖², the (gᵢ − ḡ)·ḡ) over the chunk's examples."""
    centered = _chunk_sums(problem, params, chunk)[1] - mean
    deviations = np.einsum("ij,ij->i", centered, centered)
    return deviations.sum(), deviations, centered @ mean


def _per_example_gradients(problem, params, data, indices):
    """The flattened ∇fᵢ(θ) of each index, one row each."""

    def one(index):
        mask = jnp.ones((1,), dtype=bool)
        return ravel_pytree(jax.grad(problem.masked_loss)(params, data, index[None], mask))[0]

    return jax.vmap(one)(jnp.asarray(indices))
