"""Curvature at a point: the sharpness, the Hessian's trace and the batch sharpness of a finite sum.

With H = ∇²F(θ) and Hessian-vector products Hv = d/dt ∇F(θ + tv) (``jax.jvp`` of ``jax.grad``, no
matrix formed):

* **sharpness** λ_max(H), the largest eigenvalue (not the largest in magnitude), by ARPACK's implicitly
  restarted Lanczos (``scipy.sparse.linalg.eigsh``, ``which="LA"``) on Hv, started from a given vector
  (the previous history row's eigenvector, so a run's rows warm-start each other). Gradient descent
  with a constant α is stable on a quadratic only while λ_max < 2/α; the edge of stability (Cohen et al.
  2021) is sharpness rising to 2/α and hovering there;
* **hessian_trace** tr(H) by Hutchinson's estimator: E[zᵀHz] = tr H for z with independent ±1 entries,
  the mean over ``probes`` draws with its standard error s/√probes;
* **batch_sharpness** E_B[g_Bᵀ H_B g_B] / E_B[‖g_B‖²] with g_B, H_B the gradient and Hessian of the
  minibatch loss F_B = (1/B) Σ_{i∈B} fᵢ (Andreyev and Beneventano 2024, "Edge of Stochastic
  Stability", arXiv:2412.20553): the curvature of minibatch losses along their own gradients, which
  stochastic runs drive to about 2/α where λ_max stays below; estimated from ``draws`` uniform
  B-subsets drawn without replacement.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg
from jax.flatten_util import ravel_pytree

from sgdlab._helpers import pytrees, validation
from sgdlab._helpers.aliases import Params
from sgdlab.problems.base import Problem
from sgdlab.problems.finite_sum import FiniteSum

#: ARPACK stops when the Ritz pair's residual is below this times the eigenvalue's size.
LANCZOS_TOL = 1e-10
#: Rademacher probes of Hutchinson's estimator at each recorded row.
TRACE_PROBES = 32
#: Minibatches drawn to estimate the batch sharpness at each recorded row.
BATCH_DRAWS = 32


@dataclasses.dataclass(frozen=True)
class Curvature:
    """The curvature of F at θ: ``sharpness`` λ_max(∇²F(θ)) with its unit ``eigenvector`` (flat), ``hessian_trace``
    with its standard error ``hessian_trace_se``, and ``batch_sharpness`` (NaN without a batch size)."""

    sharpness: float
    eigenvector: np.ndarray
    hessian_trace: float
    hessian_trace_se: float
    batch_sharpness: float

    #: The history columns a curvature fills.
    COLUMNS = ("sharpness", "hessian_trace", "hessian_trace_se", "batch_sharpness")

    def columns(self) -> dict[str, float]:
        """The history columns."""
        return {column: getattr(self, column) for column in self.COLUMNS}


def curvature(problem: Problem, params: Params, batch_size: int | None = None, seed: int = 0,
              start: np.ndarray | None = None) -> Curvature:
    """The sharpness, Hessian trace and batch sharpness of ``problem`` at ``params`` (see the module docstring).

    Parameters
    ----------
    problem : Problem
        A finite sum in memory (its F differentiable twice by JAX); any other problem is refused.
    params : pytree
        θ.
    batch_size : int, optional
        The run's B, for the batch sharpness (NaN when None or B ≥ N, where it is gᵀHg/‖g‖² of F itself
        only at B = N; it is computed there too).
    seed : int, default 0
        Seeds Hutchinson's probes and the minibatches.
    start : array, optional
        Lanczos' starting vector (flat, θ's size), e.g. the previous row's eigenvector.

    Returns
    -------
    Curvature

    Examples
    --------
    >>> import numpy as np
    >>> import sgdlab as sl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> problem = sl.least_squares(X, np.array([1.0, 2.0, 2.0]))
    >>> at = sl.theory.curvature(problem, np.zeros(2))
    >>> bool(np.isclose(at.sharpness, np.linalg.eigvalsh(X.T @ X / 3).max(), rtol=1e-10))
    True
    """
    problem = in_memory_sum(problem)
    params = pytrees.conform("params", params, problem.params0)
    top, vector = sharpness(problem, params, start)
    trace, error = hessian_trace(problem, params, TRACE_PROBES, seed)
    batch = float("nan") if batch_size is None else batch_sharpness(problem, params, batch_size, BATCH_DRAWS, seed)
    return Curvature(top, vector, trace, error, batch)


def in_memory_sum(problem: Problem) -> FiniteSum:
    """``problem``, checked to be a finite sum whose rows are all in this process's memory."""
    if not isinstance(problem, FiniteSum) or problem.on_disk or problem.is_sharded:
        validation.fail("problem", "a finite sum held in memory (the curvature is measured on all of its rows)",
                        f"{type(problem).__name__}" + (" with its data on disk or sharded"
                                                       if isinstance(problem, FiniteSum) else ""))
    return problem


