"""sgdlab: the theory of (stochastic) gradient descent, made executable and fast, on JAX.

Importing sgdlab turns on JAX's 64-bit mode (``jax_enable_x64``) so that float64 data give a
float64 run, as the theory's checks need; float32 data still run in float32.
"""

import jax

jax.config.update("jax_enable_x64", True)

from sgdlab import constraints, problems, samplers, schedules, theory  # noqa: E402
from sgdlab.constraints import affine, ball, box, general_constraints, nonnegative, simplex  # noqa: E402
from sgdlab.minimize import Result, StepSizeWarning, maximize, minimize  # noqa: E402
from sgdlab.theory import check_step  # noqa: E402
from sgdlab.problems import (  # noqa: E402
    FiniteSum, Problem, curve_fit, finite_sum, fourier, gaussian_rbf, least_squares, logistic_regression,
    polynomial, softmax_regression,
)
from sgdlab.samplers import (  # noqa: E402
    cyclic, full_batch, shuffle_once, shuffled_cyclic, with_replacement, without_replacement,
)
from sgdlab.schedules import constant, cosine, inverse_sqrt, inverse_time, step_decay  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "problems", "samplers", "schedules",
    "Problem", "FiniteSum", "finite_sum", "least_squares", "logistic_regression", "softmax_regression",
    "curve_fit", "polynomial", "fourier", "gaussian_rbf",
    "full_batch", "with_replacement", "without_replacement", "cyclic", "shuffled_cyclic", "shuffle_once",
    "constant", "inverse_time", "inverse_sqrt", "step_decay", "cosine",
    "minimize", "maximize", "Result", "StepSizeWarning",
    "constraints", "box", "nonnegative", "ball", "simplex", "affine", "general_constraints",
    "theory", "check_step",
]