def sharpness(problem: FiniteSum, params: Params, start: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(λ_max(∇²F(θ)), its unit eigenvector, flat) by Lanczos on Hessian-vector products (the module docstring)."""
    flat = ravel_pytree(params)[0]
    size = int(flat.size)
    product = problem.jitted(_hessian_vector)

    def apply(vector: np.ndarray) -> np.ndarray:
        return np.asarray(product(params, problem.data, jnp.asarray(vector, flat.dtype)), dtype=np.float64)

    if size == 1:
        return float(apply(np.ones(1))[0]), np.ones(1)
    operator = scipy.sparse.linalg.LinearOperator((size, size), matvec=apply, dtype=np.float64)
    v0 = _start(start, size)
    values, vectors = scipy.sparse.linalg.eigsh(operator, k=1, which="LA", v0=v0, tol=LANCZOS_TOL,
                                                ncv=min(size, 20), maxiter=100 * size)
    return float(values[0]), vectors[:, 0]


def _start(start: np.ndarray | None, size: int) -> np.ndarray:
    """Lanczos' start: the given vector nudged by a fixed random one (so that it is never orthogonal to the
    eigenvector sought, nor itself an eigenvector of a lower eigenvalue), else that random vector."""
    random = np.random.default_rng(0x5A4A).standard_normal(size)
    random /= np.linalg.norm(random)
    if start is None or np.shape(start) != (size,) or not np.all(np.isfinite(start)):
        return random
    return np.asarray(start, dtype=np.float64) / max(float(np.linalg.norm(start)), 1e-300) + 1e-3 * random


def _hessian_vector(problem: FiniteSum, params, data, vector):
    """∇²F(θ) v, flat, for the flat vector v."""
    unravel = ravel_pytree(params)[1]
    gradient = jax.grad(lambda p: problem.data_loss(p, data))
    return ravel_pytree(jax.jvp(gradient, (params,), (unravel(vector),))[1])[0]


def hessian_trace(problem: FiniteSum, params: Params, probes: int = TRACE_PROBES, seed: int = 0) -> tuple[float, float]:
    """(Hutchinson's estimate of tr ∇²F(θ), its standard error) from ``probes`` Rademacher vectors."""
    size = int(ravel_pytree(params)[0].size)
    signs = np.random.default_rng([seed, 0x7ACE]).integers(0, 2, size=(probes, size)) * 2.0 - 1.0
    quadratic = np.asarray(problem.jitted(_quadratic_forms)(params, problem.data, jnp.asarray(signs)))
    error = float(np.std(quadratic, ddof=1) / np.sqrt(probes)) if probes > 1 else float("nan")
    return float(np.mean(quadratic)), error


def _quadratic_forms(problem: FiniteSum, params, data, vectors):
    """zᵀ ∇²F(θ) z for each row z of ``vectors``."""
    flat = ravel_pytree(params)[0]
    return jax.lax.map(lambda z: jnp.vdot(z, _hessian_vector(problem, params, data, z.astype(flat.dtype))), vectors)


def batch_sharpness(problem: FiniteSum, params: Params, batch_size: int, draws: int = BATCH_DRAWS,
                    seed: int = 0) -> float:
    """E_B[g_Bᵀ H_B g_B] / E_B[‖g_B‖²] over ``draws`` uniform ``batch_size``-subsets (the module docstring); at
    B ≥ N the one batch is F itself."""
    n = int(problem.n)
    generator = np.random.default_rng([seed, 0xBA7C])
    if batch_size >= n:
        batches = np.arange(n)[None, :]
    else:
        batches = np.stack([generator.choice(n, size=batch_size, replace=False) for _ in range(draws)])
    curvatures, squares = np.asarray(problem.jitted(_along_batch_gradients)(params, problem.data, jnp.asarray(batches)))
    total = float(np.sum(squares))
    return float(np.sum(curvatures)) / total if total > 0 else float("nan")


def _along_batch_gradients(problem: FiniteSum, params, data, batches):
    """(g_Bᵀ H_B g_B, ‖g_B‖²) for each row B of ``batches``."""

    def one(batch):
        def loss(p):
            return problem.masked_loss(p, data, batch, jnp.ones(batch.shape, dtype=bool))

        gradient = ravel_pytree(jax.grad(loss)(params))[0]
        unravel = ravel_pytree(params)[1]
        curved = ravel_pytree(jax.jvp(jax.grad(loss), (params,), (unravel(gradient),))[1])[0]
        return jnp.vdot(gradient, curved), jnp.vdot(gradient, gradient)

    return jax.lax.map(one, batches)
